import type {StdioOptions} from 'node:child_process';
import {constants} from 'node:os';
import {native} from './native.js';
import type {ToolResult} from './umount.js';

// The one child process on a hot path (mount(8), which scripts call hundreds of times) does not go
// through execa (~200 ms of start-up here) nor, with the native helper, through node:child_process:
// loading it and forking the whole heap cost ~10 ms before mount(8) even runs; posix_spawn is a
// vfork-style clone (native/spawn.c). Same rules either way: an argv array, never a shell; stdout
// and stderr interleaved as the tool wrote them.

type ToolOptions = {env: Record<string, string>; cwd?: string; extraFds?: readonly number[]};

export function runTool(cmd: string, args: readonly string[], options: ToolOptions): Promise<ToolResult> {
	const api = native();
	return api ? runNative(api, cmd, args, options) : runChild(cmd, args, options);
}

// The first name of each number (SIGABRT, not its alias SIGIOT), as child_process reports it.
const signalName = new Map<number, string>();
for (const [name, n] of Object.entries(constants.signals)) if (!signalName.has(n)) signalName.set(n, name);

async function runNative(
	api: NonNullable<ReturnType<typeof native>>,
	cmd: string,
	args: readonly string[],
	options: ToolOptions,
): Promise<ToolResult> {
	const env = Object.entries({...process.env, ...options.env}).flatMap(([k, v]) =>
		v === undefined ? [] : [`${k}=${v}`],
	);
	try {
		const r = await api.spawn(cmd, [cmd, ...args], env, options.cwd ?? null, options.extraFds ?? []);
		const signal = r.signal ? `\n${cmd} killed by ${signalName.get(r.signal) ?? `signal ${r.signal}`}` : '';
		return {ok: r.status === 0, exitCode: r.status, output: r.output.toString('utf8') + signal};
	} catch (error) {
		const e = error as NodeJS.ErrnoException;
		return {ok: false, exitCode: -1, output: `${cmd}: ${e.code ?? e.message}`};
	}
}

/** node:child_process: the fallback without the native helper (and what tests compare it with). */
export async function runChild(cmd: string, args: readonly string[], options: ToolOptions): Promise<ToolResult> {
	const {spawn} = await import('node:child_process');
	const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', ...(options.extraFds ?? [])];
	return new Promise((resolve) => {
		const chunks: Buffer[] = [];
		const child = spawn(cmd, [...args], {
			shell: false,
			stdio,
			env: {...process.env, ...options.env},
			...(options.cwd === undefined ? {} : {cwd: options.cwd}),
		});
		child.stdout?.on('data', (c: Buffer) => chunks.push(c));
		child.stderr?.on('data', (c: Buffer) => chunks.push(c));
		child.on('error', (error: NodeJS.ErrnoException) =>
			resolve({ok: false, exitCode: -1, output: `${cmd}: ${error.code ?? error.message}`}),
		);
		child.on('close', (code, signal) =>
			resolve({
				ok: code === 0,
				exitCode: code ?? -1,
				output: Buffer.concat(chunks).toString('utf8') + (signal ? `\n${cmd} killed by ${signal}` : ''),
			}),
		);
	});
}
