import {printablePath} from '../core/bytes.js';
import {readUserFile} from '../io/beneath.js';
import {realpathExact as realpath} from '../io/exact-fs.js';
import path from 'node:path';
import {OvlError, UsageError} from '../core/errors.js';
import {parseLowerdir, userLowerOrder} from '../core/lowerdir.js';
import {parseOptionArg} from '../core/options.js';
import {parseStackFile, resolveStackFile, stackFileName} from '../core/stack-file.js';
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

/** A Stack with absolute paths, from flags (bottom→top or a kernel-style --lowerdir) or a stack file. */
export async function readStackInput(o: StackInput, cwd: string): Promise<{stack: Stack; source: string}> {
	const abs = (p: string): string => path.resolve(cwd, p);
	const extra = o.options.map(parseOptionArg);
	if (o.lowers.length > 0 || o.lowerdir !== undefined) {
		if (o.lowers.length > 0 && o.lowerdir !== undefined) throw new UsageError('give lowers either with --lower (bottom → top) or with --lowerdir (top first), not both', 'pick one form');
		if (o.stack !== undefined) throw new UsageError('--stack cannot be combined with layer flags', 'use either a stack file or flags');
		const merged = o.merged ?? o.dir;
		if (merged === undefined) throw new UsageError('name the mount point', 'e.g. ovl mount --lower a --lower b /mnt/x');
		let lowers = o.lowers.map((p) => ({path: abs(p), dataOnly: false}));
		if (o.lowerdir !== undefined) {
			const parsed = parseLowerdir(o.lowerdir);
			if (!parsed.ok) throw new UsageError(`--lowerdir: ${parsed.reason}`, 'write layers top first, separated by ":"; escape a literal colon as "\\:"', 'OVL_LOWERDIR_SYNTAX');
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
	const file = o.stack === undefined ? path.join(abs(o.dir ?? '.'), stackFileName) : abs(o.stack);
	let text: string;
	try {
		text = readUserFile(file, 1 << 20, 'stack file').toString('utf8');
	} catch (error) {
		if (error instanceof OvlError && error.code === 'OVL_FILE_MISSING') throw new UsageError(`no stack file at ${printablePath(file)}`, 'create one with `ovl prepare DIR`, or give layers with --lower/--upper/--work', 'OVL_STACK_FILE_MISSING');
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
	return {stack, source: file};
}

/** Canonical form: realpath for what exists, realpath(parent)/name for what ovl will create. */
export async function canonicalPath(p: string): Promise<string> {
	try {
		return await realpath(p);
	} catch {
		const parent = await realpath(path.dirname(p)).catch(() => path.dirname(p));
		return path.join(parent, path.basename(p));
	}
}

export async function canonicalStack(stack: Stack): Promise<Stack> {
	const [lowers, upper, work, merged] = await Promise.all([
		Promise.all(stack.lowers.map(async (l) => ({path: await canonicalPath(l.path), dataOnly: l.dataOnly}))),
		stack.upper === undefined ? undefined : canonicalPath(stack.upper),
		stack.work === undefined ? undefined : canonicalPath(stack.work),
		canonicalPath(stack.merged),
	]);
	return {lowers, ...(upper === undefined ? {} : {upper}), ...(work === undefined ? {} : {work}), merged, options: stack.options};
}
