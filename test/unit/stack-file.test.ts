import {describe, expect, test} from 'vitest';
import {parsePutArg, planLayout} from '../../src/core/layout.js';
import {parseStackFile, renderStackFile, resolveStackFile} from '../../src/core/stack-file.js';
import {OvlError} from '../../src/core/errors.js';

const request = {
	lowers: ['lower1', 'lower2'],
	upper: 'upper',
	work: 'work',
	merged: 'merged',
	options: [{key: 'redirect_dir', value: 'on'}],
	seed: {lower1: {a: 'docker\noverlay\n'}},
};

describe('stack file', () => {
	test('render → parse is lossless', () => {
		const file = planLayout('/srv/demo', request);
		const text = renderStackFile(file);
		expect(text).toMatch(/bottom -> top/);
		// Lossless but for where each option was read (`at`, for findings about it).
		const parsed = parseStackFile(text, 'ovl.yaml');
		expect({...parsed, options: parsed.options.map(({key, value}) => ({key, value}))}).toEqual(file);
		expect(parsed.options.every((o) => /^ovl\.yaml:\d+$/.test(o.at ?? ''))).toBe(true);
	});
	test('data-only lowers and read-only stacks', () => {
		const file = parseStackFile('lowers:\n  - {path: data, dataOnly: true}\n  - base\n  - app\nmerged: m\n', 'f');
		expect(file.lowers).toEqual([
			{path: 'data', dataOnly: true},
			{path: 'base', dataOnly: false},
			{path: 'app', dataOnly: false},
		]);
		expect(file.upper).toBeUndefined();
	});
	test('paths resolve against the file directory', () => {
		const s = resolveStackFile(parseStackFile('lowers: [a, /abs/b]\nupper: u\nwork: w\nmerged: m\n', 'f'), '/srv/x');
		expect(s.lowers.map((l) => l.path)).toEqual(['/srv/x/a', '/abs/b']);
		expect(s.merged).toBe('/srv/x/m');
	});
	test.each([
		['lowers: [a\nmerged: m', /^f:\d+: [^\n]*[^:\n] \(column \d+\)$/],
		['lowers: []\nmerged: m', /f:1: "lowers" must be a list/],
		['lowers: [a]\n', /f:1: "merged" is required/],
		['lowers: [a]\nmerged: m\nbogus: 1\n', /f:3: unknown key "bogus"/],
		['lowers: [a]\nmerged: m\noptions: ["a=b,upperdir=/etc"]\n', /f:3: each option must be one/],
		['lowers:\n  - a\n  - 7\nmerged: m\n', /f:3: each lower must be a path/],
		['version: 2\nlowers: [a]\nmerged: m\n', /f:1: unsupported "version"/],
		['lowers: [a]\nmerged: m\nseed:\n  a: [1]\n', /f:4: seed.a must map/],
	])('reports %j with file and line', (text, message) => {
		expect(() => parseStackFile(text, 'f')).toThrow(message);
	});
});

describe('planLayout', () => {
	test.each(['../out', '/etc', 'a/../../b', ''])('refuses a layer name %j that leaves the dir', (name) => {
		expect(() => planLayout('/srv/demo', {...request, lowers: [name]})).toThrow(OvlError);
	});
	test.each(['../x', '/etc/passwd', 'a/../../x'])('refuses a seed path %j that leaves its layer', (p) => {
		expect(() => planLayout('/srv/demo', {...request, seed: {lower1: {[p]: 'x'}}})).toThrow(/escapes its layer/);
	});
	test('refuses seeds for unknown layers and duplicate names', () => {
		expect(() => planLayout('/srv/demo', {...request, seed: {nope: {a: 'x'}}})).toThrow(/not a lower/);
		expect(() => planLayout('/srv/demo', {...request, lowers: ['l', 'l']})).toThrow(/two layers/);
		expect(() => planLayout('/srv/demo', {...request, upper: 'lower1'})).toThrow(/two layers/);
	});
	test('nested names inside the dir are fine', () => {
		expect(planLayout('/srv/demo', {...request, lowers: ['layers/base', 'layers/app'], seed: {}}).lowers).toHaveLength(
			2,
		);
	});
});

describe('parsePutArg', () => {
	test('splits layer, path and text with escapes', () => {
		expect(parsePutArg('lower1/a=docker\\noverlay\\n', ['lower1', 'lower2'])).toEqual([
			'lower1',
			'a',
			'docker\noverlay\n',
		]);
		expect(parsePutArg('layers/base/d/f=x=y', ['layers/base'])).toEqual(['layers/base', 'd/f', 'x=y']);
	});
	test('errors', () => {
		expect(() => parsePutArg('lower1/a', ['lower1'])).toThrow(/LAYER\/PATH=TEXT/);
		expect(() => parsePutArg('other/a=1', ['lower1'])).toThrow(/layer name/);
	});
});

describe('options in a stack file', () => {
	test('a bad value is judged by validation (still forceable) and its finding names file:line', async () => {
		const {validateOptions} = await import('../../src/core/options.js');
		const parsed = parseStackFile('lowers: [a]\nmerged: m\noptions: [index=on, redirect_dir=yes]\n', 'f');
		expect(parsed.options.map((o) => o.at)).toEqual(['f:3', 'f:3']);
		const found = validateOptions(parsed.options, {hasUpper: true, version: [6, 18], hasDataOnly: false});
		expect(found.map((x) => `${x.code} ${x.message}`)).toContainEqual(
			'OVL_OPTION_BAD_VALUE f:3: option "redirect_dir" needs one of: on, follow, nofollow, off (got "yes")',
		);
	});
});
