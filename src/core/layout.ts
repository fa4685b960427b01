import {UsageError} from './errors.js';
import {resolveInside} from './paths.js';
import type {MountOption} from './types.js';
import type {StackFile} from './stack-file.js';

export type LayoutRequest = {
	readonly lowers: readonly string[];
	readonly upper: string | undefined;
	readonly work: string | undefined;
	readonly merged: string;
	readonly options: readonly MountOption[];
	/** layer → relative file path → contents */
	readonly seed: Readonly<Record<string, Readonly<Record<string, string>>>>;
};

/**
 Checks names and returns the stack file for `ovl prepare`: every name must stay inside the
 directory (no absolute paths, no `..` that climbs out), names are distinct, seeds name a layer.
 */
export function planLayout(dir: string, req: LayoutRequest): StackFile {
	const names = [...req.lowers, req.upper, req.work, req.merged].filter((n): n is string => n !== undefined);
	for (const n of names) {
		if (n.split('/').includes('..'))
			throw new UsageError(
				`layer name "${n}" uses ".."`,
				'use plain names such as lower1 or layers/base',
				'OVL_PATH_ESCAPES',
			);
		if (resolveInside(dir, n) === undefined)
			throw new UsageError(
				`layer name "${n}" would leave ${dir}`,
				'use plain names such as lower1 or layers/base',
				'OVL_PATH_ESCAPES',
			);
	}
	const seen = new Set<string>();
	for (const n of names) {
		const key = resolveInside(dir, n) as string;
		if (seen.has(key))
			throw new UsageError(
				`"${n}" is used for two layers`,
				'give every layer its own directory',
				'OVL_LAYER_DUPLICATE',
			);
		seen.add(key);
	}
	for (const [layer, files] of Object.entries(req.seed)) {
		if (!req.lowers.includes(layer) && layer !== req.upper)
			throw new UsageError(
				`seed names layer "${layer}", which is not a lower or the upper of this stack`,
				`layers: ${[...req.lowers, req.upper].filter(Boolean).join(', ')}`,
				'OVL_SEED_UNKNOWN_LAYER',
			);
		for (const f of Object.keys(files)) {
			if (resolveInside('/layer', f) === undefined)
				throw new UsageError(
					`seed path "${layer}/${f}" escapes its layer`,
					'seed paths are relative to their layer and may not use .. to leave it',
					'OVL_PATH_ESCAPES',
				);
			if (f.endsWith('/') || f.split('/').some((c) => c === '..' || c === '.'))
				throw new UsageError(
					`seed path "${layer}/${f}" does not name a file`,
					'seed paths are relative file paths inside their layer, such as etc/motd (no trailing "/", no "." or ".." parts)',
					'OVL_SEED_PATH_INVALID',
				);
		}
	}
	return {
		lowers: req.lowers.map((p) => ({path: p, dataOnly: false})),
		...(req.upper === undefined ? {} : {upper: req.upper}),
		...(req.work === undefined ? {} : {work: req.work}),
		merged: req.merged,
		options: req.options,
		seed: req.seed,
	};
}

/** `lower1/a=hello\n` → ['lower1', 'a', 'hello\n'] given the layer names (longest match wins). */
export function parsePutArg(arg: string, layers: readonly string[]): [string, string, string] {
	const eq = arg.indexOf('=');
	if (eq < 0) throw new UsageError(`--put "${arg}" needs LAYER/PATH=TEXT`, 'e.g. --put lower1/a=hello', 'OVL_USAGE');
	const target = arg.slice(0, eq);
	const text = arg
		.slice(eq + 1)
		.replace(/\\(n|t|\\)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
	const layer = [...layers].sort((a, b) => b.length - a.length).find((l) => target.startsWith(`${l}/`));
	if (!layer)
		throw new UsageError(
			`--put "${target}" does not start with a layer name`,
			`layers: ${layers.join(', ')}`,
			'OVL_SEED_UNKNOWN_LAYER',
		);
	return [layer, target.slice(layer.length + 1), text];
}
