import {existsSync} from 'node:fs';
import type {Context} from '../context.js';
import {emit} from '../output.js';
import {dockerLsHuman, dockerLsPlain, driverHuman, driverPlain} from '../ui/docker-text.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {driverReport} from '../docker/driver.js';
import {dockerInfo} from '../docker/host.js';
import {locateDocker} from '../docker/layers.js';
import {isContainersStore, readContainersStore} from '../docker/cstore.js';
import {readOverlay2Store, type Overlay2Store} from '../docker/store.js';
import {inspectFlow} from '../flows/inspect.js';
import {readMountinfo} from '../io/proc.js';
import {showReport} from './report-view.js';

async function dataRootOf(flag: string | undefined): Promise<string> {
	const root = flag ?? (await driverReport(undefined)).dataRoot;
	if (!existsSync(root))
		throw new OvlError(
			'OVL_DOCKER_NO_DATA_ROOT',
			`Docker's data-root ${root} does not exist`,
			'give --data-root DIR (see "DockerRootDir" in docker info, or "data-root" in /etc/docker/daemon.json)',
			{exitCode: exitCodes.usage},
		);
	return root;
}

/** Docker's overlay2 data-root, or a containers/storage root (Podman's --root, e.g. /var/lib/containers/storage). */
async function readStore(root: string): Promise<Overlay2Store> {
	if (!isContainersStore(root)) return readOverlay2Store(root);
	const mounts = new Set((await readMountinfo()).map((e) => e.mountPoint));
	return readContainersStore(root, mounts);
}

/** `ovl docker driver`: which storage driver is active, and what every driver directory holds. */
export async function dockerDriver(o: {dataRoot: string | undefined}, ctx: Context): Promise<void> {
	const r = await driverReport(o.dataRoot);
	emit(ctx, {json: r, plain: () => driverPlain(r), human: () => driverHuman(r, ctx.style)});
}

/** `ovl docker ls`: containers and image layers known on disk, with their overlay directories. */
export async function dockerLs(o: {dataRoot: string | undefined}, ctx: Context): Promise<void> {
	const store = await readStore(await dataRootOf(o.dataRoot));
	const podman = isContainersStore(store.dataRoot);
	const daemon = podman ? undefined : await dockerInfo();
	const containers = store.containers.map((c) => {
		const layer = c.mountId ? store.layers.get(c.mountId) : undefined;
		return {...c, upper: layer?.diff, layers: layer ? layer.lowerIds.length + 1 : 0};
	});
	const images = store.images.map((i) => ({
		...i,
		layers: i.chainIds.map((chain) => {
			const meta = store.layerdb.get(chain);
			return {
				chainId: chain,
				diffId: meta?.diffId,
				cacheId: meta?.cacheId,
				dir: meta ? store.layers.get(meta.cacheId)?.diff : undefined,
			};
		}),
	}));
	const note = podman
		? 'a containers/storage store (Podman, Buildah, CRI-O), read offline: "running" means its merged dir is mounted now'
		: daemon
			? undefined
			: 'the Docker daemon did not answer: this is what the data-root holds on disk (running state from config.v2.json)';
	const s = ctx.style;
	const err = note ? `${s.dim(note)}\n` : '';
	emit(ctx, {
		json: {
			schema: 'ovl.docker-ls/v1',
			dataRoot: store.dataRoot,
			home: store.home,
			containers,
			images,
			...(note ? {note} : {}),
		},
		plain: () => ({out: dockerLsPlain(containers, images), err}),
		human: () => ({out: dockerLsHuman(containers, images, s), err}),
	});
}

/** `ovl docker inspect`: the inspect report of a container or image, layers named by image layer. */
export async function dockerInspectCommand(
	o: {ref: string; dataRoot: string | undefined; strict: boolean},
	ctx: Context,
): Promise<number> {
	const store = await readStore(await dataRootOf(o.dataRoot));
	const located = await locateDocker(store, o.ref);
	const report = await inspectFlow(located, {withChanges: false});
	await showReport(ctx, report, {json: {...report, target: located.title}, located, title: located.title});
	return o.strict && report.findings.some((f) => f.severity === 'error') ? exitCodes.failure : exitCodes.ok;
}
