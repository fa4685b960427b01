// Seeded generators of hostile input: every case is reproducible from (seed, index).

export type Rng = {next(): number; int(n: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean};

/** mulberry32: small, fast, and the same sequence on every machine. */
export function rng(seed: number): Rng {
	let a = seed >>> 0;
	const next = (): number => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	return {
		next,
		int: (n) => Math.floor(next() * n),
		pick: (xs) => xs[Math.floor(next() * xs.length)] as (typeof xs)[number],
		chance: (p) => next() < p,
	};
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Names people and attackers actually use: bytes that are not UTF-8, separators, option syntax, shell syntax, terminal escapes, limits. */
export const hostileNames: readonly Buffer[] = [
	b('a\xffb'),
	b('\xfe'),
	Buffer.from('f\uFFFD'),
	b('\xc0\xaf'),
	b('a\nb'),
	b('e\x1b[2Jx'),
	b('a\rb'),
	b('\x7f'),
	b('a,b'),
	b('a:b'),
	b('a::b'),
	b('a=b'),
	b('a"b'),
	b("a'b"),
	b('a\\b'),
	b('a\\,b'),
	b('a b'),
	b(' '),
	b('\t'),
	b('-o'),
	b('--force'),
	b('-'),
	b('lowerdir=x'),
	b('a,upperdir=/etc'),
	b('x,lowerdir=/'),
	b('$(touch pwned)'),
	b('`id`'),
	b(';rm -rf x'),
	b('*'),
	b('~'),
	b('#'),
	b('...'),
	Buffer.from('ünï'),
	Buffer.from('😀'),
	b('x'.repeat(255)),
	b('x'.repeat(256)),
	b('.'),
	b('..'),
];

/** A hostile name: one from the list, a mix of pieces, or random bytes (never '/' or NUL). */
export function hostileName(r: Rng): Buffer {
	const roll = r.int(3);
	if (roll === 0) return r.pick(hostileNames);
	if (roll === 1) {
		const parts = Array.from({length: 1 + r.int(3)}, () => r.pick(hostileNames).subarray(0, 40));
		const out = Buffer.concat(parts);
		return out.length === 0 ? b('x') : out.subarray(0, 255);
	}
	const len = 1 + r.int(30);
	const bytes = Array.from({length: len}, () => {
		let x = 1 + r.int(255);
		if (x === 0x2f) x = 0x5f;
		return x;
	});
	return Buffer.from(bytes);
}

/** bash's $'…' form of exact bytes: every byte escaped, so nothing in it is shell syntax. */
export function shellBytes(x: Buffer | string): string {
	const bytes = typeof x === 'string' ? Buffer.from(x) : x;
	return `$'${[...bytes].map((c) => `\\x${c.toString(16).padStart(2, '0')}`).join('')}'`;
}

/** Random YAML-ish documents for stack and lab files: right keys, wrong types, aliases, junk. */
export function hostileYaml(r: Rng, base: string): string {
	const lines = base.split('\n');
	const mutations = [
		() => lines.splice(r.int(lines.length), 1),
		() =>
			lines.splice(
				r.int(lines.length),
				0,
				r.pick([
					'  - ',
					':',
					'- [',
					'{',
					'a: &x [1]',
					'b: *x',
					'c: *nope',
					'\t- tab',
					'size: 1e400',
					'version: 99',
					'lowers: 7',
					'? complex',
					'!!binary AAAA',
					'"unterminated',
					'x'.repeat(5000),
				]),
			),
		() => {
			const i = r.int(lines.length);
			lines[i] = (lines[i] ?? '').replace(
				/: .*/,
				`: ${r.pick(['null', '~', '[]', '{}', '-1', '0.5', '.inf', 'true', '"a\\x00b"', '"../../etc"', '/etc', '"a,b"', '99999999999999999999', '[a, [b, [c]]]'])}`,
			);
		},
		() => {
			const i = r.int(lines.length);
			lines[i] = `${' '.repeat(r.int(6))}${(lines[i] ?? '').trimStart()}`;
		},
	];
	const n = 1 + r.int(3);
	for (let i = 0; i < n; i++) r.pick(mutations)();
	return lines.join('\n');
}
