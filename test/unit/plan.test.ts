import {describe, expect, test} from 'vitest';
import {isLibmountSafe, layerTexts, planMount} from '../../src/core/plan.js';
import {parseLowerdir} from '../../src/core/lowerdir.js';
import {parseMountinfoLine, decodeOverlay} from '../../src/core/mountinfo.js';
import {verifyMount} from '../../src/core/verify.js';
import type {Stack} from '../../src/core/types.js';

const stack = (lowers: string[], extra: Partial<Stack> = {}): Stack => ({
	lowers: lowers.map((path) => ({path, dataOnly: false})),
	upper: '/s/upper',
	work: '/s/work',
	merged: '/s/merged',
	options: [],
	...extra,
});

describe('planMount', () => {
	test('absolute paths, lowers top-first, options after the layers', () => {
		const p = planMount(stack(['/s/l1', '/s/l2']), [{key: 'index', value: 'off'}], {pageSize: 4096});
		expect(p.strategy).toBe('absolute');
		expect(p.options).toBe('lowerdir=/s/l2:/s/l1,upperdir=/s/upper,workdir=/s/work,index=off');
		expect(p.argv).toEqual(['mount', '-i', '-t', 'overlay', 'overlay', '-o', p.options, '/s/merged']);
		expect(p.optionBytes).toBe(Buffer.byteLength(p.options));
		expect(p.budget).toBe(4095);
	});

	test('read-only stack: no upperdir or workdir', () => {
		const p = planMount(stack(['/s/a', '/s/b'], {upper: undefined, work: undefined} as unknown as Partial<Stack>), [], {
			pageSize: 4096,
		});
		expect(p.options).toBe('lowerdir=/s/b:/s/a');
	});

	test('colons and backslashes are escaped, the plan parses back to the same layers', () => {
		const p = planMount(stack(['/s/a:b', '/s/c\\d']), [], {pageSize: 4096});
		expect(p.strategy).toBe('absolute');
		const lowerdir = p.options.split(',')[0]?.slice('lowerdir='.length) ?? '';
		expect(parseLowerdir(lowerdir)).toEqual({
			ok: true,
			layers: [
				{path: '/s/c\\d', dataOnly: false},
				{path: '/s/a:b', dataOnly: false},
			],
		});
	});

	test.each(['/s/x,upperdir=/etc', '/s/l,ro', '/s/q"uote'])(
		'%s goes by file descriptor, never into the option string',
		(hostile) => {
			const p = planMount(stack(['/s/l1', hostile]), [], {pageSize: 4096});
			expect(p.strategy).toBe('fd');
			expect(p.options).toBe('lowerdir=3:4,upperdir=5,workdir=6');
			expect(p.options).not.toContain('/etc');
			expect(p.cwd).toBe('/proc/self/fd');
			expect(p.fdPaths).toEqual([hostile, '/s/l1', '/s/upper', '/s/work']);
			expect(p.notes.join('\n')).toMatch(/contains ','/);
		},
	);

	test('isLibmountSafe', () => {
		expect(isLibmountSafe('/a:b\\c d=e')).toBe(true);
		expect(isLibmountSafe('/a,b')).toBe(false);
		expect(isLibmountSafe('/a"b')).toBe(false);
	});

	// Pads one lower so the absolute string is exactly `bytes` long.
	const exactly = (bytes: number): Stack => {
		const base = planMount(stack(['/deep/x']), [], {pageSize: 4096}).optionBytes;
		return stack([`/deep/x${'y'.repeat(bytes - base)}`]);
	};
	test('exactly 4095 bytes fits the page', () => {
		const p = planMount(exactly(4095), [], {pageSize: 4096});
		expect(p.optionBytes).toBe(4095);
		expect(p.strategy).toBe('absolute');
	});
	test('4096 bytes would be truncated: falls back to relative paths', () => {
		const p = planMount(exactly(4096), [], {pageSize: 4096});
		expect(p.strategy).toBe('relative');
		expect(p.cwd).toBe('/');
		expect(p.optionBytes).toBeLessThan(4096);
		expect(p.notes[0]).toMatch(/absolute: 4096 bytes is over the 4095-byte page budget/);
	});

	test('500 long-named layers: relative under a long common ancestor', () => {
		const root = `/srv/${'long-directory-name/'.repeat(10)}stack`;
		const lowers = Array.from({length: 500}, (_, i) => `${root}/l${i}`);
		const p = planMount({...stack(lowers), upper: `${root}/upper`, work: `${root}/work`}, [], {pageSize: 4096});
		expect(p.strategy).toBe('relative');
		expect(p.cwd).toBe(root);
		expect(p.options.startsWith('lowerdir=l499:l498:')).toBe(true);
		expect(p.optionBytes).toBeLessThanOrEqual(4095);
	});

	test('500 layers whose names alone overflow the page: file descriptors', () => {
		const lowers = Array.from({length: 500}, (_, i) => `/srv/layers/${'n'.repeat(20)}${i}`);
		const p = planMount(stack(lowers), [], {pageSize: 4096});
		expect(p.strategy).toBe('fd');
		expect(p.fdPaths).toHaveLength(502);
		expect(p.optionBytes).toBeLessThanOrEqual(4095);
	});

	test('refused, with the numbers, when nothing fits', () => {
		const lowers = Array.from({length: 500}, (_, i) => `/l${i}`);
		const p = planMount(stack(lowers), [], {pageSize: 1024});
		expect(p.strategy).toBe('refused');
		const f = p.findings.find((x) => x.code === 'OVL_OPTIONS_TOO_LONG');
		expect(f?.severity).toBe('error');
		expect(f?.message).toMatch(/need \d+ bytes .* at most 1023 .*500 lower layers/);
	});

	test('bigger pages give a bigger budget', () => {
		expect(planMount(stack(['/a']), [], {pageSize: 65536}).budget).toBe(65535);
	});

	test('multi-byte names are counted in bytes, not characters', () => {
		const p = planMount(stack(['/ü']), [], {pageSize: 4096});
		expect(p.optionBytes).toBe(p.options.length + 1);
	});
});

describe('layerTexts + verifyMount', () => {
	const s = stack(['/s/l1', '/s/l2']);
	const mounted = (line: string) => decodeOverlay(parseMountinfoLine(line)!);
	test('relative texts', () => {
		expect(layerTexts(s, 'relative', '/s')).toEqual({lowers: ['l2', 'l1'], upper: 'upper', work: 'work'});
	});
	test('a faithful mount verifies clean', () => {
		const p = planMount(s, [], {pageSize: 4096});
		expect(
			verifyMount(
				p,
				mounted(
					'1 2 0:1 / /s/merged rw - overlay overlay rw,lowerdir=/s/l2:/s/l1,upperdir=/s/upper,workdir=/s/work,uuid=on',
				),
			),
		).toEqual([]);
	});
	test('a truncated lowerdir is caught', () => {
		const p = planMount(s, [], {pageSize: 4096});
		const f = verifyMount(
			p,
			mounted('1 2 0:1 / /s/merged rw - overlay overlay rw,lowerdir=/s/l2,upperdir=/s/upper,workdir=/s/work'),
		);
		expect(f.map((x) => x.code)).toContain('OVL_VERIFY_MISMATCH');
	});
	test('a re-split option (libmount ate a piece) is caught', () => {
		const p = planMount(s, [], {pageSize: 4096});
		const f = verifyMount(
			p,
			mounted('1 2 0:1 / /s/merged rw - overlay overlay rw,lowerdir=/s/l2:/s/l1\\054upperdir=/s/upper,workdir=/s/work'),
		);
		expect(f.length).toBeGreaterThan(0);
	});
	test('read-only surprise is caught', () => {
		const p = planMount(s, [], {pageSize: 4096});
		const f = verifyMount(
			p,
			mounted('1 2 0:1 / /s/merged rw - overlay overlay ro,lowerdir=/s/l2:/s/l1,upperdir=/s/upper,workdir=/s/work'),
		);
		expect(f.map((x) => x.code)).toEqual(['OVL_MOUNTED_READ_ONLY']);
	});
	test('no mount at all', () => {
		expect(verifyMount(planMount(s, [], {pageSize: 4096}), undefined)[0]?.code).toBe('OVL_VERIFY_NOT_FOUND');
	});
});
