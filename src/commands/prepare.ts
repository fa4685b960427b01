import {realpath, rmdir} from 'node:fs/promises';
import path from 'node:path';
import type {Context} from '../context.js';
import {emit} from '../output.js';
import {preparedText} from '../ui/prepare-text.js';
import {decodePath, encodePath, hasRawBytes, printablePath} from '../core/bytes.js';
import {InterruptedError, OvlError, UsageError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {parsePutArg, planLayout} from '../core/layout.js';
import {parseOptionArg} from '../core/options.js';
import {parseSeedFile} from '../core/seed-file.js';
import {renderStackFile, stackFileName} from '../core/stack-file.js';
import {isSameOrInside} from '../core/paths.js';
import {openRoot, readFileIn, readUserFile, type Dir} from '../io/beneath.js';
import {Creation, makeParents, missingDirs} from '../io/layout-fs.js';
import {gatherHostFacts} from '../io/probe.js';
import type {Registry} from '../io/registry.js';
import {markComplete, onInterrupt} from '../interrupt.js';
import type {TarCheck} from '../docker/layer-tar.js';

export type PrepareOptions = {
	readonly dir: string;
	readonly lowers: readonly string[];
	readonly upper: string | undefined;
	readonly work: string | undefined;
	readonly merged: string;
	readonly options: readonly string[];
	readonly puts: readonly string[];
	readonly seedFile: string | undefined;
	readonly force: boolean;
	/** OCI/Docker layer tarballs, bottom → top, unpacked into layer1, layer2, … */
	readonly layerTars: readonly string[];
};

const maxStackFile = 1 << 20;
const maxSeedFile = 16 << 20;

type Imported = {file: string; layer: string; entries?: number; whiteouts?: number; opaques?: number; skipped?: string};

/** `ovl prepare`: directories plus ovl.yaml, idempotent, nothing written outside <dir>, nothing through a link. */
export async function prepareCommand(o: PrepareOptions, ctx: Context): Promise<void> {
	if (o.layerTars.length > 0 && o.lowers.length > 0)
		throw new UsageError(
			'give lowers either as --lower names or as --layer-tar files',
			'with --layer-tar the lowers are named layer1, layer2, … bottom → top',
		);
	const lowers =
		o.layerTars.length > 0
			? o.layerTars.map((_, i) => `layer${i + 1}`)
			: o.lowers.length > 0
				? o.lowers
				: ['lower1', 'lower2'];
	const seed: Record<string, Record<string, string>> = {};
	if (o.seedFile !== undefined) {
		const file = path.resolve(ctx.cwd, o.seedFile);
		Object.assign(seed, parseSeedFile(readUserFile(file, maxSeedFile, 'seed file'), printablePath(file)));
	}
	for (const put of o.puts) {
		const [layer, file, text] = parsePutArg(put, [...lowers, ...(o.upper === undefined ? [] : [o.upper])]);
		seed[layer] = {...seed[layer], [file]: text};
	}
	const requested = path.resolve(ctx.cwd, o.dir);
	const names = [...lowers, o.upper, o.work, o.merged, ...Object.values(seed).flatMap((f) => Object.keys(f))].filter(
		(n): n is string => n !== undefined,
	);
	const odd = names.find(hasRawBytes);
	if (odd !== undefined)
		throw new UsageError(
			`"${printablePath(odd)}" is not valid UTF-8; ovl.yaml is UTF-8 text and cannot name it`,
			'use UTF-8 names in a stack; ovl mount --lower/--upper takes any bytes',
			'OVL_PATH_NOT_UTF8',
		);
	const layout = planLayout(requested, {
		lowers,
		upper: o.upper,
		work: o.work,
		merged: o.merged,
		options: o.options.map(parseOptionArg),
		seed,
	});
	const text = renderStackFile(layout);
	const tars = o.layerTars.length > 0 ? await import('../docker/layer-tar.js') : undefined;
	const importer = o.layerTars.length > 0 ? await import('../docker/layer-import.js') : undefined;
	// Check every tarball before anything is written: a hostile third layer must not leave two behind.
	const checks: TarCheck[] = [];
	for (const file of o.layerTars)
		checks.push(await (tars as typeof import('../docker/layer-tar.js')).checkLayerTar(path.resolve(ctx.cwd, file)));

	// Registered before the first write: a signal at any point removes what this run made. The
	// dirs of `mkdir -p <dir>` are known before it runs, so a signal while it runs (before its
	// result is known) still removes them, each only if it is empty: once it has finished, and the
	// run stops before its first write (left running with nothing undone, it could reach its
	// commit before the handler's exit 130).
	let creation: Creation | undefined;
	let making: Promise<boolean> | undefined;
	let stopped = false;
	const missing = missingDirs(requested);
	const release = onInterrupt(async () => {
		stopped = true;
		if (creation === undefined) await making?.catch(() => false);
		creation?.undo();
		for (const d of [...missing].reverse()) await rmdir(encodePath(d)).catch(() => undefined);
	});
	let madeRoot = false;
	let root: Dir;
	try {
		making = makeParents(requested);
		madeRoot = await making;
		root = openPreparedRoot(requested);
	} catch (error) {
		release();
		throw error;
	}
	creation = new Creation(root, madeRoot ? requested : undefined);
	try {
		if (stopped) throw new InterruptedError(); // the signal came while mkdir -p ran
		const existingBytes = readFileIn(root, stackFileName, maxStackFile);
		const existing = existingBytes?.toString('utf8');
		if (existing !== undefined && existing !== text && !o.force) {
			throw new OvlError(
				'OVL_STACK_EXISTS',
				`${printablePath(path.join(requested, stackFileName))} exists with a different stack`,
				'pass --force to rewrite it (layer directories and their files are kept), or choose another directory',
				{exitCode: exitCodes.usage},
			);
		}
		const changing = creation.changedSeedLayers(layout.seed);
		if (changing.length > 0)
			await refuseIfMounted(
				decodePath(await realpath(encodePath(requested), {encoding: 'buffer'})),
				changing,
				ctx.deps.registry,
			);
		for (const name of [...layout.lowers.map((l) => l.path), layout.upper, layout.work, layout.merged]) {
			if (name !== undefined) creation.ensureDir(name);
		}
		const written: string[] = [];
		for (const [layer, files] of Object.entries(layout.seed)) {
			for (const [file, contents] of Object.entries(files)) {
				if (creation.writeFile(path.posix.join(layer, file), contents)) written.push(path.posix.join(layer, file));
			}
		}
		const imported: Imported[] = [];
		const ns = layout.options.some((x) => x.key === 'userxattr') ? 'user' : 'trusted';
		for (const [i, file] of o.layerTars.entries()) {
			const layer = lowers[i] as string;
			const check = checks[i] as TarCheck;
			const outcome = await (importer as typeof import('../docker/layer-import.js')).importLayerTar(
				path.resolve(ctx.cwd, file),
				check,
				{
					root,
					layer,
					ns,
					creation,
				},
			);
			imported.push({file, layer, ...outcome});
		}
		if (existing !== text) creation.writeFile(stackFileName, text);
		creation.done();
		markComplete();
		const result = {
			schema: 'ovl.prepare/v1',
			dir: requested,
			stackFile: path.join(requested, stackFileName),
			created: creation.created,
			seeded: written,
			imported,
			stack: layout,
		};
		emit(ctx, {
			json: result,
			plain: () => ({out: preparedText({...result, unchanged: existing === text, next: o.dir}, ctx.style)}),
		});
	} catch (error) {
		creation.undo();
		throw error;
	} finally {
		release();
		root.close();
	}
}

/** The prepared directory, opened without following a final symlink: `lab -> /etc` must be named as /etc. */
function openPreparedRoot(requested: string): Dir {
	try {
		return openRoot(requested);
	} catch (error) {
		if (error instanceof OvlError && error.code === 'OVL_PATH_SYMLINK') {
			throw new OvlError(
				'OVL_PATH_SYMLINK',
				`${printablePath(requested)} is a symbolic link; ovl prepare does not write through it`,
				'name the directory it points to, if that is what you mean (see `realpath`)',
				{exitCode: exitCodes.usage},
			);
		}
		throw error;
	}
}

/** Seeding a lower that a live overlay uses is undefined behaviour in the kernel: refuse. */
async function refuseIfMounted(root: string, lowers: readonly string[], registry: Registry): Promise<void> {
	const host = await gatherHostFacts(registry);
	for (const o of host.overlays) {
		const layers = [...o.layers.lowers.map((l) => l.path), o.layers.upper, o.layers.work].filter(
			(p): p is string => p !== undefined,
		);
		const clash = layers.find((p) =>
			lowers.some((l) => isSameOrInside(p, path.join(root, l)) || isSameOrInside(path.join(root, l), p)),
		);
		if (clash !== undefined)
			throw new OvlError(
				'OVL_STACK_MOUNTED',
				`${clash} is a layer of the overlay mounted on ${o.entry.mountPoint}`,
				`unmount it first (ovl umount ${o.entry.mountPoint}); changing layers under a live overlay is undefined`,
			);
	}
}
