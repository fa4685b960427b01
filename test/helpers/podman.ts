import {existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {parseMountinfo} from '../../src/core/mountinfo.js';
import {busyboxRootfsTar} from './dockerd.js';

// Debian's Podman with a private containers/storage store (shared/docs/engines.md): its own
// --root/--runroot under a temp dir, overlay driver, cgroupfs, file events, runc (crun fails on
// this host's hybrid cgroups), no network, never a registry. Torn down with everything it made.

export type Podman = {
	readonly dir: string;
	readonly root: string;
	podman(
		args: readonly string[],
		options?: {input?: Buffer},
	): Promise<{stdout: string; stderr: string; exitCode: number}>;
	stop(): Promise<void>;
};

export const podmanBin = '/usr/bin/podman';
// What podman 4.3 (as root) creates outside its --root whatever the flags: removed again when it was absent before.
const shared = ['/run/containers', '/var/lib/containers', '/var/cache/containers', '/etc/cni/net.d/cni.lock'];

export function podmanUnavailable(): string | undefined {
	if (process.geteuid?.() !== 0) return 'not root';
	for (const bin of [podmanBin, '/usr/sbin/runc', '/usr/bin/busybox'])
		if (!existsSync(bin)) return `${bin} is missing (apt-get install podman runc busybox-static; .ci/run does)`;
	return undefined;
}

/** Flags for run/create: runc cannot set the host's default rlimits here, and no image is ever pulled. */
export const runFlags = [
	'--network',
	'none',
	'--pull=never',
	'--ulimit',
	'nofile=1024:1024',
	'--ulimit',
	'nproc=1024:1024',
];

export async function startPodman(): Promise<Podman> {
	const dir = mkdtempSync('/tmp/op-');
	const root = path.join(dir, 'root');
	const existed = shared.filter((d) => existsSync(d));
	const global = [
		'--root',
		root,
		'--runroot',
		path.join(dir, 'run'),
		'--tmpdir',
		path.join(dir, 'tmp'),
		'--storage-driver',
		'overlay',
		'--cgroup-manager',
		'cgroupfs',
		'--events-backend',
		'file',
		'--runtime',
		'/usr/sbin/runc',
		'--network-backend',
		'netavark',
		'--network-config-dir',
		path.join(dir, 'net'),
	];
	// Locks in our tmpdir, not the host-wide /dev/shm/libpod_lock another podman may use; no
	// network namespace setup (no iptables chains); our own config dir for what podman writes there.
	mkdirSync(path.join(dir, 'tmp'));
	writeFileSync(
		path.join(dir, 'containers.conf'),
		`[containers]\nnetns = "none"\n[engine]\nlock_type = "file"\npull_policy = "never"\nimage_copy_tmp_dir = "${path.join(dir, 'tmp')}"\n`,
	);
	const env = {
		CONTAINERS_CONF: path.join(dir, 'containers.conf'),
		TMPDIR: path.join(dir, 'tmp'),
		XDG_CONFIG_HOME: path.join(dir, 'config'),
	};
	const podman: Podman['podman'] = async (args, options = {}) => {
		const r = await execa(podmanBin, [...global, ...args], {
			env,
			reject: false,
			timeout: 120_000,
			...(options.input ? {input: options.input} : {stdin: 'ignore' as const}),
		});
		return {stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1};
	};
	const stop = async (): Promise<void> => {
		await podman(['rm', '-af', '-t', '0']);
		await podman(['umount', '-a']);
		// conmon and the container processes are started with our --root in their argv.
		await execa('pkill', ['-f', `${dir}/`], {reject: false});
		for (const m of parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))
			.map((e) => e.mountPoint)
			.filter((m) => m.startsWith(`${dir}/`))
			.reverse())
			await execa('umount', ['-l', m], {reject: false});
		await execa('rm', ['-rf', dir], {reject: false});
		for (const d of shared) if (!existed.includes(d)) await execa('rm', ['-rf', d], {reject: false});
	};
	return {dir, root, podman, stop};
}

/** A busybox rootfs imported as `tag`, no registry. */
export async function importBusyboxPodman(p: Podman, tag: string): Promise<void> {
	const r = await p.podman(['import', '-', tag], {input: await busyboxRootfsTar(p.dir)});
	if (r.exitCode !== 0) throw new Error(`podman import failed: ${r.stderr}`);
}
