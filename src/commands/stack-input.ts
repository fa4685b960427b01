import {printablePath} from '../core/bytes.js';
import {isSameOrInside} from '../core/paths.js';
import {readUserFile} from '../io/beneath.js';
import path from 'node:path';
import {OvlError, UsageError} from '../core/errors.js';
import {parseLowerdir, userLowerOrder} from '../core/lowerdir.js';
import {parseOptionArg} from '../core/options.js';
import {realpathExact as realpath, type Resolved} from '../io/exact-fs.js';
import {canonicalPaths} from './overlay-target.js';
import type {Stack} from '../core/types.js';

export type StackInput = {
	readonly dir: string | undefined;
	readonly merged: string | undefined;
	readonly stack: string | undefined;
	readonly lowers: readonly string[];
	readonly lowerdir: string | undefined;
	readonly upper: string | undefined;
	readonly work: string | undefined;
	readonly options: readonly string[];
};

/** A stack named by its directory alone (`ovl mount DIR`): no layer flags. */
export const stackDirInput = (dir: string): StackInput => ({
	dir,
	merged: undefined,
	stack: undefined,
	lowers: [],
	lowerdir: undefined,
	upper: undefined,
	work: undefined,
	options: [],
});

/** A Stack with absolute paths, from flags (bottom→top or a kernel-style --lowerdir) or a stack file. */
export type Confinement = {
	readonly dir: string;
	readonly fromFile: ReadonlySet<'lowers' | 'upper' | 'work' | 'merged'>;
};

export async function readStackInput(
	o: StackInput,
	cwd: string,
): Promise<{stack: Stack; source: string; confine?: Confinement}> {
	const abs = (p: string): string => path.resolve(cwd, p);
	const extra = o.options.map(parseOptionArg);
	if (o.lowers.length > 0 || o.lowerdir !== undefined) {
		if (o.lowers.length > 0 && o.lowerdir !== undefined)
			throw new UsageError(
				'give lowers either with --lower (bottom → top) or with --lowerdir (top first), not both',
				'pick one form',
			);
		if (o.stack !== undefined)
			throw new UsageError('--stack cannot be combined with layer flags', 'use either a stack file or flags');
		const merged = o.merged ?? o.dir;
		if (merged === undefined) throw new UsageError('name the mount point', 'e.g. ovl mount --lower a --lower b /mnt/x');
		let lowers = o.lowers.map((p) => ({path: abs(p), dataOnly: false}));
		if (o.lowerdir !== undefined) {
			const parsed = parseLowerdir(o.lowerdir);
			if (!parsed.ok)
				throw new UsageError(
					`--lowerdir: ${parsed.reason}`,
					'write layers top first, separated by ":"; escape a literal colon as "\\:"',
					'OVL_LOWERDIR_SYNTAX',
				);
			lowers = userLowerOrder(parsed.layers).map((l) => ({path: abs(l.path), dataOnly: l.dataOnly}));
		}
		const stack: Stack = {
			lowers,
			...(o.upper === undefined ? {} : {upper: abs(o.upper)}),
			...(o.work === undefined ? {} : {work: abs(o.work)}),
			merged: abs(merged),
			options: extra,
		};
		return {stack, source: 'flags'};
	}
	// Loaded only here: the YAML parser is ~70 modules that layer flags never need.
	const {parseStackFile, resolveStackFile, stackFileName} = await import('../core/stack-file.js');
	const file = o.stack === undefined ? path.join(abs(o.dir ?? '.'), stackFileName) : abs(o.stack);
	let text: string;
	try {
		text = readUserFile(file, 1 << 20, 'stack file').toString('utf8');
	} catch (error) {
		if (error instanceof OvlError && error.code === 'OVL_FILE_MISSING')
			throw new UsageError(
				`no stack file at ${printablePath(file)}`,
				'create one with `ovl prepare DIR`, or give layers with --lower/--upper/--work',
				'OVL_STACK_FILE_MISSING',
			);
		throw error;
	}
	const parsed = resolveStackFile(parseStackFile(text, file), path.dirname(file));
	const stack: Stack = {
		...parsed,
		...(o.upper === undefined ? {} : {upper: abs(o.upper)}),
		...(o.work === undefined ? {} : {work: abs(o.work)}),
		merged: o.merged === undefined ? parsed.merged : abs(o.merged),
		options: [...parsed.options, ...extra],
	};
	const fromFile = new Set<'lowers' | 'upper' | 'work' | 'merged'>([
		'lowers',
		...(o.upper === undefined ? (['upper'] as const) : []),
		...(o.work === undefined ? (['work'] as const) : []),
		...(o.merged === undefined ? (['merged'] as const) : []),
	]);
	return {stack, source: file, confine: {dir: path.dirname(file), fromFile}};
}

/**
 A stack file names paths relative to itself, and root may be running it on a directory someone
 else prepared: every path it gives (after symlinks) must stay inside that directory, or an
 `ovl.yaml` with `merged: /etc` and its own upper would serve /etc from a tree its author
 controls. Paths given as flags are the caller's own choice and are not confined.
 */
export async function confineToStackDir(
	stack: Stack,
	stackDir: string,
	fromFile: ReadonlySet<'lowers' | 'upper' | 'work' | 'merged'>,
): Promise<void> {
	const dir = await realpath(stackDir);
	const check = (role: string, p: string | undefined): void => {
		if (p !== undefined && !isSameOrInside(p, dir))
			throw new UsageError(
				`the stack file names ${role} ${printablePath(p)}, outside ${printablePath(dir)}`,
				`a stack file may only name paths inside its own directory; give ${role} on the command line ` +
					'(--lower/--upper/--work, or the mount point argument) if you mean it',
				'OVL_PATH_ESCAPES',
			);
	};
	if (fromFile.has('lowers')) for (const [i, l] of stack.lowers.entries()) check(`lower ${i + 1}`, l.path);
	if (fromFile.has('upper')) check('upper', stack.upper);
	if (fromFile.has('work')) check('work', stack.work);
	if (fromFile.has('merged')) check('the mount point', stack.merged);
}

export async function canonicalStack(stack: Stack): Promise<Stack> {
	return (await canonicalStackResolved(stack)).stack;
}

/** canonicalStack, and what resolving each lower found (mount need not resolve them again). */
export async function canonicalStackResolved(stack: Stack): Promise<{stack: Stack; lowers: readonly Resolved[]}> {
	const given = [...stack.lowers.map((l) => l.path), stack.upper, stack.work, stack.merged];
	const {paths: real, resolved} = await canonicalPaths(given.map((p) => p ?? '/'));
	const n = stack.lowers.length;
	const upper = stack.upper === undefined ? undefined : real[n];
	const work = stack.work === undefined ? undefined : real[n + 1];
	return {
		stack: {
			lowers: stack.lowers.map((l, i) => ({path: real[i] as string, dataOnly: l.dataOnly})),
			...(upper === undefined ? {} : {upper}),
			...(work === undefined ? {} : {work}),
			merged: real[n + 2] as string,
			options: stack.options,
		},
		lowers: resolved.slice(0, n),
	};
}
