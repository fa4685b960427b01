import {spawn, type StdioOptions} from 'node:child_process';
import type {ToolResult} from './umount.js';

// The one child process on a hot path (mount(8), which scripts call hundreds of times) runs
// through node:child_process directly: loading execa costs ~200 ms of start-up here (measured:
// `node -e "await import('execa')"` 0.32 s vs 0.11 s), more than the mount itself. Same rules as
// everywhere: an argv array, never a shell; stdout and stderr interleaved as the tool wrote them.

export function runTool(
	cmd: string,
	args: readonly string[],
	options: {env: Record<string, string>; cwd?: string; extraFds?: readonly number[]},
): Promise<ToolResult> {
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
