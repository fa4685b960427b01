import {lstat, readFile, readdir, realpath, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {parse as parseYaml} from 'yaml';
import {writeJson, type Context} from '../context.js';
import {OvlError, UsageError} from '../core/errors.js';
import {parsePutArg, planLayout} from '../core/layout.js';
import {parseOptionArg} from '../core/options.js';
import {renderStackFile, stackFileName} from '../core/stack-file.js';
import {isSameOrInside} from '../core/paths.js';
import {Creation, makeDirs} from '../io/layout-fs.js';
import {gatherHostFacts} from '../io/probe.js';

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

async function readSeedFile(file: string): Promise<Record<string, Record<string, string>>> {
	const data: unknown = parseYaml(await readFile(file, 'utf8'));
	const ok = typeof data === 'object' && data !== null && Object.values(data).every((files) => typeof files === 'object' && files !== null && Object.values(files as object).every((v) => typeof v === 'string'));
	if (!ok) throw new UsageError(`${file}: a seed file maps each layer to {path: contents}`, 'e.g.\nlower1:\n  a: "docker\\noverlay\\n"', 'OVL_SEED_INVALID');
	return data as Record<string, Record<string, string>>;
}

/** `ovl prepare`: directories plus ovl.yaml, idempotent, nothing written outside <dir>. */
export async function prepareCommand(o: PrepareOptions, ctx: Context): Promise<void> {
	if (o.layerTars.length > 0 && o.lowers.length > 0) throw new UsageError('give lowers either as --lower names or as --layer-tar files', 'with --layer-tar the lowers are named layer1, layer2, … bottom → top');
	const lowers = o.layerTars.length > 0 ? o.layerTars.map((_, i) => `layer${i + 1}`) : o.lowers.length > 0 ? o.lowers : ['lower1', 'lower2'];
	const seed: Record<string, Record<string, string>> = o.seedFile === undefined ? {} : await readSeedFile(path.resolve(ctx.cwd, o.seedFile));
	for (const put of o.puts) {
		const [layer, file, text] = parsePutArg(put, [...lowers, ...(o.upper === undefined ? [] : [o.upper])]);
		seed[layer] = {...seed[layer], [file]: text};
	}
	const requested = path.resolve(ctx.cwd, o.dir);
	const layout = planLayout(requested, {lowers, upper: o.upper, work: o.work, merged: o.merged, options: o.options.map(parseOptionArg), seed});
	const text = renderStackFile(layout);
	const stackPath = path.join(requested, stackFileName);
	const existing = await readFile(stackPath, 'utf8').catch(() => undefined);
	if (existing !== undefined && existing !== text && !o.force) {
		throw new OvlError('OVL_STACK_EXISTS', `${stackPath} exists with a different stack`, 'pass --force to rewrite it (layer directories and their files are kept), or choose another directory', {exitCode: 2});
	}
	await makeDirs(requested);
	const root = await realpath(requested);
	const changing = await changedSeedLayers(root, layout.seed);
	if (changing.length > 0) await refuseIfMounted(root, changing);
	const creation = new Creation(root);
	const written: string[] = [];
	const importedDirs: string[] = [];
	const imported: {file: string; layer: string; entries?: number; whiteouts?: number; opaques?: number; skipped?: string}[] = [];
	try {
		for (const name of [...layout.lowers.map((l) => l.path), layout.upper, layout.work, layout.merged]) {
			if (name !== undefined) await creation.ensureDir(name);
		}
		for (const [layer, files] of Object.entries(layout.seed)) {
			for (const [file, contents] of Object.entries(files)) {
				if (await creation.writeFile(path.join(layer, file), contents)) written.push(path.join(layer, file));
			}
		}
		const ns = layout.options.some((x) => x.key === 'userxattr') ? 'user' : 'trusted';
		const tars = o.layerTars.length > 0 ? await import('../docker/layer-tar.js') : undefined;
		// Check every tarball before unpacking any: a hostile third layer must not leave two behind.
		for (const file of o.layerTars) await tars?.checkLayerTar(path.resolve(ctx.cwd, file));
		for (const [i, file] of o.layerTars.entries()) {
			const layer = path.join(root, lowers[i] as string);
			// Import only into an empty layer: re-running prepare must not mix two tarballs.
			if ((await readdir(layer)).length > 0) {
				imported.push({file, layer: lowers[i] as string, skipped: 'layer not empty (already imported?)'});
				continue;
			}
			importedDirs.push(layer);
			const check = await (tars as typeof import('../docker/layer-tar.js')).importLayerTar(path.resolve(ctx.cwd, file), layer, ns);
			imported.push({file, layer: lowers[i] as string, entries: check.entries, whiteouts: check.whiteouts.length, opaques: check.opaques.length});
		}
		if (existing !== text) await writeFile(stackPath, text, {mode: 0o644});
	} catch (error) {
		// Layers this run unpacked into were empty before it: empty them again, then undo the rest.
		for (const d of importedDirs) await rm(d, {recursive: true, force: true});
		await creation.undo();
		throw error;
	}
	const result = {schema: 'ovl.prepare/v1', dir: root, stackFile: stackPath, created: creation.created, seeded: written, imported, stack: layout};
	if (ctx.mode === 'json') return writeJson(ctx, result);
	const s = ctx.style;
	ctx.out(`${s.bold(`prepared ${root}`)}\n`);
	ctx.out(`  lowers (bottom → top): ${layout.lowers.map((l) => l.path).join(', ')}\n`);
	if (layout.upper !== undefined) ctx.out(`  upper: ${layout.upper}   work: ${layout.work ?? '-'}\n`);
	ctx.out(`  mount point: ${layout.merged}\n  stack file: ${stackPath}${existing === text ? ' (unchanged)' : ''}\n`);
	ctx.out(`  ${creation.created.length} created, ${written.length} seeded file(s) written\n`);
	for (const t of imported) ctx.out(`  ${t.layer} ← ${t.file}: ${t.skipped ?? `${t.entries} entries, ${t.whiteouts} whiteout(s), ${t.opaques} opaque dir(s)`}\n`);
	ctx.out(`next: ovl mount ${o.dir}\n`);
}

/** Layers whose seed files differ from what is on disk (only those need writing). */
async function changedSeedLayers(root: string, seed: Readonly<Record<string, Readonly<Record<string, string>>>>): Promise<string[]> {
	const out = new Set<string>();
	for (const [layer, files] of Object.entries(seed)) {
		for (const [file, contents] of Object.entries(files)) {
			const target = path.join(root, layer, file);
			const st = await lstat(target).catch(() => undefined);
			if (!st?.isFile() || (await readFile(target, 'utf8')) !== contents) out.add(layer);
		}
	}
	return [...out];
}

/** Seeding a lower that a live overlay uses is undefined behaviour in the kernel: refuse. */
async function refuseIfMounted(root: string, lowers: readonly string[]): Promise<void> {
	const host = await gatherHostFacts();
	for (const o of host.overlays) {
		const layers = [...o.layers.lowers.map((l) => l.path), o.layers.upper, o.layers.work].filter((p): p is string => p !== undefined);
		const clash = layers.find((p) => lowers.some((l) => isSameOrInside(p, path.join(root, l)) || isSameOrInside(path.join(root, l), p)));
		if (clash !== undefined) throw new OvlError('OVL_STACK_MOUNTED', `${clash} is a layer of the overlay mounted on ${o.entry.mountPoint}`, `unmount it first (ovl umount ${o.entry.mountPoint}); changing layers under a live overlay is undefined`);
	}
}
