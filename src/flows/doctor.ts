import {exitCodes} from '../core/exit-codes.js';
import {nativeStatus} from '../io/native.js';
import {appendFile, lstat, mkdir, mkdtemp, readFile, realpath, rename, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {hostChecks, pathChecks, verdict, type Check, type HostReport, type PathProbe} from '../core/doctor.js';
import {OvlError} from '../core/errors.js';
import {mountContaining} from '../core/mountinfo.js';
import {toolVersion} from '../io/exec.js';
import {kernelLogCursor} from '../io/kmsg.js';
import type {Deps} from './deps.js';
import {mountStack} from './mount.js';
import {isInUserNamespace, overlayModuleLoaded, readKernelFacts, readSysctl} from '../io/proc.js';
import {readXattr, trySetXattr} from '../io/xattr.js';

export async function gatherHostReport(deps: Deps): Promise<HostReport> {
	const [kernel, utilLinux, inUserNamespace, maxNs, clone] = await Promise.all([
		readKernelFacts(),
		toolVersion('mount'),
		isInUserNamespace(),
		readSysctl('user/max_user_namespaces'),
		readSysctl('kernel/unprivileged_userns_clone'),
	]);
	return {
		release: kernel.release,
		version: kernel.version,
		overlayListed: kernel.overlayListed,
		moduleLoaded: overlayModuleLoaded(),
		native: nativeStatus(),
		params: kernel.params,
		utilLinux,
		euid: deps.euid,
		inUserNamespace,
		maxUserNamespaces: maxNs === undefined ? undefined : Number(maxNs),
		unprivilegedUsernsClone: clone,
		pageSize: kernel.pageSize,
		kmsgReadable: kernelLogCursor().readable,
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
export async function probePath(dir: string, deps: Deps): Promise<PathProbe> {
	const base = await realpath(dir).catch(() => {
		throw new OvlError(
			'OVL_PATH_MISSING',
			`${dir} does not exist`,
			'create it, or name the directory whose filesystem you want to test',
			{exitCode: exitCodes.usage},
		);
	});
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

export type DoctorResult = {
	readonly schema: 'ovl.doctor/v1';
	readonly verdict: ReturnType<typeof verdict>;
	readonly host: HostReport;
	readonly probe: PathProbe | undefined;
	readonly checks: readonly Check[];
};

/** `ovl doctor [--path DIR]`: host facts, and with a dir a real test mount there, judged. */
export async function doctorFlow(dir: string | undefined, deps: Deps): Promise<DoctorResult> {
	const host = await gatherHostReport(deps);
	const checks = hostChecks(host);
	const probe = dir === undefined ? undefined : await probePath(dir, deps);
	if (probe) checks.push(...pathChecks(probe));
	return {schema: 'ovl.doctor/v1', verdict: verdict(checks), host, probe, checks};
}
