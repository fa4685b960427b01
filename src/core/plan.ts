import path from 'node:path';
import {hasRawBytes, printablePath} from './bytes.js';
import {finding} from './finding.js';
import {escapeLayerPath, joinLowerdir, kernelLowerOrder} from './lowerdir.js';
import {renderOption} from './options.js';
import {commonAncestor} from './paths.js';
import type {Finding, MountOption, MountPlan, Stack, Strategy} from './types.js';

/** Where the `fd` strategy's layer descriptors start in mount(8) (after stdin, stdout, stderr). */
export const firstLayerFd = 3;

// libmount 2.38 splits -o on every ',' (it ignores the kernel's '\,' escape) and treats '"' as a
// quote; a piece that looks like a VFS or x- option is then moved out of the fs options. Seen here:
// a lower named "l,ro" made the kernel try to resolve "l,upperdir=…". Such paths go by descriptor.
export function isLibmountSafe(p: string): boolean {
	return !p.includes(',') && !p.includes('"');
}

type Rendered = {options: string; cwd?: string; fdPaths: string[]; target?: string};

/** The recorded layer strings a strategy produces; verify() compares mountinfo against these. */
export function layerTexts(
	stack: Stack,
	strategy: Strategy,
	cwd: string | undefined,
): {lowers: string[]; upper?: string; work?: string} {
	const ordered = kernelLowerOrder(stack);
	const all = [
		...ordered.map((l) => l.path),
		...(stack.upper === undefined ? [] : [stack.upper]),
		...(stack.work === undefined ? [] : [stack.work]),
	];
	const text = (p: string, i: number): string => {
		if (strategy === 'fd') return String(firstLayerFd + i);
		if (strategy === 'relative') return relativeTo(cwd ?? '/', p);
		return p;
	};
	const texts = all.map(text);
	const n = ordered.length;
	return {
		lowers: texts.slice(0, n),
		...(stack.upper === undefined ? {} : {upper: texts[n] as string}),
		...(stack.work === undefined ? {} : {work: texts[stack.upper === undefined ? n : n + 1] as string}),
	};
}

/** path.relative for canonical paths: below `from`, the rest of the string (no resolve of both). */
function relativeTo(from: string, p: string): string {
	const prefix = from.endsWith('/') ? from : `${from}/`;
	if (p.startsWith(prefix)) return p.slice(prefix.length) || '.';
	return path.relative(from, p) || '.';
}

function render(stack: Stack, strategy: Strategy, extra: readonly MountOption[]): Rendered {
	const layerPaths = [...kernelLowerOrder(stack).map((l) => l.path), stack.upper, stack.work].filter(
		(p): p is string => p !== undefined,
	);
	const cwd = strategy === 'relative' ? commonAncestor(layerPaths) : strategy === 'fd' ? '/proc/self/fd' : undefined;
	const t = layerTexts(stack, strategy, cwd);
	const ordered = kernelLowerOrder(stack);
	const parts = [
		`lowerdir=${joinLowerdir(ordered.map((l, i) => ({text: escapeLayerPath(t.lowers[i] ?? ''), dataOnly: l.dataOnly})))}`,
	];
	if (t.upper !== undefined) parts.push(`upperdir=${escapeLayerPath(t.upper)}`);
	if (t.work !== undefined) parts.push(`workdir=${escapeLayerPath(t.work)}`);
	parts.push(...extra.map(renderOption));
	// A mount point that is not UTF-8 cannot be an argv string (Node encodes argv as UTF-8): it
	// goes by descriptor too, named relative to /proc/self/fd, and mount(8) resolves it to its bytes.
	if (strategy === 'fd' && hasRawBytes(stack.merged))
		return {
			options: parts.join(','),
			cwd: cwd as string,
			fdPaths: [...layerPaths, stack.merged],
			target: String(firstLayerFd + layerPaths.length),
		};
	return {options: parts.join(','), ...(cwd === undefined ? {} : {cwd}), fdPaths: strategy === 'fd' ? layerPaths : []};
}

/**
 Chooses how to pass the layers so that mount(2) gets exactly the intended option string:
 absolute paths; else paths relative to their common ancestor (mount(8) runs there, as moby and
 containerd do); else descriptors opened by ovl and named as /proc/self/fd entries (as
 containers/storage does). A string longer than PAGE_SIZE-1 would be truncated silently.
 */
export function planMount(
	stack: Stack,
	options: readonly MountOption[],
	context: {pageSize: number; findings?: readonly Finding[]},
): MountPlan {
	const budget = context.pageSize - 1;
	const notes: string[] = [];
	const layerPaths = [...stack.lowers.map((l) => l.path), stack.upper, stack.work].filter(
		(p): p is string => p !== undefined,
	);
	const unsafe = layerPaths.filter((p) => !isLibmountSafe(p));
	const raw = [...layerPaths, stack.merged].filter(hasRawBytes);
	let last: Rendered | undefined;
	for (const strategy of ['absolute', 'relative', 'fd'] as const) {
		if (strategy !== 'fd' && unsafe.length > 0) {
			notes.push(`${strategy}: ${unsafe[0]} contains ',' or '"', which mount(8) would split or unquote`);
			continue;
		}
		if (strategy !== 'fd' && raw.length > 0) {
			notes.push(
				`${strategy}: ${printablePath(raw[0] as string)} is not UTF-8; only a descriptor carries its bytes to mount(8)`,
			);
			continue;
		}
		const r = render(stack, strategy, options);
		last = r;
		const bytes = Buffer.byteLength(r.options);
		if (bytes <= budget) return plan(stack, strategy, r, bytes, budget, notes, context.findings ?? []);
		notes.push(`${strategy}: ${bytes} bytes is over the ${budget}-byte page budget`);
	}
	const r = last ?? render(stack, 'fd', options);
	const bytes = Buffer.byteLength(r.options);
	const refusal = finding(
		'OVL_OPTIONS_TOO_LONG',
		'error',
		`the mount options need ${bytes} bytes with every strategy; mount(2) takes at most ${budget} ` +
			`(PAGE_SIZE-1) and would silently cut the rest (${stack.lowers.length} lower layers)`,
		'use fewer layers (squash some), or shorter option values',
	);
	return plan(stack, 'refused', r, bytes, budget, notes, [...(context.findings ?? []), refusal]);
}

function plan(
	stack: Stack,
	strategy: Strategy | 'refused',
	r: Rendered,
	bytes: number,
	budget: number,
	notes: string[],
	findings: readonly Finding[],
): MountPlan {
	return {
		stack,
		strategy,
		options: r.options,
		...(r.cwd === undefined ? {} : {cwd: r.cwd}),
		fdPaths: r.fdPaths,
		// -i: never run a /sbin/mount.overlay helper; the kernel driver is what we validated for.
		argv: ['mount', '-i', '-t', 'overlay', 'overlay', '-o', r.options, r.target ?? stack.merged],
		optionBytes: bytes,
		budget,
		findings,
		notes,
	};
}
