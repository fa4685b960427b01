import {lstatSync, readFileSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';

export type DockerInfo = {
	readonly Driver?: string;
	readonly DockerRootDir?: string;
	readonly DriverStatus?: readonly (readonly [string, string])[];
	readonly ServerVersion?: string;
};

/** `docker info` as JSON, or undefined when the CLI or the daemon does not answer (5 s at most). */
export async function dockerInfo(): Promise<DockerInfo | undefined> {
	try {
		const r = await execa('docker', ['info', '--format', '{{json .}}'], {
			timeout: 5000,
			reject: false,
			stdin: 'ignore',
		});
		if (r.exitCode !== 0) return undefined;
		const info = JSON.parse(String(r.stdout)) as DockerInfo & {ServerErrors?: unknown[]};
		return info.Driver === undefined && info.DockerRootDir === undefined ? undefined : info;
	} catch {
		return undefined;
	}
}

/** GraphDriver data of a container or image from `docker inspect`, when the daemon answers. */
export async function dockerInspect(
	ref: string,
): Promise<{Name?: string; Data?: Record<string, string>; id?: string} | undefined> {
	try {
		const r = await execa('docker', ['inspect', '--format', '{{json .}}', ref], {
			timeout: 5000,
			reject: false,
			stdin: 'ignore',
		});
		if (r.exitCode !== 0) return undefined;
		const doc = JSON.parse(String(r.stdout).split('\n')[0] ?? '{}') as {
			Id?: string;
			GraphDriver?: {Name?: string; Data?: Record<string, string>};
		};
		return doc.GraphDriver ? {...doc.GraphDriver, ...(doc.Id ? {id: doc.Id} : {})} : undefined;
	} catch {
		return undefined;
	}
}

export type DaemonJson = {
	readonly path: string;
	readonly exists: boolean;
	readonly settings: Readonly<Record<string, unknown>>;
	readonly error?: string;
};

export function readDaemonJson(file = process.env['OVL_DOCKER_DAEMON_JSON'] ?? '/etc/docker/daemon.json'): DaemonJson {
	let text: string;
	try {
		text = readFileSync(file, 'utf8');
	} catch {
		return {path: file, exists: false, settings: {}};
	}
	try {
		return {path: file, exists: true, settings: JSON.parse(text) as Record<string, unknown>};
	} catch (e) {
		return {path: file, exists: true, settings: {}, error: (e as Error).message};
	}
}

/** Allocated bytes below a directory: no symlinks followed, hard links once, other mounts (merged/) skipped. */
export function diskUsage(dir: string): number {
	const seen = new Set<string>();
	let total = 0;
	const root = lstatSync(dir, {throwIfNoEntry: false});
	if (!root) return 0;
	const walk = (d: string): void => {
		let names: string[];
		try {
			names = readdirSync(d);
		} catch {
			return;
		}
		for (const n of names) {
			const p = path.join(d, n);
			const st = lstatSync(p, {throwIfNoEntry: false});
			if (!st || st.dev !== root.dev) continue;
			const key = `${st.ino}`;
			if (st.nlink > 1 && !st.isDirectory()) {
				if (seen.has(key)) continue;
				seen.add(key);
			}
			total += st.blocks * 512;
			if (st.isDirectory()) walk(p);
		}
	};
	walk(dir);
	return total;
}
