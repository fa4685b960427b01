import {existsSync, readFileSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {diskUsage, dockerInfo, readDaemonJson, type DaemonJson} from './host.js';

export const knownDrivers = ['overlay2', 'fuse-overlayfs', 'vfs', 'btrfs', 'zfs', 'aufs', 'devicemapper'] as const;
export const snapshotterDir = path.join('containerd', 'daemon', 'io.containerd.snapshotter.v1.overlayfs');

export type DriverDir = {
	readonly driver: string;
	readonly path: string;
	readonly bytes: number;
	readonly layers: number;
	readonly images: number;
	readonly containers: number;
	readonly active: boolean;
};

export type DriverReport = {
	readonly schema: 'ovl.docker-driver/v1';
	readonly source: 'docker info' | 'daemon.json' | 'guess';
	readonly activeDriver: string | undefined;
	readonly dataRoot: string;
	readonly daemonJson: DaemonJson;
	readonly serverVersion?: string;
	readonly drivers: readonly DriverDir[];
	readonly warnings: readonly string[];
	/** Whether `docker info` answered; when not, why (the active driver is then read from daemon.json or guessed). */
	readonly daemon: {readonly answered: boolean; readonly reason?: string};
};

/** Containers whose config names this graph driver: <data-root>/containers is shared by every driver. */
function containersOf(dataRoot: string, driver: string): number {
	let n = 0;
	for (const id of safeList(path.join(dataRoot, 'containers'))) {
		try {
			const config = JSON.parse(readFileSync(path.join(dataRoot, 'containers', id, 'config.v2.json'), 'utf8')) as {
				Driver?: string;
			};
			if (config.Driver === driver) n++;
		} catch {
			// not a container dir, or unreadable: not counted for any driver
		}
	}
	return n;
}

function safeList(p: string): string[] {
	try {
		return readdirSync(p);
	} catch {
		return [];
	}
}

const count = (p: string, skip: readonly string[] = []): number => {
	try {
		return readdirSync(p).filter((n) => !skip.includes(n)).length;
	} catch {
		return 0;
	}
};

/** The storage-driver picture of a Docker host: what is active, what each driver directory holds. */
export async function driverReport(dataRootFlag: string | undefined): Promise<DriverReport> {
	const info = await dockerInfo();
	const daemon = readDaemonJson();
	const fromJson = daemon.settings['storage-driver'];
	const dataRoot =
		dataRootFlag ??
		info?.DockerRootDir ??
		(typeof daemon.settings['data-root'] === 'string' ? (daemon.settings['data-root'] as string) : '/var/lib/docker');
	let active = info?.Driver ?? (typeof fromJson === 'string' ? fromJson : undefined);
	const source = info?.Driver ? 'docker info' : active ? 'daemon.json' : 'guess';
	const drivers: DriverDir[] = [];
	for (const d of knownDrivers) {
		const p = path.join(dataRoot, d);
		if (!existsSync(p)) continue;
		drivers.push({
			driver: d,
			path: p,
			bytes: diskUsage(p),
			layers: count(p, ['l']),
			images: count(path.join(dataRoot, 'image', d, 'imagedb', 'content', 'sha256')),
			containers: count(path.join(dataRoot, 'image', d, 'layerdb', 'mounts')),
			active: false,
		});
	}
	const snap = path.join(dataRoot, snapshotterDir);
	if (existsSync(snap))
		drivers.push({
			driver: 'overlayfs (containerd snapshotter)',
			path: snap,
			bytes: diskUsage(snap),
			layers: count(path.join(snap, 'snapshots')),
			images: count(path.join(dataRoot, 'containerd', 'daemon', 'io.containerd.content.v1.content', 'blobs', 'sha256')),
			containers: containersOf(dataRoot, 'overlayfs'),
			active: false,
		});
	// Without the daemon or a setting, the driver with the most containers is the best guess.
	if (!active) active = [...drivers].sort((a, b) => b.containers + b.images - (a.containers + a.images))[0]?.driver;
	const marked = drivers.map((d) => ({
		...d,
		active: d.driver === active || (active === 'overlayfs' && d.driver.startsWith('overlayfs')),
	}));
	const warnings = marked
		.filter((d) => !d.active && (d.images > 0 || d.containers > 0))
		.map(
			(d) =>
				`${d.images} image(s) and ${d.containers} container(s) live under ${d.driver}, which is not the active driver (${active ?? 'unknown'}): docker does not show them; switching back to ${d.driver} makes them visible again`,
		);
	const answered = info !== undefined;
	return {
		schema: 'ovl.docker-driver/v1',
		source,
		activeDriver: active,
		dataRoot,
		daemonJson: daemon,
		...(info?.ServerVersion ? {serverVersion: info.ServerVersion} : {}),
		drivers: marked,
		warnings,
		daemon: answered
			? {answered}
			: {
					answered,
					reason:
						'no docker CLI answered `docker info` (daemon stopped, socket elsewhere: set DOCKER_HOST, or no permission)',
				},
	};
}
