import {exitCodes} from '../core/exit-codes.js';
import path from 'node:path';
import type {LayerRef} from '../core/entry.js';
import {OvlError} from '../core/errors.js';
import type {LayerInfo} from '../core/report.js';
import type {Located} from '../io/locate.js';
import {dockerInspect} from './host.js';
import {findTarget, type Overlay2Store} from './store.js';
import {bottomUp, topFirst} from '../core/lowerdir.js';

const short = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

/** The layers of a container or image, bottom → top, named by image layer, ready for inspect. */
export async function locateDocker(store: Overlay2Store, ref: string): Promise<Located & {title: string}> {
	const target = findTarget(store, ref);
	if (!target) {
		// Only Docker's daemon can be asked; a containers/storage root is read from disk alone.
		const live = path.basename(store.home) === 'overlay2' ? await dockerInspect(ref) : undefined;
		if (live?.Data?.['UpperDir'] && live.Data['LowerDir']) return fromGraphDriver(ref, live.Data);
		throw new OvlError(
			'OVL_DOCKER_NOT_FOUND',
			`no container or image "${ref}" under ${store.dataRoot}`,
			'ovl docker ls lists what is on disk; give --data-root if Docker keeps its data elsewhere',
			{exitCode: exitCodes.usage},
		);
	}
	// By position, not by diff id: two layers of one image may have the same content (two
	// `RUN true`, or whiteout-only layers alike), and each has its own history line.
	const labelFor = (
		layerId: string,
		position: number,
		image: {diffIds: readonly string[]; createdBy: readonly string[]} | undefined,
	): string => {
		if (layerId.endsWith('-init')) return 'init layer (hostname, resolv.conf, …)';
		const meta = store.byCacheId.get(layerId);
		if (!meta) return `layer ${short(layerId)}`;
		const i = image?.diffIds[position] === meta.diffId ? position : (image?.diffIds.indexOf(meta.diffId) ?? -1);
		const by = i >= 0 ? image?.createdBy[i] : undefined;
		return `${short(meta.diffId)}${by ? ` ${by.replace(/^\/bin\/sh -c (#\(nop\) )?/, '').trim()}` : ''}`;
	};
	if (target.kind === 'container') {
		const c = target.container;
		const layer = c.mountId ? store.layers.get(c.mountId) : undefined;
		if (!layer)
			throw new OvlError(
				'OVL_DOCKER_NO_LAYER',
				`container ${c.name || short(c.id)} has no overlay2 layer on disk (mount-id ${c.mountId ?? 'missing'})`,
				'is it stored by another driver or the containerd snapshotter? see ovl docker driver',
			);
		const image = store.images.find((i) => i.id === c.imageId);
		const lowerIds = bottomUp(layer.lowerIds);
		const lowers: LayerRef[] = lowerIds.map((id, i) => ({
			layer: i + 1,
			path: store.layers.get(id)?.diff ?? path.join(store.home, id, 'diff'),
			dataOnly: false,
		}));
		const layers: LayerInfo[] = [
			{role: 'upper', layer: 0, path: layer.diff, label: `container layer of ${c.name || short(c.id)}`},
			...topFirst(lowers).map((l) => ({
				role: 'lower' as const,
				layer: l.layer,
				path: l.path,
				label: labelFor(lowerIds[l.layer - 1] ?? '', l.layer - 1, image),
			})),
		];
		const merged = path.join(layer.dir, 'merged');
		return {
			title: `container ${c.name || short(c.id)} (${c.image}, ${c.running ? 'running' : 'stopped'})`,
			upper: layer.diff,
			work: path.join(layer.dir, 'work'),
			lowers,
			facts: {
				...(c.running ? {mountPoint: merged} : {}),
				options: ['index=off'],
				xattrNamespace: 'trusted',
				layers,
				work: path.join(layer.dir, 'work'),
				source: 'offline',
			},
		};
	}
	const img = target.image;
	const cacheIds = img.chainIds.map((chain) => store.layerdb.get(chain)?.cacheId);
	if (cacheIds.some((id) => id === undefined) || cacheIds.length === 0)
		throw new OvlError(
			'OVL_DOCKER_NO_LAYER',
			`image ${img.tags[0] ?? short(img.id)} has layers missing from the layerdb`,
			'the image store is incomplete; docker image inspect shows what the daemon thinks',
		);
	const dirs = (cacheIds as string[]).map((id) => store.layers.get(id)?.diff ?? path.join(store.home, id, 'diff'));
	// An image has no writable layer: inspect its top layer as the "upper" over the ones below.
	const lowers: LayerRef[] = dirs.slice(0, -1).map((p, i) => ({layer: i + 1, path: p, dataOnly: false}));
	const top = dirs.at(-1) as string;
	const layers: LayerInfo[] = [
		{
			role: 'upper',
			layer: 0,
			path: top,
			label: `top image layer: ${labelFor(cacheIds.at(-1) as string, cacheIds.length - 1, img)}`,
		},
		...topFirst(lowers).map((l) => ({
			role: 'lower' as const,
			layer: l.layer,
			path: l.path,
			label: labelFor(cacheIds[l.layer - 1] as string, l.layer - 1, img),
		})),
	];
	return {
		title: `image ${img.tags[0] ?? short(img.id)}`,
		upper: top,
		work: undefined,
		lowers,
		facts: {options: [], xattrNamespace: 'trusted', layers, source: 'offline'},
	};
}

function fromGraphDriver(ref: string, data: Record<string, string>): Located & {title: string} {
	const lowersTopFirst = (data['LowerDir'] ?? '').split(':').filter(Boolean);
	const lowers: LayerRef[] = bottomUp(lowersTopFirst).map((p, i) => ({layer: i + 1, path: p, dataOnly: false}));
	const upper = data['UpperDir'] as string;
	return {
		title: `${ref} (from docker inspect)`,
		upper,
		work: data['WorkDir'],
		lowers,
		facts: {
			options: [],
			xattrNamespace: 'trusted',
			layers: [
				{role: 'upper', layer: 0, path: upper},
				...topFirst(lowers).map((l) => ({role: 'lower' as const, layer: l.layer, path: l.path})),
			],
			source: 'offline',
			...(data['MergedDir'] ? {mountPoint: data['MergedDir']} : {}),
		},
	};
}
