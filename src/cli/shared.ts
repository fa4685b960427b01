import type {Argv} from 'yargs';
import type {Context} from '../context.js';

// What every command module needs: the global flags, the way a handler runs, and the layer flags
// shared by inspect, diff and export.

export type Global = {json: boolean; plain: boolean; verbose: boolean; color: boolean | undefined};

/** Runs a command's action with its context; the number it returns is the exit code. */
export type Runner = (argv: Global, action: (c: Context) => Promise<number | void>) => Promise<void>;

/** A group of commands added to the parser; `args` are the raw arguments (for `--` and re-exec). */
export type Commands = (y: Argv<Global>, run: Runner, args: readonly string[]) => Argv<Global>;

export function layerOptions<T>(y: Argv<T>) {
	return y
		.positional('merged', {type: 'string', describe: 'mount point of the overlay'})
		.option('upper', {type: 'string', describe: 'offline: the upper layer'})
		.option('lower', {type: 'string', describe: 'offline: a lower layer, bottom → top (repeat)'})
		.option('work', {type: 'string', describe: 'offline: the work dir (for its findings)'})
		.option('userxattr', {type: 'boolean', default: false, describe: 'offline: the layers use user.overlay.* xattrs'})
		.option('root', {type: 'string', describe: 'resolve relative layer paths recorded by the kernel against DIR'});
}

export function layerArgs(argv: {
	merged?: string | undefined;
	upper?: string | undefined;
	lower?: unknown;
	work?: string | undefined;
	userxattr: boolean;
	root?: string | undefined;
}) {
	return {
		merged: argv.merged,
		upper: argv.upper,
		lowers: strings(argv.lower),
		work: argv.work,
		userxattr: argv.userxattr,
		root: argv.root,
	};
}

export const strings = (v: unknown): string[] =>
	Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)];

/**
 Examples as help text: each command on a line of its own and what it does below it. yargs'
 .example() puts them in two columns and breaks long commands mid-word; these never break.
 `$0` is ovl; `note` (a paragraph) comes first.
 */
export function examples(list: readonly (readonly [string, string])[], note?: string): string {
	const lines = list.map(([cmd, what]) => `  ${cmd.replace(/\$0/g, 'ovl')}${what ? `\n      ${what}` : ''}`);
	return `${note ? `${note}\n\n` : ''}Examples:\n${lines.join('\n')}`;
}

/** What stackOptions parsed, as commands/stack-input.ts takes it (the mount point comes separately). */
export function stackArgs(argv: {
	dir?: string | undefined;
	stack?: string | undefined;
	lower?: unknown;
	lowerdir?: string | undefined;
	upper?: string | undefined;
	work?: string | undefined;
	option?: unknown;
}) {
	return {
		dir: argv.dir,
		stack: argv.stack,
		lowers: strings(argv.lower),
		lowerdir: argv.lowerdir,
		upper: argv.upper,
		work: argv.work,
		options: strings(argv.option),
	};
}

/** The ways to name a stack, shared by mount and shell: a stack file, or layers as flags. */
export function stackOptions<T>(y: Argv<T>) {
	return y
		.option('stack', {type: 'string', describe: 'stack file to read instead of <dir>/ovl.yaml'})
		.option('lower', {type: 'string', describe: 'lower layer, bottom → top (repeat)'})
		.option('lowerdir', {type: 'string', describe: 'kernel-style TOP:…:BOTTOM list (\\: escapes, :: data-only)'})
		.option('upper', {type: 'string', describe: 'upper (writable) layer'})
		.option('work', {type: 'string', describe: 'work dir, on the same mount as the upper'})
		.option('option', {alias: 'o', type: 'string', describe: 'mount option k=v or flag (repeat)'});
}
