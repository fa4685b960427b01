import {spawn, type ChildProcess} from 'node:child_process';
import {
	chmodSync,
	copyFileSync,
	existsSync,
	mkdirSync,
	mkdtempSync,
	readFileSync,
	readdirSync,
	rmdirSync,
	symlinkSync,
} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {parseMountinfo} from '../../src/core/mountinfo.js';
import {waitUntil} from './wait.js';

// A private Docker engine for the tests: Debian's dockerd with its own data-root, exec-root,
// pidfile and socket under a short temp dir, no networking, overlay2; stopped by its pid with
// everything it made removed (shared/docs/engines.md).

export type Engine = {
	readonly dir: string;
	readonly dataRoot: string;
	readonly env: Record<string, string>;
	docker(
		args: readonly string[],
		options?: {input?: string | Buffer; cwd?: string; env?: Record<string, string>},
	): Promise<{stdout: string; stderr: string; exitCode: number}>;
	stop(): Promise<void>;
};

export const dockerBin = '/usr/bin/docker'; // Debian's client, matching its 20.10 daemon
const shared = ['/run/containerd', '/var/run/docker'];

/** Why a private engine cannot run here, or undefined when it can. */
export function engineUnavailable(): string | undefined {
	if (process.geteuid?.() !== 0) return 'not root';
	for (const bin of ['/usr/sbin/dockerd', dockerBin, '/usr/bin/busybox'])
		if (!existsSync(bin)) return `${bin} is missing (apt-get install docker.io busybox-static; .ci/run does)`;
	return undefined;
}

export async function startEngine(): Promise<Engine> {
	const existed = shared.filter((d) => existsSync(d));
	const dir = mkdtempSync('/tmp/od-'); // short: containerd's socket under exec-root must fit 107 bytes
	const dataRoot = path.join(dir, 'root');
	const sock = `unix://${dir}/docker.sock`;
	const env = {DOCKER_HOST: sock, DOCKER_BUILDKIT: '0'};
	const log: string[] = [];
	const daemon: ChildProcess = spawn(
		'/usr/sbin/dockerd',
		[
			'--data-root',
			dataRoot,
			'--exec-root',
			path.join(dir, 'exec'),
			'--pidfile',
			path.join(dir, 'dockerd.pid'),
			'-H',
			sock,
			'--iptables=false',
			'--ip-masq=false',
			'--ip-forward=false',
			'--bridge=none',
			'--storage-driver=overlay2',
		],
		{stdio: ['ignore', 'pipe', 'pipe']},
	);
	daemon.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
	daemon.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
	const docker: Engine['docker'] = async (args, options = {}) => {
		const r = await execa(dockerBin, [...args], {
			env: {...env, ...options.env},
			reject: false,
			...(options.input === undefined ? {stdin: 'ignore' as const} : {input: options.input}),
			...(options.cwd ? {cwd: options.cwd} : {}),
			timeout: 120_000,
		});
		return {stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1};
	};
	const stop = async (): Promise<void> => {
		const ids = (await docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
		if (ids.length > 0) await docker(['rm', '-f', ...ids]);
		if (daemon.exitCode === null) {
			daemon.kill('SIGTERM');
			if (!(await waitUntil(() => daemon.exitCode !== null || daemon.signalCode !== null, 30_000)))
				daemon.kill('SIGKILL');
			await waitUntil(() => daemon.exitCode !== null || daemon.signalCode !== null, 10_000);
		}
		// containerd-shim and containerd are its children; make sure none outlives the test.
		await execa('pkill', ['-f', `${dir}/`], {reject: false});
		for (const m of parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))
			.map((e) => e.mountPoint)
			.filter((m) => m.startsWith(`${dir}/`))
			.reverse())
			await execa('umount', ['-l', m], {reject: false});
		await execa('rm', ['-rf', dir], {reject: false});
		for (const d of shared) if (!existed.includes(d)) removeEmptyTree(d);
	};
	const up = await waitUntil(
		async () => (await docker(['version', '--format', '{{.Server.Version}}'])).exitCode === 0,
		60_000,
		200,
	);
	if (!up) {
		await stop();
		throw new Error(`dockerd did not come up within 60 s:\n${log.join('').slice(-2000)}`);
	}
	return {dir, dataRoot, env, docker, stop};
}

/** rmdir of a tree made only of empty directories (what dockerd leaves in /run); anything else stays. */
function removeEmptyTree(d: string): void {
	if (!existsSync(d)) return;
	for (const n of readdirSync(d, {withFileTypes: true})) if (n.isDirectory()) removeEmptyTree(path.join(d, n.name));
	try {
		rmdirSync(d);
	} catch {
		// not empty: not ours to remove
	}
}

/** A busybox rootfs (static binary + applet links) as a tar stream: every engine's offline base image. */
export async function busyboxRootfsTar(scratch: string): Promise<Buffer> {
	const rootfs = path.join(scratch, 'rootfs');
	for (const d of ['bin', 'etc', 'tmp', 'var', 'usr/bin']) mkdirSync(path.join(rootfs, d), {recursive: true});
	copyFileSync('/usr/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
	chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
	chmodSync(path.join(rootfs, 'tmp'), 0o1777);
	const applets = (await execa('/usr/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox');
	for (const a of applets) symlinkSync('busybox', path.join(rootfs, 'bin', a));
	const tar = await execa('tar', ['-C', rootfs, '-c', '.'], {encoding: 'buffer'});
	await execa('rm', ['-rf', rootfs]);
	return Buffer.from(tar.stdout);
}

/** The busybox rootfs imported as `tag` without any registry. */
export async function importBusybox(engine: Engine, tag: string): Promise<void> {
	const r = await engine.docker(['import', '-', tag], {input: await busyboxRootfsTar(engine.dir)});
	if (r.exitCode !== 0) throw new Error(`docker import failed: ${r.stderr}`);
}
