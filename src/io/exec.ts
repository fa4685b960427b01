import {closeSync, constants, openSync} from 'node:fs';
import {execa} from 'execa';
import {encodePath, fsPath, hasRawBytes, printablePath} from '../core/bytes.js';
import type {MountPlan} from '../core/types.js';
import {native} from './native.js';

export type ToolResult = {readonly ok: boolean; readonly exitCode: number; readonly output: string};

// util-linux 2.39+ passes each -o option through fsconfig(2), which caps a value at 255 bytes; a
// long lowerdir= then fails with EINVAL. Forcing mount(2) keeps the one-page budget we plan for.
const mountEnv = {LIBMOUNT_FORCE_MOUNT2: 'always', LC_ALL: 'C'};

/** Runs mount(8) exactly as planned: argv array, planned cwd, and for `fd` the opened layers as fds 3…. */
export async function runMount(plan: MountPlan): Promise<ToolResult> {
	const [cmd, ...args] = plan.argv;
	const fds: number[] = [];
	try {
		// Node opens with O_CLOEXEC; spawn dup2()s each into place for the child, which clears it.
		for (const p of plan.fdPaths) fds.push(openSync(fsPath(p), constants.O_RDONLY | constants.O_DIRECTORY));
		const result = await execa(cmd ?? 'mount', args, {
			reject: false,
			all: true,
			env: mountEnv,
			...(plan.cwd === undefined ? {} : {cwd: plan.cwd}),
			// execa's types only list fds 3-9 here; any inherited descriptor works at run time.
			...(fds.length === 0
				? {stdin: 'ignore' as const}
				: {stdio: ['ignore', 'pipe', 'pipe', ...fds] as unknown as ['ignore', 'pipe', 'pipe']}),
		});
		return {ok: result.exitCode === 0, exitCode: result.exitCode ?? -1, output: String(result.all ?? '')};
	} finally {
		for (const fd of fds) closeSync(fd);
	}
}

export async function runUmount(target: string, lazy: boolean): Promise<ToolResult> {
	// umount(8) takes its target as an argv string; a name that is not UTF-8 needs umount2(2) itself.
	if (hasRawBytes(target)) {
		const n = native();
		if (!n)
			return {
				ok: false,
				exitCode: 32,
				output: `umount: ${printablePath(target)} is not UTF-8 and the native helper is not built (npm install with a C compiler)`,
			};
		try {
			n.umount2(encodePath(target), lazy ? 2 /* MNT_DETACH */ : 0);
			return {ok: true, exitCode: 0, output: ''};
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			return {
				ok: false,
				exitCode: 32,
				output: `umount: ${printablePath(target)}: ${code === 'EBUSY' ? 'target is busy.' : (error as Error).message}`,
			};
		}
	}
	const result = await execa('umount', [...(lazy ? ['-l'] : []), target], {
		reject: false,
		all: true,
		stdin: 'ignore',
		env: {LC_ALL: 'C'},
	});
	return {ok: result.exitCode === 0, exitCode: result.exitCode ?? -1, output: String(result.all ?? '')};
}

export async function toolVersion(cmd: string): Promise<string | undefined> {
	try {
		const {stdout} = await execa(cmd, ['--version'], {env: {LC_ALL: 'C'}});
		return stdout.trim().split('\n')[0];
	} catch {
		return undefined;
	}
}
