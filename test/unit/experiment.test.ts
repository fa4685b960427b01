import {describe, expect, test} from 'vitest';
import {builtins} from '../../src/lab/builtins.js';
import {describeOp, expandRange, parseExperiment} from '../../src/lab/experiment.js';
import {timingTable} from '../../src/lab/report-text.js';
import type {LabReport} from '../../src/flows/lab-run.js';

const good = `name: t
stack:
  lowers:
    - name: l1
      files: {a: "x"}
steps:
  - rm: a
    expect: {upper: {a: whiteout}}
`;

describe('parseExperiment', () => {
	test('a minimal file', () => {
		const e = parseExperiment(good, 'f.yaml');
		expect(e).toMatchObject({
			name: 't',
			upper: true,
			options: [],
			lowers: [{name: 'l1', files: {a: 'x'}}],
			steps: [{id: 'step1', label: 'rm a', op: {op: 'rm', path: 'a'}, expect: {upper: {'/a': 'whiteout'}}}],
		});
	});
	test('every built-in parses and has expectations', () => {
		for (const [name, text] of Object.entries(builtins)) {
			const e = parseExperiment(text, name);
			expect(e.name).toBe(name);
			expect(e.steps.some((s) => s.expect !== undefined)).toBe(true);
		}
	});
	test.each([
		['name: t\nstack: {lowers: [l1]}\nsteps:\n  - frobnicate: a\n', /f:4: unknown step "frobnicate"/],
		[
			'name: t\nstack: {lowers: [l1]}\nsteps:\n  - rm: ../../etc/passwd\n',
			/f:4: path "..\/..\/etc\/passwd" leaves the experiment/,
		],
		['name: t\nstack: {lowers: [l1]}\nsteps:\n  - mv: {from: a, to: ../x}\n', /leaves the experiment/],
		['name: t\nstack:\n  lowers:\n    - name: l1\n      files: {"../x": y}\nsteps: []\n', /f:5: path "..\/x" leaves/],
		['name: t\nstack: {lowers: [l1]\nsteps: []\n', /^f:\d+: /],
		['name: t\nstack: {lowers: [l1]}\nsteps:\n  - rm: a\n    mv: {from: a, to: b}\n', /exactly one operation/],
		['name: t\nstack: {lowers: [l1]}\nsteps:\n  - rm: a\n    expect: {upper: {a: deleted}}\n', /kinds are whiteout/],
		[
			'name: t\nstack: {lowers: [l1]}\nsteps:\n  - lower-write: {layer: nope, path: a, content: x}\n',
			/layer "nope", which the stack does not have/,
		],
		[
			'name: t\nstack: {lowers: [l1]}\nsteps:\n  - setfattr: {path: a, name: trusted.overlay.opaque, value: y}\n',
			/only set user/,
		],
		[
			'name: t\nstack: {lowers: [l1]}\nsteps:\n  - rm: a\n    id: x\n  - rm: b\n    id: x\n',
			/step id "x" is used twice/,
		],
		[
			'name: t\nstack: {lowers: [l1]}\nsteps:\n  - rm: a\n    expect: {slowerThan: {step: nope, factor: 2}}\n',
			/slowerThan names step "nope"/,
		],
		['name: t\nstack: {lowers: [l1, l1]}\nsteps: []\n', /layer name "l1" is used twice/],
		['name: t\nstack: {lowers: ["a/b"]}\nsteps: []\n', /a layer name is/],
		['name: t\nstack: {lowers: [l1]}\nsteps: []\nextra: 1\n', /f:4: unknown key "extra"/],
		['name: t\nstack: {lowers: [l1]}\nsteps:\n  - chmod: {path: a, mode: rwx}\n', /octal string/],
		['name: t\nstack: {lowers: [l1]}\nsteps:\n  - rm: a\n    expect: {errno: exdev}\n', /errno is a name/],
	])('rejects %j', (text, message) => {
		expect(() => parseExperiment(text, 'f')).toThrow(message);
	});
	test('ranges, links and repeat', () => {
		const e = parseExperiment(
			'name: t\nstack:\n  lowers:\n    - name: b\n      files: {"d/f{1..3}": x}\n      links: {h: d/f1}\n    - name: e\n      repeat: 3\nsteps: []\n',
			'f',
		);
		expect(Object.keys(e.lowers[0]?.files ?? {})).toEqual(['d/f1', 'd/f2', 'd/f3']);
		expect(e.lowers[0]?.links).toEqual({h: 'd/f1'});
		expect(e.lowers[1]?.repeat).toBe(3);
		expect(expandRange('x{0..1}y')).toEqual(['x0y', 'x1y']);
		expect(expandRange('plain')).toEqual(['plain']);
	});
	test('describeOp', () => {
		expect(describeOp({op: 'ls', path: ''})).toBe('ls /');
		expect(describeOp({op: 'mount', options: ['metacopy=on'], fresh: true})).toBe('mount -o metacopy=on (fresh upper)');
		expect(describeOp({op: 'chmod', path: 'a', mode: 0o600})).toBe('chmod 600 a');
	});
});

describe('timingTable', () => {
	const step = (id: string, durationMs: number) => ({
		id,
		label: id,
		op: id,
		ok: true,
		durationMs,
		upperDelta: [],
		verdicts: [],
	});
	test('COLUMN-ROW ids become a table with the first/second ratio', () => {
		const r = {
			steps: [step('first-4k', 2), step('second-4k', 1), step('first-1m', 9), step('second-1m', 3), step('umount', 5)],
		} as unknown as LabReport;
		expect(timingTable(r)).toEqual({
			columns: ['first', 'second'],
			rows: [
				{key: '4k', cells: [2, 1], ratio: 2},
				{key: '1m', cells: [9, 3], ratio: 3},
			],
		});
		expect(timingTable({steps: [step('a', 1)]} as unknown as LabReport)).toBeUndefined();
	});
});

describe('lab files are validated with limits, never run blind', () => {
	const lab = (files: string, extra = '', steps = '  - rm: a\n'): string =>
		`name: t\nstack:\n  lowers:\n    - name: l1\n      files: ${files}\n${extra}steps:\n${steps}`;
	test.each([
		['a fractional size', lab('{big: {size: 0.5}}'), /f:5: size of "big" must be a whole number/],
		['a size of 1e12', lab('{big: {size: 1e12}}'), /over the 1073741824-byte limit/],
		['an infinite size', lab('{big: {size: .inf}}'), /whole number/],
		['a negative size', lab('{big: {size: -1}}'), /whole number/],
		['a file key ending in /', lab('{"a/": x}'), /ends with "\/"/],
		['a file and a dir of one name', lab('{a: x, "a/b": y}'), /"a" is both a file and a directory/],
		['a link to a missing target', lab('{a: x}\n      links: {b: nope}'), /link "b" points to "nope"/],
		['a reversed range', lab('{"f{9..1}": x}'), /runs backwards/],
		['an over-limit range', lab('{"f{0..100000}": x}'), /at most 100000 names/],
		['a range with letters', lab('{"f{a..z}": x}'), /a range is \{FROM..TO\}/],
		[
			'too many files in all',
			`name: t\nstack:\n  lowers:\n    - {name: l, files: {"f{0..99999}": x}, repeat: 500}\nsteps:\n  - rm: a\n`,
			/at most 200000/,
		],
		['expect.diff with a number', lab('{a: x}', '', '  - rm: a\n    expect: {diff: {A: 5}}\n'), /expect.diff is/],
		['expect.merged with a list', lab('{a: x}', '', '  - rm: a\n    expect: {merged: [a]}\n'), /expect.merged maps/],
		['truncate to a fraction', lab('{a: x}', '', '  - truncate: {path: a, size: 1.5}\n'), /whole number "size"/],
	])('%s', (_name, text, message) => {
		expect(() => parseExperiment(text, 'f')).toThrow(message);
	});
});
