import {mkdir, readFile, readdir, rename, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {sha256Hex} from '../core/path-key.js';
import {encodePath} from '../core/bytes.js';
import type {LowerLayer, OverlayMount, Strategy} from '../core/types.js';

/** What ovl remembers about a mount it made; mountinfo stays the source of truth. */
export const recordSchema = 'ovl.registry-record/v1';

export type MountRecord = {
	readonly schema: typeof recordSchema;
	readonly merged: string;
	/** Absolute canonical paths, bottom→top. */
	readonly lowers: readonly LowerLayer[];
	readonly upper?: string;
	readonly work?: string;
	readonly options: string;
	readonly strategy: Strategy;
	readonly cwd?: string;
	readonly mountId: number;
	/** Layer strings as mountinfo shows them (top-first lowers, then upper, work): with mountId, ties the record to this very mount. */
	readonly recorded: readonly string[];
	readonly mountedAt: string;
};

/** The record for a mount, only if it describes that very mount (mount ids are reused after umount). */
export function recordFor(records: readonly MountRecord[], o: OverlayMount): MountRecord | undefined {
	const recorded = [
		...o.layers.lowers.map((l) => l.path),
		...(o.layers.upper === undefined ? [] : [o.layers.upper]),
		...(o.layers.work === undefined ? [] : [o.layers.work]),
	];
	return records.find(
		(r) =>
			r.merged === o.entry.mountPoint &&
			r.mountId === o.entry.mountId &&
			r.recorded.length === recorded.length &&
			r.recorded.every((x, i) => x === recorded[i]),
	);
}

// /run is a tmpfs: records vanish at reboot along with the mounts they describe.
export const defaultRegistryDir = (env: NodeJS.ProcessEnv): string => env['OVL_RUN_DIR'] ?? '/run/ovl';

/** The records ovl keeps in one directory (and its locks/ subdirectory). */
export type Registry = {
	readonly dir: string;
	write(record: MountRecord): Promise<void>;
	remove(merged: string): Promise<void>;
	read(merged: string): Promise<MountRecord | undefined>;
	list(): Promise<MountRecord[]>;
};

// Records written before the registry had a schema id of its own carry the `ovl mount --json` one.
const isRecord = (rec: {schema?: unknown}): boolean => rec.schema === recordSchema || rec.schema === 'ovl.mount/v1';

export function openRegistry(dir: string): Registry {
	const fileFor = (merged: string): string => path.join(dir, `${sha256Hex(encodePath(merged)).slice(0, 24)}.json`);
	const parse = async (file: string): Promise<MountRecord | undefined> => {
		try {
			const rec = JSON.parse(await readFile(file, 'utf8')) as MountRecord;
			return isRecord(rec) ? rec : undefined;
		} catch {
			return undefined;
		}
	};
	return {
		dir,
		write: async (record) => {
			await mkdir(dir, {recursive: true, mode: 0o755});
			const file = fileFor(record.merged);
			const tmp = `${file}.${process.pid}.tmp`;
			await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, {mode: 0o644});
			await rename(tmp, file);
		},
		remove: async (merged) => rm(fileFor(merged), {force: true}),
		read: async (merged) => {
			const rec = await parse(fileFor(merged));
			return rec?.merged === merged ? rec : undefined;
		},
		list: async () => {
			const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
			const records = await Promise.all(names.map((n) => parse(path.join(dir, n))));
			return records.filter((r): r is MountRecord => r !== undefined);
		},
	};
}
