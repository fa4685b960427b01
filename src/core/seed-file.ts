import {isAlias, isMap, isScalar, type Node} from 'yaml';
import {parseYamlFile} from './yaml-file.js';

const hint = 'a seed file maps each layer to {path: contents}, e.g.\nlower1:\n  a: "docker\\noverlay\\n"';

/** Parses a seed file (layer → relative path → text); errors name the file and line. Aliases are refused (no alias bombs). */
export function parseSeedFile(bytes: Buffer, fileName: string): Record<string, Record<string, string>> {
	const {root, fail} = parseYamlFile(bytes.toString('utf8'), fileName, hint, 'OVL_SEED_INVALID');
	const out: Record<string, Record<string, string>> = {};
	if (root === null) return out;
	if (!isMap(root)) return fail(root, 'expected a mapping of layer names');
	for (const pair of root.items) {
		const layer = scalarText(pair.key as Node | null, fail, 'a layer name');
		const files = pair.value as Node | null;
		if (isAlias(files)) return fail(files, 'aliases (*name) are not allowed in seed files');
		if (!isMap(files)) return fail(files ?? (pair.key as Node), `layer "${layer}" must map paths to contents`);
		const layerFiles: Record<string, string> = {};
		for (const f of files.items) {
			const name = scalarText(f.key as Node | null, fail, 'a file path');
			layerFiles[name] = scalarText(f.value as Node | null, fail, `the contents of ${layer}/${name}`);
		}
		out[layer] = layerFiles;
	}
	return out;
}

function scalarText(
	node: Node | null,
	fail: (n: Node | null | undefined, what: string) => never,
	what: string,
): string {
	if (isAlias(node)) return fail(node, 'aliases (*name) are not allowed in seed files');
	if (!isScalar(node) || node.value === null || typeof node.value === 'object')
		return fail(node, `expected ${what} as text`);
	return String(node.value);
}
