import {LineCounter, parseDocument, type Node} from 'yaml';
import {UsageError} from './errors.js';
import type {Code} from './codes.js';

/** Throws a UsageError at the node's file:line; `o` gives a more specific code and hint. */
export type Fail = (node: Node | null | undefined, what: string, o?: {code: Code; hint: string}) => never;

/**
 Parses a YAML file for validation: the document root, and a `fail` that throws a UsageError
 naming file:line of the offending node. YAML syntax errors are reported the same way.
 */
export function parseYamlFile(
	text: string,
	fileName: string,
	hint: string,
	code: Code,
): {root: Node | null; fail: Fail; at: (node: Node) => string} {
	const lc = new LineCounter();
	const doc = parseDocument(text, {lineCounter: lc, uniqueKeys: true});
	const fail: Fail = (node, what, o) => {
		const line = node?.range ? lc.linePos(node.range[0]).line : 1;
		throw new UsageError(`${fileName}:${line}: ${what}`, o?.hint ?? hint, o?.code ?? code);
	};
	const err = doc.errors[0];
	if (err) {
		// The yaml library ends its first line with " at line L, column C:" before a code excerpt.
		const what = (err.message.split('\n')[0] ?? '').replace(/( at line \d+, column \d+)?:\s*$/, '');
		const at = err.linePos?.[0];
		throw new UsageError(`${fileName}:${at?.line ?? 1}: ${what} (column ${at?.col ?? 1})`, 'fix the YAML syntax', code);
	}
	const at = (node: Node): string => `${fileName}:${node.range ? lc.linePos(node.range[0]).line : 1}`;
	return {root: doc.contents as Node | null, fail, at};
}
