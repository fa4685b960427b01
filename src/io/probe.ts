import {readdirExact, realpathExact as realpath, resolvePaths, type Resolved} from './exact-fs.js';
import path from 'node:path';
import type {HostFacts, PathFacts, StackFacts} from '../core/facts.js';
import {mountContaining, overlayMounts} from '../core/mountinfo.js';
import type {MountInfoEntry, OverlayMount, Stack} from '../core/types.js';
import {effectiveUid, isInUserNamespace, readKernelFacts, readMountinfo} from './proc.js';
import {recordFor, type Registry} from './registry.js';
import {topFirst} from '../core/lowerdir.js';

// Gathers the facts validateStack() needs. Reads only; follows symlinks the way the kernel will.

async function probePath(
	p: string,
	resolved: Resolved,
	mountinfo: readonly MountInfoEntry[],
	isWork = false,
): Promise<PathFacts> {
	if ('code' in resolved) {
		// Missing: report the mount the parent would be created on, so same-mount checks still work.
		const parent = await realpath(path.dirname(p)).catch(() => undefined);
		const mount = parent === undefined ? undefined : mountContaining(mountinfo, path.join(parent, path.basename(p)));
		return {
			path: p,
			exists: false,
			isDirectory: false,
			...(mount ? {mount} : {}),
			...(parent === undefined ? {parentMissing: true} : {}),
		};
	}
	const real = resolved.real;
	const mount = mountContaining(mountinfo, real);
	const base: PathFacts = {
		path: p,
		exists: true,
		isDirectory: resolved.isDirectory,
		realPath: real,
		...(mount ? {mount} : {}),
	};
	if (!isWork || !resolved.isDirectory) return base;
	const entries = await readdirExact(real).catch(() => [] as string[]);
	const incompat = await readdirExact(path.join(real, 'work', 'incompat')).catch(() => [] as string[]);
	return {...base, entries, incompat};
}

/** Overlay mounts with layer paths made absolute: relative ones through ovl's registry when it knows them. */
export async function resolvedOverlays(mountinfo: readonly MountInfoEntry[], from: Registry): Promise<OverlayMount[]> {
	const registry = await from.list();
	return overlayMounts(mountinfo).map((o) => {
		const rec = recordFor(registry, o);
		if (!rec || (rec.strategy !== 'fd' && rec.strategy !== 'relative')) return o;
		const lowers = topFirst(rec.lowers);
		return {
			...o,
			layers: {
				lowers,
				...(rec.upper === undefined ? {} : {upper: rec.upper}),
				...(rec.work === undefined ? {} : {work: rec.work}),
			},
		};
	});
}

/** `mountinfo`: a read the caller already made (mount reads it once for planning and its own undo). */
export async function gatherHostFacts(registry: Registry, read?: readonly MountInfoEntry[]): Promise<HostFacts> {
	const mountinfo = read ?? (await readMountinfo());
	return {
		euid: effectiveUid(),
		inUserNamespace: await isInUserNamespace(),
		overlays: await resolvedOverlays(mountinfo, registry),
		mountinfo,
	};
}

export async function gatherStackFacts(
	stack: Stack,
	registry: Registry,
	mountinfo?: readonly MountInfoEntry[],
	/** What resolving stack.lowers found already (see MountStackOptions.resolvedLowers). */
	resolvedLowers?: readonly Resolved[],
): Promise<StackFacts> {
	const [host, kernel] = await Promise.all([gatherHostFacts(registry, mountinfo), readKernelFacts()]);
	const mi = host.mountinfo;
	// Every layer resolved in one call (a 500-layer stack is 500 realpaths and stats).
	const n = stack.lowers.length;
	const known = resolvedLowers?.length === n ? resolvedLowers : undefined;
	const rest = [stack.upper ?? '', stack.work ?? '', stack.merged];
	const r = known ? [...known, ...resolvePaths(rest)] : resolvePaths([...stack.lowers.map((l) => l.path), ...rest]);
	const at = (i: number): Resolved => r[i] as Resolved;
	const [lowers, upper, work, merged] = await Promise.all([
		Promise.all(stack.lowers.map((l, i) => probePath(l.path, at(i), mi))),
		stack.upper === undefined ? undefined : probePath(stack.upper, at(n), mi),
		stack.work === undefined ? undefined : probePath(stack.work, at(n + 1), mi, true),
		probePath(stack.merged, at(n + 2), mi, true),
	]);
	return {lowers, ...(upper ? {upper} : {}), ...(work ? {work} : {}), merged, kernel, host};
}
