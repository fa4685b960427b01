import {exitCodes} from '../core/exit-codes.js';
import {nativeStatus} from '../io/native.js';
import {scannerStatus} from '../io/scan.js';
import {appendFile, lstat, mkdir, mkdtemp, readFile, realpath, rename, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import {execa} from 'execa';
import {
	hostChecks,
	pathChecks,
	routeChecks,
	routes,
	verdict,
	type Check,
	type HostReport,
	type PathProbe,
	type Route,
} from '../core/doctor.js';
import {OvlError} from '../core/errors.js';
import {mountContaining} from '../core/mountinfo.js';
import {toolVersion} from '../io/exec.js';
import {kernelLogReadable} from '../io/kmsg.js';
import type {Deps} from './deps.js';
import {mountStack} from './mount.js';
import {isInUserNamespace, overlayModuleLoaded, readKernelFacts, readMountinfo, readSysctl} from '../io/proc.js';
import {readXattr, trySetXattr} from '../io/xattr.js';

/** The rootless route's namespace: what ovl shell and ovl lab run in as a user. */
const usernsFlags = ['--user', '--map-root-user', '--mount'];

/** Can this user make the namespace ovl shell and ovl lab use? (A real try: sysctls, LSMs and seccomp all have a say.) */
async function tryUserNamespace(): Promise<{usable: boolean; reason?: string}> {
	const r = await execa('unshare', [...usernsFlags, 'true'], {reject: false, all: true, stdin: 'ignore'});
	if (r.exitCode === 0) return {usable: true};
	return {usable: false, reason: String(r.all ?? '').trim() || r.code || r.shortMessage || 'unshare failed'};
}

export async function gatherHostReport(deps: Deps): Promise<HostReport> {
	const [kernel, utilLinux, inUserNamespace, maxNs, clone, userns] = await Promise.all([
		readKernelFacts(),
		toolVersion('mount'),
		isInUserNamespace(),
		readSysctl('user/max_user_namespaces'),
		readSysctl('kernel/unprivileged_userns_clone'),
		deps.euid === 0 ? undefined : tryUserNamespace(),
	]);
	return {
		release: kernel.release,
		version: kernel.version,
		overlayListed: kernel.overlayListed,
		moduleLoaded: overlayModuleLoaded(),
		native: nativeStatus(),
		scanner: scannerStatus(),
		params: kernel.params,
		utilLinux,
		euid: deps.euid,
		inUserNamespace,
		maxUserNamespaces: maxNs === undefined ? undefined : Number(maxNs),
		unprivilegedUsernsClone: clone,
		pageSize: kernel.pageSize,
		kmsgReadable: kernelLogReadable(),
		...(userns === undefined ? {} : {userns}),
	};
}

const isWhiteout = async (p: string): Promise<boolean> => {
	const st = await lstat(p).catch(() => undefined);
	return st !== undefined && st.isCharacterDevice() && st.rdev === 0;
};

/**
 A real test mount in a scratch dir created inside `dir` (removed afterwards): what the kernel
 does with this filesystem as upper. Refuses to delete anything if the unmount fails.
 */
const existingDir = async (dir: string): Promise<string> =>
	realpath(dir).catch(() => {
		throw new OvlError(
			'OVL_PATH_MISSING',
			`${dir} does not exist`,
			'create it, or name the directory whose filesystem you want to test',
			{exitCode: exitCodes.usage},
		);
	});

export async function probePath(dir: string, deps: Deps): Promise<PathProbe> {
	const base = await existingDir(dir);
	const scratch = await mkdtemp(path.join(base, '.ovl-doctor-'));
	const [l1, l2, u, w, m] = ['l1', 'l2', 'u', 'w', 'm'].map((n) => path.join(scratch, n)) as [
		string,
		string,
		string,
		string,
		string,
	];
	const fsType = mountContaining(await deps.mountinfo(), scratch)?.fsType ?? 'unknown';
	const userns = await isInUserNamespace();
	for (const d of [l1, l2, u, w, m, path.join(l1, 'dir')]) await mkdir(d);
	await writeFile(path.join(l1, 'a'), 'a\n');
	await writeFile(path.join(l1, 'b'), 'b\n');
	await writeFile(path.join(l1, 'dir', 'x'), 'x\n');
	await mkdir(path.join(l2, 'moved'));
	const probeFile = path.join(u, '.probe');
	await writeFile(probeFile, '');
	const trustedXattr = await trySetXattr(probeFile, 'trusted.ovl-doctor', '1');
	const userXattr = await trySetXattr(probeFile, 'user.ovl-doctor', '1');
	await rm(probeFile);
	const ns = userns ? 'user' : 'trusted';
	let result: PathProbe = {
		dir: base,
		fsType,
		trustedXattr,
		userXattr,
		mounted: false,
		usedUserxattr: userns,
		kernelLines: [],
		route: userns ? 'rootless' : 'root',
		kmsgReadable: kernelLogReadable(),
	};
	let stuck: OvlError | undefined;
	try {
		const outcome = await mountStack(
			{
				lowers: [
					{path: l1, dataOnly: false},
					{path: l2, dataOnly: false},
				],
				upper: u,
				work: w,
				merged: m,
				options: userns ? [{key: 'userxattr'}] : [],
			},
			{dryRun: false},
			deps,
		);
		result = {...result, mounted: true, kernelLines: outcome.kernelLines};
		await rm(path.join(m, 'a'));
		await rename(path.join(m, 'b'), path.join(m, 'c'));
		await rm(path.join(m, 'dir'), {recursive: true});
		await mkdir(path.join(m, 'dir'));
		await appendFile(path.join(m, 'c'), 'more\n');
		let redirectDir: string;
		try {
			await rename(path.join(m, 'moved'), path.join(m, 'moved2'));
			redirectDir =
				(await readXattr(path.join(u, 'moved2'), `${ns}.overlay.redirect`))?.toString() ?? 'renamed without redirect';
		} catch (error) {
			redirectDir = (error as NodeJS.ErrnoException).code ?? 'error';
		}
		result = {
			...result,
			whiteout: await isWhiteout(path.join(u, 'a')),
			renameWhiteout: await isWhiteout(path.join(u, 'b')),
			opaque: (await readXattr(path.join(u, 'dir'), `${ns}.overlay.opaque`))?.toString() === 'y',
			copyUp: (await readFile(path.join(u, 'c'), 'utf8').catch(() => '')) === 'b\nmore\n',
			redirectDir,
		};
	} catch (error) {
		if (!(error instanceof OvlError)) throw error;
		result = {
			...result,
			mountError: error.message,
			kernelLines: error.findings.filter((f) => f.message.startsWith('kernel: ')).map((f) => f.message.slice(8)),
		};
	} finally {
		stuck = await removeProbe(m, scratch, deps);
	}
	if (stuck) throw stuck;
	return result;
}

/** Unmounts and removes the probe's scratch dir; if it cannot unmount, removes nothing and says so. */
async function removeProbe(m: string, scratch: string, deps: Deps): Promise<OvlError | undefined> {
	if ((await deps.mountinfo()).some((e) => e.mountPoint === m)) {
		const r = await deps.exec.umount(m, false);
		if (!r.ok)
			return new OvlError(
				'OVL_DOCTOR_CLEANUP',
				`could not unmount the test mount ${m}: ${r.output}`,
				`unmount it by hand (umount ${m}) and remove ${scratch}`,
			);
		await deps.registry.remove(m);
	}
	await rm(scratch, {recursive: true, force: true});
	return undefined;
}

/**
 As a user: the test mount on the rootless route, made by this same ovl run again as
 `ovl doctor --path DIR --json` inside `unshare --user --map-root-user --mount` (where it is root
 and mounts with userxattr, as ovl shell and ovl lab do). Its registry is a temp dir.
 */
export async function probeRootless(
	dir: string,
	self: readonly string[] = [process.execPath, process.argv[1] ?? 'ovl'],
): Promise<PathProbe> {
	const base = await existingDir(dir);
	const runDir = await mkdtemp(path.join(os.tmpdir(), 'ovl-doctor-run-'));
	try {
		const r = await execa('unshare', [...usernsFlags, ...self, 'doctor', '--path', base, '--json'], {
			reject: false,
			stdin: 'ignore',
			env: {OVL_RUN_DIR: runDir, NO_COLOR: '1'},
		});
		let doc: {probe?: PathProbe; error?: {code: string; message: string; hint: string}} = {};
		try {
			doc = JSON.parse(String(r.stdout)) as typeof doc;
		} catch {
			// not ovl's JSON: unshare itself failed
		}
		if (doc.probe) return {...doc.probe, route: 'rootless'};
		if (doc.error?.code === 'OVL_DOCTOR_CLEANUP')
			throw new OvlError('OVL_DOCTOR_CLEANUP', doc.error.message, doc.error.hint);
		const reason = doc.error
			? `${doc.error.code}: ${doc.error.message}`
			: `no user namespace: ${String(r.stderr).trim().split('\n')[0] || r.shortMessage}`;
		return {...(await xattrsOnly(base)), mounted: false, mountError: reason, kernelLines: [], kmsgReadable: false};
	} finally {
		await rm(runDir, {recursive: true, force: true});
	}
}

/** Without a namespace to mount in: the filesystem and its xattrs, as this user sees them. */
async function xattrsOnly(base: string): Promise<Omit<PathProbe, 'mounted' | 'kernelLines'>> {
	const scratch = await mkdtemp(path.join(base, '.ovl-doctor-'));
	try {
		const file = path.join(scratch, '.probe');
		await writeFile(file, '');
		return {
			dir: base,
			fsType: mountContaining(await readMountinfo(), scratch)?.fsType ?? 'unknown',
			trustedXattr: await trySetXattr(file, 'trusted.ovl-doctor', '1'),
			userXattr: await trySetXattr(file, 'user.ovl-doctor', '1'),
			usedUserxattr: true,
			route: 'rootless',
		};
	} finally {
		await rm(scratch, {recursive: true, force: true});
	}
}

export type DoctorResult = {
	readonly schema: 'ovl.doctor/v1';
	readonly verdict: ReturnType<typeof verdict>;
	readonly host: HostReport;
	/** The test mount --path made: as root on the host, as a user on the rootless route (probe.route). */
	readonly probe: PathProbe | undefined;
	/** Both routes to a mount (root, rootless) and what doctor found out about each. */
	readonly routes: readonly Route[];
	readonly checks: readonly Check[];
};

/** `ovl doctor [--path DIR]`: host facts, both routes, and with a dir a real test mount there, judged. */
export async function doctorFlow(dir: string | undefined, deps: Deps, self?: readonly string[]): Promise<DoctorResult> {
	const host = await gatherHostReport(deps);
	const checks = hostChecks(host);
	// A user cannot make the root route's test mount: the test is the rootless route's, in a user namespace.
	const probe =
		dir === undefined ? undefined : deps.euid === 0 ? await probePath(dir, deps) : await probeRootless(dir, self);
	if (probe) checks.push(...pathChecks(probe));
	const rs = routes(host, probe);
	checks.push(...routeChecks(rs));
	return {schema: 'ovl.doctor/v1', verdict: verdict(checks), host, probe, routes: rs, checks};
}
