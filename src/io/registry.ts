import {createHash} from 'node:crypto';
import {mkdir, readFile, readdir, rename, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {encodePath} from '../core/bytes.js';
import type {LowerLayer, OverlayMount, Strategy} from '../core/types.js';

/** What ovl remembers about a mount it made; mountinfo stays the source of truth. */
export type MountRecord = {
	readonly schema: 'ovl.mount/v1';
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
export const registryDir = (): string => process.env['OVL_RUN_DIR'] ?? '/run/ovl';

const fileFor = (merged: string): string =>
	path.join(registryDir(), `${createHash('sha256').update(encodePath(merged)).digest('hex').slice(0, 24)}.json`);

export async function writeRecord(record: MountRecord): Promise<void> {
	await mkdir(registryDir(), {recursive: true, mode: 0o755});
	const file = fileFor(record.merged);
	const tmp = `${file}.${process.pid}.tmp`;
	await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, {mode: 0o644});
	await rename(tmp, file);
}

export async function removeRecord(merged: string): Promise<void> {
	await rm(fileFor(merged), {force: true});
}

export async function readRecord(merged: string): Promise<MountRecord | undefined> {
	try {
		const rec = JSON.parse(await readFile(fileFor(merged), 'utf8')) as MountRecord;
		return rec.schema === 'ovl.mount/v1' && rec.merged === merged ? rec : undefined;
	} catch {
		return undefined;
	}
}

export async function readRegistry(): Promise<MountRecord[]> {
	const names = await readdir(registryDir()).catch(() => [] as string[]);
	const records = await Promise.all(
		names
			.filter((n) => n.endsWith('.json'))
			.map(async (n) => {
				try {
					const rec = JSON.parse(await readFile(path.join(registryDir(), n), 'utf8')) as MountRecord;
					return rec.schema === 'ovl.mount/v1' ? rec : undefined;
				} catch {
					return undefined;
				}
			}),
	);
	return records.filter((r): r is MountRecord => r !== undefined);
}
