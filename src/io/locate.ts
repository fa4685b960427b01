import {exitCodes} from '../core/exit-codes.js';
import {statfs} from 'node:fs/promises';
import {fsPath, printablePath, withArticle} from '../core/bytes.js';
import {lstatPath} from './walk-fs.js';
import {readdirExact as readdir, realpathExact as realpath} from './exact-fs.js';
import path from 'node:path';
import type {LayerRef} from '../core/entry.js';
import {OvlError, UsageError} from '../core/errors.js';
import {decodeOverlay, notMounted, overlayMounts, topMountAt} from '../core/mountinfo.js';
import {renderOption} from '../core/options.js';
import type {LayerInfo, MountFacts, SpaceFacts} from '../core/report.js';
import type {OverlayMount} from '../core/types.js';
import {readMountinfo} from './proc.js';
import {resolveLayers} from './layer-paths.js';
export {resolveLayers, type ResolvedLayers} from './layer-paths.js';
import {recordFor, type Registry} from './registry.js';
import {bottomUp, topFirst as topFirstOrder} from '../core/lowerdir.js';

/** Where inspect reads from: the layers, bottom→top, and the facts to report. */
export type Located = {
	readonly upper: string | undefined;
	readonly work: string | undefined;
	readonly lowers: readonly LayerRef[];
	readonly facts: MountFacts;
	readonly mount?: OverlayMount;
};

/** Finds the overlay mounted at `merged` and makes every layer path absolute. */
export async function locateMount(merged: string, root: string | undefined, registry: Registry): Promise<Located> {
	const target = await realpath(merged).catch(() => {
		throw new OvlError(
			'OVL_NOT_MOUNTED',
			`${merged} does not exist`,
			'give the mount point of an overlay (ovl ls lists them), or use --upper/--lower',
			{exitCode: exitCodes.usage},
		);
	});
	const entries = await readMountinfo();
	const top = topMountAt(entries, target);
	if (!top) throw notMounted(target, entries);
	const o = decodeOverlay(top);
	if (!o)
		throw new OvlError(
			'OVL_NOT_OVERLAY',
			`${target} is ${withArticle(top.fsType)} mount, not an overlay`,
			'give the mount point of an overlay (ovl ls lists them), or inspect layers offline with --upper U --lower L…',
			{exitCode: exitCodes.usage},
		);
	const record = recordFor(await registry.list(), o);
	const resolved = resolveLayers(o, record, root);
	if (resolved.unresolved.length > 0) {
		throw new UsageError(
			`the kernel recorded relative layer paths (${resolved.unresolved.slice(0, 2).join(', ')}) and ovl cannot tell what they were relative to`,
			'pass --root DIR (the directory mount(8) ran in; for Docker, <data-root>/overlay2)',
			'OVL_RELATIVE_LAYERS',
		);
	}
	const {lowers, upper, work} = resolved;
	const n = lowers.length;
	const layers: LayerInfo[] = [
		...(upper === undefined
			? []
			: [
					{
						role: 'upper' as const,
						layer: 0,
						path: upper,
						...(o.layers.upper !== upper ? {recorded: o.layers.upper ?? ''} : {}),
					},
				]),
		...lowers.map((l, i) => ({
			role: l.dataOnly ? ('data-only' as const) : ('lower' as const),
			layer: n - i,
			path: l.path,
			...(l.recorded !== l.path ? {recorded: l.recorded} : {}),
		})),
	];
	const sharedWith = overlayMounts(entries).filter(
		(x) =>
			x !== o &&
			x.entry.mountId !== o.entry.mountId &&
			x.layers.upper !== undefined &&
			x.layers.upper === o.layers.upper &&
			path.isAbsolute(x.layers.upper),
	);
	return {
		upper,
		work,
		lowers: bottomUp(lowers.map((l, i) => ({layer: n - i, path: l.path, dataOnly: l.dataOnly}))),
		mount: o,
		facts: {
			mountPoint: target,
			mountId: o.entry.mountId,
			options: o.options.map(renderOption),
			xattrNamespace: o.xattrNamespace,
			layers,
			...(work === undefined ? {} : {work}),
			source: 'mountinfo',
			...(record ? {mountedAt: record.mountedAt} : {}),
			...(sharedWith.length > 0 ? {sharedWith: sharedWith.map((x) => x.entry.mountPoint)} : {}),
		},
	};
}

/** Layers given on the command line (bottom→top), for an unmounted overlay. */
export async function locateOffline(
	upper: string,
	lowersBottomUp: readonly string[],
	work: string | undefined,
	userxattr: boolean,
): Promise<Located> {
	const abs = async (p: string): Promise<string> =>
		realpath(p).catch((error: NodeJS.ErrnoException) => {
			// Longer than PATH_MAX: realpath cannot say, but a walk through ancestors can reach it.
			if (error.code === 'ENAMETOOLONG' && path.isAbsolute(p) && lstatPath(path.normalize(p))?.isDirectory())
				return path.normalize(p);
			throw new OvlError('OVL_LAYER_MISSING', `${printablePath(p)} does not exist`, 'check the layer paths', {
				exitCode: exitCodes.usage,
			});
		});
	const up = await abs(upper);
	const lowers = await Promise.all(lowersBottomUp.map(abs));
	const w = work === undefined ? undefined : await abs(work);
	const refs: LayerRef[] = lowers.map((p, i) => ({layer: i + 1, path: p, dataOnly: false}));
	return {
		upper: up,
		work: w,
		lowers: refs,
		facts: {
			options: userxattr ? ['userxattr'] : [],
			xattrNamespace: userxattr ? 'user' : 'trusted',
			layers: [
				{role: 'upper', layer: 0, path: up},
				...topFirstOrder(refs).map((r) => ({role: 'lower' as const, layer: r.layer, path: r.path})),
			],
			...(w === undefined ? {} : {work: w}),
			source: 'offline',
		},
	};
}

export async function upperSpace(upper: string): Promise<SpaceFacts | undefined> {
	try {
		const s = await statfs(fsPath(upper));
		return {blocksFree: s.bavail, blocksTotal: s.blocks, blockSize: s.bsize, inodesFree: s.ffree, inodesTotal: s.files};
	} catch {
		return undefined;
	}
}

export async function workIncompat(work: string | undefined): Promise<string[]> {
	if (work === undefined) return [];
	return readdir(path.join(work, 'work', 'incompat')).catch(() => []);
}
