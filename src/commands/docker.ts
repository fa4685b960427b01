import {existsSync} from 'node:fs';
import {writeJson, type Context} from '../context.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {driverReport} from '../docker/driver.js';
import {dockerInfo} from '../docker/host.js';
import {locateDocker} from '../docker/layers.js';
import {isContainersStore, readContainersStore} from '../docker/cstore.js';
import {readOverlay2Store, type Overlay2Store} from '../docker/store.js';
import {inspectFlow} from '../flows/inspect.js';
import {readMountinfo} from '../io/proc.js';
import {layerDetails} from '../io/layer-details.js';
import {lowerListing} from '../io/lower-listing.js';
import {formatFindings} from '../ui/findings.js';
import {formatBytes, humanReport, plainEntries} from '../ui/inspect-text.js';

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
	if (ctx.mode === 'json') return writeJson(ctx, r);
	const s = ctx.style;
	if (ctx.mode === 'plain') {
		ctx.out(`active\t${r.activeDriver ?? 'unknown'}\t${r.source}\ndata-root\t${r.dataRoot}\n`);
		if (!r.daemon.answered)
			ctx.err(
				`note\tthe daemon did not answer: ${r.daemon.reason ?? ''}; the driver comes from ${r.source === 'guess' ? 'what is on disk (a guess)' : 'daemon.json'}\n`,
			);
		for (const d of r.drivers)
			ctx.out(
				`driver\t${d.driver}\t${d.path}\t${d.bytes}\t${d.layers}\t${d.images}\t${d.containers}\t${d.active ? 'active' : 'inactive'}\n`,
			);
		for (const w of r.warnings) ctx.err(`warning\t${w}\n`);
		return;
	}
	ctx.out(
		`${s.bold('storage driver')}  ${r.activeDriver ?? 'unknown'} ${s.dim(`(from ${r.source}${r.serverVersion ? `, Docker ${r.serverVersion}` : ''})`)}\n`,
	);
	ctx.out(`${s.bold('data-root')}       ${r.dataRoot}\n`);
	if (!r.daemon.answered)
		ctx.out(
			`${s.bold('daemon')}          ${s.yellow('not reachable')}: ${r.daemon.reason ?? ''}; the driver above is ${r.source === 'guess' ? 'a guess from what is on disk' : 'what daemon.json sets'}\n`,
		);
	ctx.out(
		`${s.bold('daemon.json')}     ${r.daemonJson.path}: ${r.daemonJson.exists ? (r.daemonJson.error ? s.red(`invalid JSON (${r.daemonJson.error})`) : JSON.stringify(r.daemonJson.settings)) : 'absent'}\n`,
	);
	if (r.drivers.length === 0) ctx.out('no storage driver directories under the data-root\n');
	for (const d of r.drivers)
		ctx.out(
			`  ${d.active ? s.green('● active  ') : s.dim('○ inactive')} ${d.driver.padEnd(34)} ${formatBytes(d.bytes).padStart(10)}  ${d.layers} layer dirs, ${d.images} images, ${d.containers} containers\n`,
		);
	for (const w of r.warnings) ctx.err(`${s.yellow('! warning')} ${w}\n`);
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
	if (ctx.mode === 'json')
		return writeJson(ctx, {
			schema: 'ovl.docker-ls/v1',
			dataRoot: store.dataRoot,
			home: store.home,
			containers,
			images,
			...(note ? {note} : {}),
		});
	const s = ctx.style;
	if (ctx.mode === 'plain') {
		for (const c of containers)
			ctx.out(
				`container\t${c.id.slice(0, 12)}\t${c.name}\t${c.image}\t${c.running ? 'running' : 'stopped'}\t${c.layers}\t${c.upper ?? '-'}\n`,
			);
		for (const i of images)
			ctx.out(
				`image\t${i.id.slice(7, 19)}\t${i.tags.join(',') || '-'}\t${i.layers.length}\t${i.layers.map((l) => l.cacheId ?? '?').join(',')}\n`,
			);
	} else {
		ctx.out(`${s.bold(`containers (${containers.length})`)}\n`);
		for (const c of containers)
			ctx.out(
				`  ${c.id.slice(0, 12)}  ${c.name.padEnd(16)} ${c.image.padEnd(18)} ${c.running ? s.green('running') : s.dim('stopped')}  ${c.layers} layers  upper ${c.upper ?? '?'}\n`,
			);
		ctx.out(`${s.bold(`images (${images.length})`)}\n`);
		for (const i of images)
			ctx.out(
				`  ${i.id.slice(7, 19)}  ${(i.tags.join(', ') || '<none>').padEnd(24)} ${i.layers.length} layers: ${i.layers.map((l) => (l.cacheId ?? '?').slice(0, 12)).join(' ')}\n`,
			);
	}
	if (note) ctx.err(`${s.dim(note)}\n`);
}

/** `ovl docker inspect`: the inspect report of a container or image, layers named by image layer. */
export async function dockerInspectCommand(
	o: {ref: string; dataRoot: string | undefined; strict: boolean},
	ctx: Context,
): Promise<number> {
	const store = await readStore(await dataRootOf(o.dataRoot));
	const located = await locateDocker(store, o.ref);
	const report = await inspectFlow(located, {withChanges: false});
	if (ctx.mode === 'json') writeJson(ctx, {...report, target: located.title});
	else if (ctx.mode === 'plain') ctx.out(plainEntries(report));
	else if (ctx.interactive) {
		const {runExplorer} = await import('../ui/render.js');
		await runExplorer(
			report,
			() => lowerListing(located.lowers, report.entries, 'trusted'),
			(node) => layerDetails(located.facts.layers, node.path, node.entry?.redirect?.origin ?? node.entry?.origin),
		);
	} else {
		ctx.out(`${ctx.style.bold(located.title)}\n`);
		ctx.out(humanReport(report, ctx.style, Math.max(10, ctx.deps.terminal.rows - 16)));
	}
	if (ctx.mode !== 'json') ctx.err(formatFindings(report.findings, ctx.style));
	return o.strict && report.findings.some((f) => f.severity === 'error') ? exitCodes.failure : exitCodes.ok;
}
