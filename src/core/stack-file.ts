import path from 'node:path';
import {isMap, isScalar, isSeq, stringify, type Node} from 'yaml';
import {parseYamlFile} from './yaml-file.js';
import {parseOptionArg, renderOption} from './options.js';
import type {LowerLayer, MountOption, Stack} from './types.js';

/** The stack file (ovl.yaml) as written: paths relative to the file's directory, lowers bottom→top. */
export type StackFile = {
	readonly lowers: readonly LowerLayer[];
	readonly upper?: string;
	readonly work?: string;
	readonly merged: string;
	readonly options: readonly MountOption[];
	/** layer path → file path inside that layer → contents. */
	readonly seed: Readonly<Record<string, Readonly<Record<string, string>>>>;
};

export {stackFileName} from './stack-name.js';

const header = `# ovl stack file. Lowers are listed bottom -> top (like a Dockerfile); ovl turns them into the
# kernel's top-first lowerdir=. Paths are relative to this file. Mount with: ovl mount <this dir>
`;

export function renderStackFile(s: StackFile): string {
	const doc: Record<string, unknown> = {
		version: 1,
		lowers: s.lowers.map((l) => (l.dataOnly ? {path: l.path, dataOnly: true} : l.path)),
	};
	if (s.upper !== undefined) doc['upper'] = s.upper;
	if (s.work !== undefined) doc['work'] = s.work;
	doc['merged'] = s.merged;
	doc['options'] = s.options.map(renderOption);
	if (Object.keys(s.seed).length > 0) doc['seed'] = s.seed;
	return header + stringify(doc, {lineWidth: 0});
}

/** Parses ovl.yaml; errors name the file, the line and what is wrong. */
export function parseStackFile(text: string, fileName: string): StackFile {
	const {root, fail, at} = parseYamlFile(
		text,
		fileName,
		'fix the stack file (see README "Stack file"), or recreate it with ovl prepare',
		'OVL_STACK_FILE_INVALID',
	);
	if (!isMap(root)) return fail(root, 'expected a mapping with lowers, upper, work, merged');
	const allowed = new Set(['version', 'lowers', 'upper', 'work', 'merged', 'options', 'seed']);
	for (const pair of root.items) {
		const key = isScalar(pair.key) ? String(pair.key.value) : '';
		if (!allowed.has(key)) fail(pair.key as Node, `unknown key "${key}" (expected one of ${[...allowed].join(', ')})`);
	}
	const str = (key: string, required: boolean): string | undefined => {
		const node = root.get(key, true) as Node | undefined;
		if (node === undefined) return required ? fail(root, `"${key}" is required`) : undefined;
		if (!isScalar(node) || typeof node.value !== 'string' || node.value === '')
			return fail(node, `"${key}" must be a non-empty path`);
		return node.value;
	};
	const version = root.get('version', true) as Node | undefined;
	if (version !== undefined && !(isScalar(version) && version.value === 1))
		fail(version, 'unsupported "version" (this ovl reads version 1)');
	const lowersNode = root.get('lowers', true) as Node | undefined;
	if (!isSeq(lowersNode) || lowersNode.items.length === 0)
		return fail(lowersNode ?? root, '"lowers" must be a list of at least one path (bottom -> top)');
	const lowers = lowersNode.items.map((item): LowerLayer => {
		const node = item as Node;
		if (isScalar(node) && typeof node.value === 'string' && node.value !== '')
			return {path: node.value, dataOnly: false};
		if (isMap(node)) {
			const p = node.get('path');
			const dataOnly = node.get('dataOnly') ?? false;
			if (typeof p === 'string' && p !== '' && typeof dataOnly === 'boolean') return {path: p, dataOnly};
		}
		return fail(node, 'each lower must be a path, or {path: P, dataOnly: true}');
	});
	const optionsNode = root.get('options', true) as Node | undefined;
	let options: MountOption[] = [];
	if (optionsNode !== undefined) {
		if (!isSeq(optionsNode))
			return fail(optionsNode, '"options" must be a list such as [redirect_dir=on, metacopy=on]');
		options = optionsNode.items.map((item) => {
			const node = item as Node;
			if (!isScalar(node) || typeof node.value !== 'string' || node.value.includes(','))
				return fail(node, 'each option must be one key=value or flag string, without commas');
			// Validation judges it later (where --force may pass it to the kernel); `at` lets it say where.
			return {...parseOptionArg(node.value), at: at(node)};
		});
	}
	const seed = parseSeed(root.get('seed', true) as Node | undefined, fail);
	const upper = str('upper', false);
	const work = str('work', false);
	return {
		lowers,
		...(upper === undefined ? {} : {upper}),
		...(work === undefined ? {} : {work}),
		merged: str('merged', true) as string,
		options,
		seed,
	};
}

function parseSeed(
	node: Node | undefined,
	fail: (n: Node | null | undefined, what: string) => never,
): Record<string, Record<string, string>> {
	if (node === undefined) return {};
	if (!isMap(node)) return fail(node, '"seed" must map a layer to {file: contents}');
	const out: Record<string, Record<string, string>> = {};
	for (const pair of node.items) {
		const layer = isScalar(pair.key) ? String(pair.key.value) : fail(pair.key as Node, 'layer names must be strings');
		const files = pair.value as Node;
		if (!isMap(files)) return fail(files, `seed.${layer} must map file paths to contents`);
		const entry: Record<string, string> = {};
		for (const f of files.items) {
			const value = f.value as Node;
			if (!isScalar(f.key) || !isScalar(value) || typeof value.value !== 'string')
				return fail(value ?? (f.key as Node), `seed.${layer}: each file needs a string path and string contents`);
			entry[String(f.key.value)] = value.value;
		}
		out[layer] = entry;
	}
	return out;
}

/** Makes every path absolute against the stack file's directory. */
export function resolveStackFile(file: StackFile, baseDir: string): Stack {
	const abs = (p: string): string => path.resolve(baseDir, p);
	return {
		lowers: file.lowers.map((l) => ({path: abs(l.path), dataOnly: l.dataOnly})),
		...(file.upper === undefined ? {} : {upper: abs(file.upper)}),
		...(file.work === undefined ? {} : {work: abs(file.work)}),
		merged: abs(file.merged),
		options: file.options,
	};
}
