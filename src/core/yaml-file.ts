import {LineCounter, parseDocument, type Node} from 'yaml';
import {UsageError} from './errors.js';
import type {Code} from './codes.js';

export type Fail = (node: Node | null | undefined, what: string) => never;

/**
 Parses a YAML file for validation: the document root, and a `fail` that throws a UsageError
 naming file:line of the offending node. YAML syntax errors are reported the same way.
 */
export function parseYamlFile(
	text: string,
	fileName: string,
	hint: string,
	code: Code,
): {root: Node | null; fail: Fail} {
	const lc = new LineCounter();
	const doc = parseDocument(text, {lineCounter: lc, uniqueKeys: true});
	const fail: Fail = (node, what) => {
		const line = node?.range ? lc.linePos(node.range[0]).line : 1;
		throw new UsageError(`${fileName}:${line}: ${what}`, hint, code);
	};
	const err = doc.errors[0];
	if (err)
		throw new UsageError(
			`${fileName}:${err.linePos?.[0].line ?? 1}: ${err.message.split('\n')[0]}`,
			'fix the YAML syntax',
			code,
		);
	return {root: doc.contents as Node | null, fail};
}
