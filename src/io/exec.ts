import {closeSync, constants, openSync} from 'node:fs';
import {fsPath} from '../core/bytes.js';
import type {MountPlan} from '../core/types.js';

import {runTool} from './spawn.js';
import type {ToolResult} from './umount.js';

export type {ToolResult};

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
		return await runTool(cmd ?? 'mount', args, {
			env: mountEnv,
			...(plan.cwd === undefined ? {} : {cwd: plan.cwd}),
			extraFds: fds,
		});
	} finally {
		for (const fd of fds) closeSync(fd);
	}
}

export async function toolVersion(cmd: string): Promise<string | undefined> {
	const r = await runTool(cmd, ['--version'], {env: {LC_ALL: 'C'}});
	return r.ok ? r.output.trim().split('\n')[0] : undefined;
}
