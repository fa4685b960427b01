import {execFileSync} from 'node:child_process';
import {createRequire} from 'node:module';
import {
	closeSync,
	existsSync,
	lstatSync,
	mkdirSync,
	openSync,
	readFileSync,
	readdirSync,
	symlinkSync,
	writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {gzipSync} from 'node:zlib';
import {afterAll, beforeAll, expect, test} from 'vitest';
import {TarReader} from '../../src/docker/tar-reader.js';
import {builtins} from '../../src/lab/builtins.js';
import {describeKernel} from '../helpers/kernel.js';
import {timeScale} from '../helpers/wait.js';
import {cleanScratch, makeScratch, mountsUnder} from '../helpers/scratch.js';
import {craftTar, type CraftEntry} from '../helpers/tar-craft.js';
import {hostileName, hostileYaml, rng, shellBytes, type Rng} from './gen.js';
import {judge, leaks, mountsOf, plantCanary, runRaw, Tally, treeDigest, type Run} from './harness.js';

// The fuzz and fault suite: seeded hostile inputs in every role, and signals at random moments.
// OVL_FUZZ_SEED picks another reproducible set; OVL_FUZZ_SCALE multiplies the case counts;
// OVL_FUZZ_REPORT=FILE writes the tally table there. Every failure names its seed and case.

const seed = Number(process.env['OVL_FUZZ_SEED'] ?? 1);
const scale = Number(process.env['OVL_FUZZ_SCALE'] ?? 1);
const count = (n: number): number => Math.max(1, Math.round(n * scale));
const tally = new Tally();
// Each category runs dozens of real commands: minutes, not the default minute (and more under emulation).
const budget = 600_000 * timeScale;
// The native helper makes device nodes and xattrs with exact name bytes (the CLI tools take UTF-8 argv).
const sys = createRequire(import.meta.url)(
	'../../build/Release/ovl_native.node',
) as import('../../src/io/native.js').NativeApi;
let root = '';
let caseNo = 0;

const B = (s: string): Buffer => Buffer.from(s, 'latin1');
const join = (dir: string, name: Buffer): Buffer => Buffer.concat([B(`${dir}/`), name]);
const isUtf8 = (b: Buffer): boolean => Buffer.from(b.toString('utf8'), 'utf8').equals(b);
const plainName = (b: Buffer): boolean => !['.', '..'].includes(b.toString('latin1'));

/** A fresh case directory with a canary tree beside it and its own registry and temp dir. */
function caseDir(): {dir: string; env: Record<string, string>; canary: () => string | undefined} {
	const dir = path.join(root, `c${++caseNo}`);
	mkdirSync(path.join(dir, 'tmp'), {recursive: true});
	const canary = plantCanary(dir);
	return {dir, env: {OVL_RUN_DIR: path.join(dir, 'run'), TMPDIR: path.join(dir, 'tmp')}, canary};
}

async function umountAll(dir: string): Promise<void> {
	for (const m of mountsOf(dir)) execFileSync('umount', ['-l', m]);
}

function record(category: string, label: string, problems: (string | undefined)[]): void {
	tally.add(
		category,
		problems.filter((p): p is string => p !== undefined),
		`seed ${seed} case ${caseNo} ${label}`,
	);
}

describeKernel('fuzz and fault suite', () => {
	beforeAll(async () => {
		root = await makeScratch('ovl-fuzz-');
	});
	afterAll(async () => {
		await cleanScratch(root);
		const report = process.env['OVL_FUZZ_REPORT'];
		if (report) writeFileSync(report, `${tally.table()}\n\n${tally.failures().join('\n')}\n`);
		console.log(`fuzz (seed ${seed}):\n${tally.table()}`);
	});

	test(
		'hostile names in every role of prepare',
		async () => {
			const r = rng(seed * 1000 + 1);
			for (let i = 0; i < count(40); i++) {
				const {dir, env, canary} = caseDir();
				const name = hostileName(r);
				const role = r.pick(['lower', 'upper', 'work', 'merged', 'put'] as const);
				const args =
					role === 'put'
						? `prepare lab --put ${shellBytes(Buffer.concat([B('lower1/'), name, B('=x')]))}`
						: `prepare lab --${role} ${shellBytes(name)}`;
				const run = await runRaw(args, {cwd: dir, env});
				const problems = [...judge(run), canary()];
				if (run.code === 0) {
					// --put LAYER/PATH=TEXT splits at the first "=": a name holding one names the part before it.
					const eq = name.indexOf(0x3d);
					const target =
						role === 'put' ? join(`${dir}/lab/lower1`, eq < 0 ? name : name.subarray(0, eq)) : join(`${dir}/lab`, name);
					if (!existsSync(target)) problems.push(`exit 0 but ${shellBytes(target)} was not created`);
				}
				if (!isUtf8(name) && run.code === 0) problems.push('a name that is not UTF-8 was accepted into ovl.yaml');
				record('names × prepare roles', `${role} ${shellBytes(name)}`, problems);
			}
			expect(tally.rows.get('names × prepare roles')?.wrong, tally.failures().join('\n')).toBe(0);
		},
		budget,
	);

	test(
		'hostile names in every role of mount, and the exact directories mounted',
		async () => {
			const r = rng(seed * 1000 + 2);
			for (let i = 0; i < count(40); i++) {
				const {dir, env, canary} = caseDir();
				const name = hostileName(r);
				const role = r.pick(['lower', 'upper', 'work', 'merged'] as const);
				if (role === 'merged' && !plainName(name)) continue;
				const names = {lower: B('l1'), upper: B('u'), work: B('w'), merged: B('m'), [role]: name};
				for (const d of [names.lower, B('l2'), names.upper, names.work, names.merged]) {
					try {
						mkdirSync(join(dir, d));
					} catch {
						// '.', '..' or a name over 255 bytes: ovl must cope with what is (not) there
					}
				}
				try {
					writeFileSync(join(dir, Buffer.concat([names.lower, B('/a')])), 'lower\n');
				} catch {
					// no such lower (a name the kernel refused): ovl must say so
				}
				const lowerBefore =
					plainName(names.lower) && names.lower.length <= 255 && existsSync(join(dir, names.lower))
						? treeDigest(join(dir, names.lower))
						: undefined;
				const run = await runRaw(
					`mount --lower ${shellBytes(names.lower)} --lower l2 --upper ${shellBytes(names.upper)} --work ${shellBytes(names.work)} ${shellBytes(names.merged)}`,
					{cwd: dir, env},
				);
				const problems = [...judge(run), canary()];
				if (run.code === 0) {
					try {
						writeFileSync(join(dir, Buffer.concat([names.merged, B('/probe')])), 'x');
						if (!existsSync(join(dir, Buffer.concat([names.upper, B('/probe')]))))
							problems.push('a write through the mount did not land in the named upper');
					} catch (error) {
						problems.push(`writing into the mount failed: ${(error as Error).message}`);
					}
					const u = await runRaw(`umount ${shellBytes(names.merged)}`, {cwd: dir, env});
					problems.push(...judge(u).map((p) => `umount: ${p}`));
					if (u.code !== 0) problems.push(`ovl umount failed: ${u.stderr.slice(0, 200)}`);
				}
				if (lowerBefore !== undefined && treeDigest(join(dir, names.lower)) !== lowerBefore)
					problems.push('a lower layer changed');
				problems.push(...leaks(dir));
				await umountAll(dir);
				record('names × mount roles', `${role} ${shellBytes(name)}`, problems);
			}
			expect(tally.rows.get('names × mount roles')?.wrong, tally.failures().join('\n')).toBe(0);
		},
		budget,
	);

	test(
		'upper trees with hostile names, links and overlay xattrs: inspect and diff',
		async () => {
			const r = rng(seed * 1000 + 3);
			for (let i = 0; i < count(30); i++) {
				const {dir, env, canary} = caseDir();
				const wanted = hostileTree(r, dir);
				const lowerBefore = treeDigest(path.join(dir, 'l'));
				for (const form of ['inspect --json', 'inspect --plain', 'diff --json', 'diff --all --plain'] as const) {
					const run = await runRaw(`${form} --upper u --lower l`, {cwd: dir, env});
					const problems = [...judge(run), canary()];
					if (treeDigest(path.join(dir, 'l')) !== lowerBefore) problems.push('inspect changed a lower layer');
					if (run.code === 0 && form === 'inspect --json') problems.push(...missingEntries(run, wanted));
					// eslint-disable-next-line no-control-regex -- looking for the escape character itself
					if (run.code === 0 && form.endsWith('--plain') && /\u001b/.test(run.stdout))
						problems.push('a raw escape character reached plain output');
					record('upper trees × inspect/diff', `${form} ${wanted.map((w) => shellBytes(w)).join(' ')}`, problems);
				}
				const run = await runRaw('export --upper u --lower l -o out.tar', {cwd: dir, env});
				const problems = [...judge(run), canary()];
				if (treeDigest(path.join(dir, 'l')) !== lowerBefore) problems.push('export changed a lower layer');
				if (readdirSync(dir).some((n) => n.includes('.ovl-export-'))) problems.push('export left its temp file');
				if (run.code === 0) problems.push(...archiveProblems(path.join(dir, 'out.tar')));
				record('upper trees × export', wanted.map((w) => shellBytes(w)).join(' '), problems);
			}
			expect(tally.rows.get('upper trees × inspect/diff')?.wrong, tally.failures().join('\n')).toBe(0);
			expect(tally.rows.get('upper trees × export')?.wrong, tally.failures().join('\n')).toBe(0);
		},
		budget,
	);

	test(
		'stack files, mutated',
		async () => {
			const r = rng(seed * 1000 + 4);
			const base =
				'version: 1\nlowers:\n  - lower1\n  - lower2\nupper: upper\nwork: work\nmerged: merged\noptions: [redirect_dir=on]\n';
			for (let i = 0; i < count(40); i++) {
				const {dir, env, canary} = caseDir();
				for (const d of ['lower1', 'lower2', 'upper', 'work', 'merged']) mkdirSync(path.join(dir, d));
				writeFileSync(path.join(dir, 'ovl.yaml'), hostileYaml(r, base));
				const dry = r.chance(0.5);
				const run = await runRaw(`mount ${dry ? '--dry-run ' : ''}.`, {cwd: dir, env});
				const problems = [...judge(run), canary()];
				if (run.code === 0 && !dry) {
					const u = await runRaw(`umount merged`, {cwd: dir, env});
					if (u.code !== 0) problems.push(`umount failed: ${u.stderr.slice(0, 200)}`);
				}
				problems.push(...leaks(dir));
				await umountAll(dir);
				record('stack files', `${dry ? 'dry-run' : 'mount'}`, problems);
			}
			expect(tally.rows.get('stack files')?.wrong, tally.failures().join('\n')).toBe(0);
		},
		budget,
	);

	test(
		'lab files, mutated',
		async () => {
			const r = rng(seed * 1000 + 5);
			const names = Object.keys(builtins).filter((n) => n !== 'copy-up-cost' && n !== 'layer-depth');
			for (let i = 0; i < count(20); i++) {
				const {dir, env, canary} = caseDir();
				writeFileSync(path.join(dir, 'exp.yaml'), hostileYaml(r, builtins[r.pick(names)] as string));
				const run = await runRaw('lab run exp.yaml --json', {cwd: dir, env});
				// Exit 1 with a report is an experiment whose expectations did not hold: a result, not an error.
				const failedExpectations = run.code === 1 && /"passed": false/.test(run.stdout);
				const problems = [...(failedExpectations ? judge({...run, code: 0}) : judge(run)), canary(), ...leaks(dir)];
				await umountAll(dir);
				record('lab files', 'exp.yaml', problems);
			}
			expect(tally.rows.get('lab files')?.wrong, tally.failures().join('\n')).toBe(0);
		},
		budget,
	);

	test(
		'layer tarballs, mutated and hostile',
		async () => {
			const r = rng(seed * 1000 + 6);
			for (let i = 0; i < count(60); i++) {
				const {dir, env, canary} = caseDir();
				const {bytes, label} = hostileTar(r);
				writeFileSync(path.join(dir, 'layer.tar'), bytes);
				const run = await runRaw('prepare img --layer-tar layer.tar', {cwd: dir, env});
				const problems = [...judge(run), canary()];
				const img = path.join(dir, 'img');
				if (run.code === 0 && !existsSync(path.join(img, 'layer1'))) problems.push('exit 0 without a layer');
				if (run.code !== 0 && existsSync(img)) problems.push(`a failed import left ${readdirSync(img).join(', ')}`);
				if (existsSync(img) && readdirSync(img).some((n) => n.startsWith('.ovl-import-')))
					problems.push('a staging dir was left behind');
				record('tarballs', label, problems);
			}
			expect(tally.rows.get('tarballs')?.wrong, tally.failures().join('\n')).toBe(0);
		},
		budget,
	);

	test(
		'signals at random moments: mount, prepare --layer-tar, lab run',
		async () => {
			const r = rng(seed * 1000 + 7);
			for (let i = 0; i < count(24); i++) {
				const {dir, env, canary} = caseDir();
				const which = r.pick(['mount', 'prepare', 'lab'] as const);
				const signal = r.pick(['SIGINT', 'SIGTERM', 'SIGHUP'] as const);
				const delay = 50 + r.int(1500);
				let problems: (string | undefined)[] = [];
				if (which === 'mount') {
					const layers = Array.from({length: 40}, (_, k) => `--lower l${k}`).join(' ');
					const prep = await runRaw(`prepare s ${layers}`, {cwd: dir, env});
					if (prep.code !== 0) problems.push(`prepare failed: ${prep.stderr.slice(0, 200)}`);
					const run = await runRaw('mount s', {cwd: dir, env, signalAfterMs: delay, signal});
					const mounted = mountsUnder(dir).length;
					const records = existsSync(env['OVL_RUN_DIR'] as string)
						? readdirSync(env['OVL_RUN_DIR'] as string).filter((n) => n.endsWith('.json')).length
						: 0;
					problems = [...judge(run, {interruptible: true}), canary()];
					if (mounted !== records) problems.push(`${mounted} mount(s) but ${records} registry record(s)`);
					if (run.code === 130 && mounted > 0) problems.push('exit 130 with the overlay still mounted');
					if (mounted > 0) await runRaw('umount s/merged', {cwd: dir, env});
				} else if (which === 'prepare') {
					mkdirSync(path.join(dir, 'src', 'd'), {recursive: true});
					for (let k = 0; k < 1500; k++) writeFileSync(path.join(dir, 'src', 'd', `f${k}`), `${k}\n`);
					execFileSync('tar', ['-C', path.join(dir, 'src'), '-cf', path.join(dir, 'big.tar'), '.']);
					const run = await runRaw('prepare img --layer-tar big.tar', {cwd: dir, env, signalAfterMs: delay, signal});
					problems = [...judge(run, {interruptible: true}), canary()];
					const img = path.join(dir, 'img');
					// All or nothing: a signal during Node's exit (after the work, once the handlers are
					// gone) kills the process with the whole layout in place, and that is not half-done.
					const whole = (): boolean =>
						existsSync(path.join(img, 'ovl.yaml')) &&
						existsSync(path.join(img, 'layer1', 'd')) &&
						readdirSync(path.join(img, 'layer1', 'd')).length === 1500 &&
						!readdirSync(img).some((n) => n.startsWith('.ovl-import-') && n !== '.ovl-import.json');
					if (run.code !== 0 && run.code !== null && existsSync(img))
						problems.push(`an interrupted prepare left ${readdirSync(img).join(', ')}`);
					if (run.code === null && existsSync(img) && !whole())
						problems.push(`a prepare killed by ${run.signal} left a partial ${readdirSync(img).join(', ')}`);
					if (run.code === 0 && !whole()) problems.push('exit 0 with a partial layer');
				} else {
					const run = await runRaw('lab run blog --json', {cwd: dir, env, signalAfterMs: delay, signal});
					problems = [...judge(run, {interruptible: true}), canary()];
				}
				problems.push(...leaks(dir));
				await umountAll(dir);
				record('signals', `${which} ${signal} after ${delay} ms`, problems);
			}
			expect(tally.rows.get('signals')?.wrong, tally.failures().join('\n')).toBe(0);
		},
		budget,
	);
});

/** Builds u/ (and l/) with hostile names, types and overlay xattrs; returns the upper names made. */
function hostileTree(r: Rng, dir: string): Buffer[] {
	const u = path.join(dir, 'u');
	const l = path.join(dir, 'l');
	mkdirSync(u);
	mkdirSync(l);
	const made: Buffer[] = [];
	for (let k = 0; k < 4 + r.int(5); k++) {
		const name = hostileName(r);
		if (!plainName(name) || name.length > 255 || name.includes(0x2f)) continue; // one component: no '/'
		const p = join(u, name);
		if (existsSync(p)) continue;
		const kind = r.pick(['file', 'dir', 'symlink', 'whiteout', 'fifo', 'opaque', 'redirect', 'metacopy'] as const);
		try {
			if (kind === 'file') writeFileSync(p, 'data');
			else if (kind === 'dir' || kind === 'opaque' || kind === 'redirect') {
				mkdirSync(p);
				writeFileSync(Buffer.concat([p, B('/child')]), 'c');
				if (kind === 'opaque') sys.lsetxattr(p, 'trusted.overlay.opaque', B(r.pick(['y', 'x', 'n', ''])), 0);
				if (kind === 'redirect')
					sys.lsetxattr(
						p,
						'trusted.overlay.redirect',
						B(r.pick(['../../outside', '/abs/x', 'x'.repeat(300), '\xff', 'a/b/c', ''])),
						0,
					);
			} else if (kind === 'symlink')
				symlinkSync(r.pick(['../../outside/victim', '/etc/passwd', 'x'.repeat(1000), '.']), p);
			else if (kind === 'whiteout' || kind === 'fifo') {
				const fd = openSync(u, 'r');
				try {
					sys.mknodat(fd, name, kind === 'whiteout' ? 0o020000 : 0o010000, 0, 0);
				} finally {
					closeSync(fd);
				}
			} else {
				writeFileSync(p, '');
				sys.lsetxattr(p, 'trusted.overlay.metacopy', r.pick([B(''), B('\0'), Buffer.from('deadbeef', 'hex')]), 0);
			}
			if (r.chance(0.5)) writeFileSync(join(l, name), 'lower');
		} catch {
			// the filesystem refused the name or the xattr: the tree holds whatever was made
		}
		if (lstatSync(p, {throwIfNoEntry: false})) made.push(name);
	}
	return made;
}

function missingEntries(run: Run, wanted: readonly Buffer[]): string[] {
	let doc: {entries?: {path: string; pathBytes?: string}[]};
	try {
		doc = JSON.parse(Buffer.from(run.stdout, 'latin1').toString('utf8')) as typeof doc;
	} catch {
		return ['--json output is not JSON'];
	}
	const got = new Set(
		(doc.entries ?? []).map((e) =>
			(e.pathBytes ? Buffer.from(e.pathBytes, 'base64') : Buffer.from(e.path)).toString('hex'),
		),
	);
	return wanted
		.filter((w) => !got.has(Buffer.concat([B('/'), w]).toString('hex')))
		.map((w) => `entry ${shellBytes(w)} missing or renamed in --json`);
}

/** A layer tarball: a valid base, then one mutation (or plain garbage). */
function hostileTar(r: Rng): {bytes: Buffer; label: string} {
	const entries: CraftEntry[] = [
		{name: 'etc/', type: '5', mode: 0o755},
		{name: 'etc/motd', data: 'hello\n'},
		{name: 'etc/.wh.gone', data: ''},
		{name: 'var/.wh..wh..opq', data: ''},
		{name: 'bin/sh', type: '2', linkname: '/bin/busybox'},
		{name: 'bin/ls', type: '1', linkname: 'etc/motd'},
	];
	const mutation = r.int(8);
	if (mutation === 0) entries.push({name: Buffer.concat([B('etc/'), hostileName(r)]), data: 'x'});
	if (mutation === 1)
		entries.push({name: r.pick(['../escape', '/abs', 'a/../../b', 'etc/motd/../../x', './.././y']), data: 'x'});
	if (mutation === 2)
		entries.push(
			{name: 'l', type: '2', linkname: r.pick(['../../..', '/etc', 'a/../../b'])},
			{name: 'l/inner', data: 'x'},
		);
	if (mutation === 3)
		entries.push({name: 'h', type: '1', linkname: r.pick(['../outside/victim', '/etc/passwd', 'nope', 'etc'])});
	if (mutation === 4) entries.push({name: 'x', type: r.pick(['S', 'V', 'M', 'Z', '9', 'g', 'x']), data: 'junk'});
	let bytes = craftTar(entries);
	if (mutation === 5) bytes = bytes.subarray(0, r.int(bytes.length));
	if (mutation === 6) {
		bytes = Buffer.from(bytes);
		for (let k = 0; k < 1 + r.int(8); k++) bytes[r.int(bytes.length)] = r.int(256);
	}
	if (mutation === 7) bytes = Buffer.from(Array.from({length: r.int(3000)}, () => r.int(256)));
	const gz = r.chance(0.3);
	if (gz) {
		bytes = gzipSync(bytes);
		if (r.chance(0.3)) bytes = bytes.subarray(0, r.int(bytes.length));
	}
	return {bytes, label: `mutation ${mutation}${gz ? ' gz' : ''}`};
}

/** An export must be a tar that both ovl's strict reader and GNU tar accept, without overlay xattrs. */
function archiveProblems(file: string): string[] {
	const out: string[] = [];
	try {
		const reader = new TarReader((e) => {
			if ([...e.xattrs.keys()].some((k) => k.includes('.overlay.'))) out.push(`${e.path} carries an overlay xattr`);
			return undefined;
		});
		reader.push(readFileSync(file));
	} catch (error) {
		out.push(`ovl's reader refused the export: ${(error as Error).message}`);
	}
	try {
		execFileSync('tar', ['-tf', file], {stdio: 'ignore'});
	} catch {
		out.push('GNU tar refused the export');
	}
	return out;
}
