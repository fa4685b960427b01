import {readdirSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {describe, expect, test} from 'vitest';
import {codes, type Code, type CodeInfo} from '../../src/core/codes.js';
import {OvlError, UsageError} from '../../src/core/errors.js';
import {finding, forceFindings} from '../../src/core/finding.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const srcDir = path.join(root, 'src');
const catalogFile = path.join('src', 'core', 'codes.ts');

// OVL_ names in src that are not codes: environment variables, and the kernel's OVL_MAX_STACK.
const notCodes = new Set(['OVL_RUN_DIR', 'OVL_NATIVE', 'OVL_SCANNER', 'OVL_DOCKER_DAEMON_JSON', 'OVL_MAX_STACK']);

const sources = (readdirSync(srcDir, {recursive: true, encoding: 'utf8'}) as string[])
	.filter((f) => /\.tsx?$/.test(f))
	.map((f) => ({file: path.join('src', f), text: readFileSync(path.join(srcDir, f), 'utf8')}));

const catalog = codes as Readonly<Record<Code, CodeInfo>>;
const names = Object.keys(codes) as Code[];

/** The rows of README's "## Codes" table, in order. */
function readmeRows(): {code: string; severity: string; exit: number}[] {
	const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
	const start = readme.indexOf('\n## Codes\n');
	expect(start, 'README.md has a "## Codes" section').toBeGreaterThanOrEqual(0);
	const end = readme.indexOf('\n## ', start + 1);
	const section = readme.slice(start, end < 0 ? undefined : end);
	return [...section.matchAll(/^\| `(OVL_[A-Z0-9_]+)` \| (\w+) \| (\d+) \| .+ \|$/gm)].map((m) => ({
		code: m[1] as string,
		severity: m[2] as string,
		exit: Number(m[3]),
	}));
}

describe('the code catalog', () => {
	test('every OVL_ name in src/**/*.ts(x) is a catalogued code (or a known non-code)', () => {
		const stray = sources.flatMap(({file, text}) =>
			[...new Set(text.match(/\bOVL_[A-Z0-9_]+\b/g) ?? [])]
				.filter((n) => !notCodes.has(n) && !Object.hasOwn(codes, n))
				.map((n) => `${file}: ${n}`),
		);
		expect(sources.length).toBeGreaterThan(50);
		expect(stray).toEqual([]);
	});

	test('every catalogued code is used in src outside the catalog', () => {
		const others = sources.filter((s) => s.file !== catalogFile);
		const unused = names.filter((c) => !others.some(({text}) => new RegExp(`['"\`]${c}['"\`]`).test(text)));
		expect(unused).toEqual([]);
	});

	test("README's Codes table lists every code once, in catalog order, with its severity and exit", () => {
		const rows = readmeRows();
		expect(rows.map((r) => r.code)).toEqual(names);
		const wrong = rows
			.filter((r) => {
				const c = catalog[r.code as Code];
				return r.severity !== c.severity || r.exit !== c.exit;
			})
			.map(
				(r) =>
					`${r.code}: README ${r.severity}/${r.exit}, catalog ${catalog[r.code as Code].severity}/${catalog[r.code as Code].exit}`,
			);
		expect(wrong).toEqual([]);
	});

	test('summaries are one short line each (they are table cells)', () => {
		const bad = names.filter((c) => {
			const s = catalog[c].summary;
			return s.trim() === '' || s.includes('\n') || s.includes('|') || s.length > 120;
		});
		expect(bad).toEqual([]);
	});

	test('--force lifts every validation error except the unforceable codes, which the catalog names', () => {
		const unforceable = names.filter((c) => catalog[c].forceable === false);
		expect(unforceable.toSorted()).toEqual([
			'OVL_NEEDS_ROOT',
			'OVL_OPTIONS_TOO_LONG',
			'OVL_OPTION_BAD_VALUE',
			'OVL_OPTION_LAYER_KEY',
			'OVL_UPPER_IN_USE',
		]);
		const forced = forceFindings(names.map((c) => finding(c, 'error', 'm', 'h')));
		expect(forced.filter((f) => f.severity === 'error').map((f) => f.code)).toEqual(unforceable);
	});

	test('an uncatalogued code is a compile error, and refused at run time', () => {
		// @ts-expect-error not a catalogued code
		expect(() => finding('OVL_NOT_A_CODE', 'error', 'm', 'h')).toThrow(/not a catalogued code/);
		// @ts-expect-error not a catalogued code
		expect(() => new OvlError('OVL_NOT_A_CODE', 'm', 'h')).toThrow(/not a catalogued code/);
		// @ts-expect-error not a catalogued code
		expect(() => new UsageError('m', 'h', 'OVL_NOT_A_CODE')).toThrow(/not a catalogued code/);
		expect(new UsageError('m', 'h').code).toBe('OVL_USAGE');
	});
});
