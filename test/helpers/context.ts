import type {Context, OutputMode} from '../../src/context.js';
import {parseMountinfo} from '../../src/core/mountinfo.js';
import type {Deps} from '../../src/flows/deps.js';
import {openRegistry} from '../../src/io/registry.js';
import type {ToolResult} from '../../src/io/exec.js';
import {makeStyle} from '../../src/ui/style.js';

export type FakeWorld = {
	readonly ctx: Context;
	/** What the command wrote to stdout and stderr. */
	readonly out: () => string;
	readonly err: () => string;
	/** Every mount(8)/umount(8) the command asked for. */
	readonly calls: string[];
};

/**
 A command run in-process against a world given as data: mountinfo text, a registry dir, a
 fixed clock and euid, a terminal size, and umount(8)/mount(8) answers. No process globals.
 */
export function fakeContext(o: {
	cwd: string;
	registryDir: string;
	mode?: OutputMode;
	mountinfo?: string;
	euid?: number;
	rows?: number;
	umount?: (target: string, lazy: boolean) => ToolResult;
}): FakeWorld {
	let out = '';
	let err = '';
	const calls: string[] = [];
	const deps: Deps = {
		registry: openRegistry(o.registryDir),
		now: () => new Date('2026-12-02T06:00:00Z'),
		euid: o.euid ?? 0,
		terminal: {rows: o.rows ?? 40, columns: 100},
		exec: {
			mount: async (plan) => {
				calls.push(`mount ${plan.argv.join(' ')}`);
				return {ok: false, exitCode: 32, output: 'mount: not in a fake world'};
			},
			umount: async (target, lazy) => {
				calls.push(`umount${lazy ? ' -l' : ''} ${target}`);
				return o.umount?.(target, lazy) ?? {ok: true, exitCode: 0, output: ''};
			},
		},
		mountinfo: async () => parseMountinfo(o.mountinfo ?? ''),
	};
	const ctx: Context = {
		out: (s) => void (out += s),
		err: (s) => void (err += s),
		mode: o.mode ?? 'plain',
		verbose: false,
		style: makeStyle(false),
		cwd: o.cwd,
		interactive: false,
		stderrTTY: false,
		deps,
	};
	return {ctx, out: () => out, err: () => err, calls};
}
