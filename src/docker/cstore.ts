import {existsSync, readFileSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {
	chainIds,
	readOverlay2Store,
	type DockerContainer,
	type DockerImage,
	type LayerMeta,
	type Overlay2Store,
} from './store.js';

// containers/storage (Podman, Buildah, CRI-O) with its overlay driver, as the library lays it out
// (containers/storage layers.go, images.go, containers.go, drivers/overlay): <root>/overlay/<id>/
// {diff,link,lower,work,merged} and overlay/l/<short> exactly like Docker's overlay2, plus JSON
// indexes instead of moby's layerdb: overlay-layers/layers.json (id, parent, diff-digest),
// overlay-images/images.json (id, names, top layer), overlay-containers/containers.json.
// Read as the same store shape, so `ovl docker ls|inspect` serve both engines.

type CLayer = {id: string; parent?: string; 'diff-digest'?: string; names?: string[]};
type CImage = {id: string; names?: string[]; layer?: string};
type CContainer = {id: string; names?: string[]; image?: string; layer?: string; metadata?: string};

const json = <T>(p: string): T[] => {
	try {
		const v = JSON.parse(readFileSync(p, 'utf8')) as unknown;
		return Array.isArray(v) ? (v as T[]) : [];
	} catch {
		return [];
	}
};

export const isContainersStore = (root: string): boolean =>
	existsSync(path.join(root, 'overlay-layers', 'layers.json'));

/** `mountPoints`: where something is mounted now (mountinfo); a container whose merged dir is among them runs (or is `podman mount`ed). */
export function readContainersStore(root: string, mountPoints: ReadonlySet<string>): Overlay2Store {
	const dirs = readOverlay2Store(root, 'overlay');
	const layerList = [
		...json<CLayer>(path.join(root, 'overlay-layers', 'layers.json')),
		...json<CLayer>(path.join(root, 'overlay-layers', 'volatile-layers.json')),
	];
	const byId = new Map(layerList.map((l) => [l.id, l]));
	// Running state lives in libpod's database, not the store; a mounted layer is what the kernel shows.
	const mounted = (layer: string): boolean => mountPoints.has(path.join(dirs.home, layer, 'merged'));
	const chainOf = (top: string | undefined): CLayer[] => {
		const out: CLayer[] = [];
		for (let id = top; id !== undefined && out.length < 4096;) {
			const l = byId.get(id);
			if (!l) break;
			out.unshift(l);
			id = l.parent;
		}
		return out;
	};
	const layerdb = new Map<string, LayerMeta>();
	const byCacheId = new Map<string, LayerMeta>();
	const images: DockerImage[] = [];
	for (const img of json<CImage>(path.join(root, 'overlay-images', 'images.json'))) {
		const chain = chainOf(img.layer);
		const diffIds = chain.map((l) => l['diff-digest'] ?? `layer:${l.id}`);
		const chains = chainIds(diffIds);
		chain.forEach((l, i) => {
			const meta: LayerMeta = {
				chainId: chains[i] as string,
				diffId: diffIds[i] as string,
				cacheId: l.id,
				...(i > 0 ? {parent: chains[i - 1] as string} : {}),
			};
			layerdb.set(meta.chainId, meta);
			byCacheId.set(l.id, meta);
		});
		images.push({
			id: `sha256:${img.id}`,
			tags: img.names ?? [],
			diffIds,
			createdBy: createdBy(path.join(root, 'overlay-images', img.id)),
			chainIds: chains,
		});
	}
	const containers: DockerContainer[] = json<CContainer>(path.join(root, 'overlay-containers', 'containers.json')).map(
		(c) => {
			let meta: {'image-name'?: string; name?: string} = {};
			try {
				meta = JSON.parse(c.metadata ?? '{}') as typeof meta;
			} catch {
				// metadata is the engine's free-form string: nothing to show from it
			}
			return {
				id: c.id,
				name: c.names?.[0] ?? meta.name ?? '',
				image: meta['image-name'] ?? '',
				imageId: c.image ? `sha256:${c.image}` : '',
				running: c.layer !== undefined && mounted(c.layer),
				driver: 'overlay',
				...(c.layer ? {mountId: c.layer} : {}),
			};
		},
	);
	return {...dirs, layerdb, byCacheId, images, containers};
}

/** The image config is stored as "big data" beside images.json: the file whose JSON has a history. */
function createdBy(dir: string): string[] {
	let names: string[] = [];
	try {
		names = readdirSync(dir).filter((n) => n.startsWith('='));
	} catch {
		return [];
	}
	for (const n of names) {
		try {
			const cfg = JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as {
				history?: {created_by?: string; empty_layer?: boolean}[];
				rootfs?: unknown;
			};
			if (Array.isArray(cfg.history) && cfg.rootfs !== undefined)
				return cfg.history.filter((h) => !h.empty_layer).map((h) => h.created_by ?? '');
		} catch {
			// a manifest or a signature, not the config
		}
	}
	return [];
}
