import {createHash} from 'node:crypto';
import {existsSync, readFileSync, readdirSync, readlinkSync} from 'node:fs';
import path from 'node:path';

// Docker's overlay2 store as moby lays it out (daemon/graphdriver/overlay2/overlay.go and
// daemon/internal/layer): <root>/overlay2/<id>/{diff,link,lower,work,merged,committed}, l/<short>
// → ../<id>/diff, and image/overlay2/layerdb mapping chain ids to cache ids and mount ids.

export type Overlay2Layer = {
	readonly id: string;
	readonly dir: string;
	readonly diff: string;
	readonly shortId?: string;
	/** Layer ids below this one, top first (from the `lower` file). */
	readonly lowerIds: readonly string[];
	readonly committed: boolean;
	readonly hasMerged: boolean;
};

export type LayerMeta = {
	readonly chainId: string;
	readonly diffId: string;
	readonly parent?: string;
	readonly cacheId: string;
	readonly size?: number;
};

export type DockerImage = {
	readonly id: string;
	readonly tags: readonly string[];
	readonly diffIds: readonly string[];
	readonly createdBy: readonly string[];
	readonly chainIds: readonly string[];
};

export type DockerContainer = {
	readonly id: string;
	readonly name: string;
	readonly image: string;
	readonly imageId: string;
	readonly running: boolean;
	readonly driver?: string;
	readonly mountId?: string;
	readonly initId?: string;
	readonly parentChain?: string;
};

export type Overlay2Store = {
	readonly dataRoot: string;
	readonly home: string;
	readonly layers: ReadonlyMap<string, Overlay2Layer>;
	readonly byShortId: ReadonlyMap<string, string>;
	readonly layerdb: ReadonlyMap<string, LayerMeta>;
	readonly byCacheId: ReadonlyMap<string, LayerMeta>;
	readonly images: readonly DockerImage[];
	readonly containers: readonly DockerContainer[];
};

const read = (p: string): string | undefined => {
	try {
		return readFileSync(p, 'utf8').trim();
	} catch {
		return undefined;
	}
};
const list = (p: string): string[] => {
	try {
		return readdirSync(p);
	} catch {
		return [];
	}
};

/** ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)) (OCI image spec). */
export function chainIds(diffIds: readonly string[]): string[] {
	const out: string[] = [];
	for (const d of diffIds)
		out.push(
			out.length === 0
				? d
				: `sha256:${createHash('sha256')
						.update(`${out.at(-1)} ${d}`)
						.digest('hex')}`,
		);
	return out;
}

export function readOverlay2Store(dataRoot: string, driver = 'overlay2'): Overlay2Store {
	const home = path.join(dataRoot, driver);
	const layers = new Map<string, Overlay2Layer>();
	const byShortId = new Map<string, string>();
	for (const short of list(path.join(home, 'l'))) {
		try {
			// l/<short> → ../<id>/diff
			const target = readlinkSync(path.join(home, 'l', short));
			const id = target.split('/').at(-2);
			if (id) byShortId.set(short, id);
		} catch {
			// not a link: ignore
		}
	}
	for (const id of list(home)) {
		if (id === 'l') continue;
		const dir = path.join(home, id);
		const diff = path.join(dir, 'diff');
		if (!existsSync(diff)) continue;
		const shortId = read(path.join(dir, 'link'));
		const lower = read(path.join(dir, 'lower'));
		const lowerIds = (lower ?? '')
			.split(':')
			.filter(Boolean)
			.map((l) => byShortId.get(l.replace(/^l\//, '')) ?? l);
		layers.set(id, {
			id,
			dir,
			diff,
			...(shortId ? {shortId} : {}),
			lowerIds,
			committed: existsSync(path.join(dir, 'committed')),
			hasMerged: existsSync(path.join(dir, 'merged')),
		});
	}
	const dbRoot = path.join(dataRoot, 'image', driver, 'layerdb');
	const layerdb = new Map<string, LayerMeta>();
	const byCacheId = new Map<string, LayerMeta>();
	for (const algo of list(dbRoot).filter((n) => n !== 'mounts' && n !== 'tmp')) {
		for (const hex of list(path.join(dbRoot, algo))) {
			const d = path.join(dbRoot, algo, hex);
			const cacheId = read(path.join(d, 'cache-id'));
			const diffId = read(path.join(d, 'diff'));
			if (!cacheId || !diffId) continue;
			const parent = read(path.join(d, 'parent'));
			const size = Number(read(path.join(d, 'size')));
			const meta: LayerMeta = {
				chainId: `${algo}:${hex}`,
				diffId,
				cacheId,
				...(parent ? {parent} : {}),
				...(Number.isFinite(size) ? {size} : {}),
			};
			layerdb.set(meta.chainId, meta);
			byCacheId.set(cacheId, meta);
		}
	}
	const repos = JSON.parse(read(path.join(dataRoot, 'image', driver, 'repositories.json')) ?? '{}') as {
		Repositories?: Record<string, Record<string, string>>;
	};
	const tagsOf = new Map<string, string[]>();
	for (const refs of Object.values(repos.Repositories ?? {}))
		for (const [tag, id] of Object.entries(refs)) tagsOf.set(id, [...(tagsOf.get(id) ?? []), tag]);
	const images: DockerImage[] = [];
	const contentDir = path.join(dataRoot, 'image', driver, 'imagedb', 'content', 'sha256');
	for (const hex of list(contentDir)) {
		try {
			const cfg = JSON.parse(readFileSync(path.join(contentDir, hex), 'utf8')) as {
				rootfs?: {diff_ids?: string[]};
				history?: {created_by?: string; empty_layer?: boolean}[];
			};
			const diffIds = cfg.rootfs?.diff_ids ?? [];
			const createdBy = (cfg.history ?? []).filter((h) => !h.empty_layer).map((h) => h.created_by ?? '');
			images.push({
				id: `sha256:${hex}`,
				tags: tagsOf.get(`sha256:${hex}`) ?? [],
				diffIds,
				createdBy,
				chainIds: chainIds(diffIds),
			});
		} catch {
			// unreadable image config: skip it
		}
	}
	const containers: DockerContainer[] = [];
	for (const id of list(path.join(dataRoot, 'containers'))) {
		try {
			const cfg = JSON.parse(readFileSync(path.join(dataRoot, 'containers', id, 'config.v2.json'), 'utf8')) as {
				ID?: string;
				Name?: string;
				Image?: string;
				Config?: {Image?: string};
				State?: {Running?: boolean};
				Driver?: string;
			};
			const mounts = path.join(dbRoot, 'mounts', id);
			const mountId = read(path.join(mounts, 'mount-id'));
			const initId = read(path.join(mounts, 'init-id'));
			const parent = read(path.join(mounts, 'parent'));
			containers.push({
				id: cfg.ID ?? id,
				name: (cfg.Name ?? '').replace(/^\//, ''),
				image: cfg.Config?.Image ?? '',
				imageId: cfg.Image ?? '',
				running: cfg.State?.Running === true,
				...(cfg.Driver ? {driver: cfg.Driver} : {}),
				...(mountId ? {mountId} : {}),
				...(initId ? {initId} : {}),
				...(parent ? {parentChain: parent} : {}),
			});
		} catch {
			// no readable config: skip
		}
	}
	return {dataRoot, home, layers, byShortId, layerdb, byCacheId, images, containers};
}

/** Finds a container or image by full id, unique id prefix, name or tag. */
export function findTarget(
	store: Overlay2Store,
	ref: string,
): {kind: 'container'; container: DockerContainer} | {kind: 'image'; image: DockerImage} | undefined {
	const bare = ref.replace(/^sha256:/, '');
	const c = store.containers.filter(
		(x) => x.id === ref || x.name === ref || (bare.length >= 4 && x.id.startsWith(bare)),
	);
	if (c.length === 1) return {kind: 'container', container: c[0] as DockerContainer};
	const withLatest = ref.includes(':') ? ref : `${ref}:latest`;
	const i = store.images.filter(
		(x) =>
			x.tags.includes(ref) ||
			x.tags.includes(withLatest) ||
			x.id === ref ||
			(bare.length >= 4 && x.id.slice(7).startsWith(bare)),
	);
	if (i.length === 1) return {kind: 'image', image: i[0] as DockerImage};
	return undefined;
}
