import {statSync} from 'node:fs';
import {fsPath} from '../core/bytes.js';
import {readdirExact, realpathExact as realpath} from './exact-fs.js';
import path from 'node:path';
import type {HostFacts, PathFacts, StackFacts} from '../core/facts.js';
import {mountContaining, overlayMounts} from '../core/mountinfo.js';
import type {MountInfoEntry, OverlayMount, Stack} from '../core/types.js';
import {effectiveUid, isInUserNamespace, readKernelFacts, readMountinfo} from './proc.js';
import {recordFor, type Registry} from './registry.js';
import {topFirst} from '../core/lowerdir.js';

// Gathers the facts validateStack() needs. Reads only; follows symlinks the way the kernel will.

async function probePath(p: string, mountinfo: readonly MountInfoEntry[], isWork = false): Promise<PathFacts> {
	let real: string;
	try {
		real = await realpath(p);
	} catch {
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
	const st = statSync(fsPath(real));
	const mount = mountContaining(mountinfo, real);
	const base: PathFacts = {
		path: p,
		exists: true,
		isDirectory: st.isDirectory(),
		realPath: real,
		...(mount ? {mount} : {}),
	};
	if (!isWork || !st.isDirectory()) return base;
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
): Promise<StackFacts> {
	const [host, kernel] = await Promise.all([gatherHostFacts(registry, mountinfo), readKernelFacts()]);
	const mi = host.mountinfo;
	const [lowers, upper, work, merged] = await Promise.all([
		Promise.all(stack.lowers.map((l) => probePath(l.path, mi))),
		stack.upper === undefined ? undefined : probePath(stack.upper, mi),
		stack.work === undefined ? undefined : probePath(stack.work, mi, true),
		probePath(stack.merged, mi, true),
	]);
	return {lowers, ...(upper ? {upper} : {}), ...(work ? {work} : {}), merged, kernel, host};
}
