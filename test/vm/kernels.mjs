// npm run test:kernels — the kernel matrix. Downloads Debian kernels (5.10, 6.1, 6.12, the newest
// in sid) through a private apt configuration of this machine's own Debian mirror (the system's
// apt is untouched), builds one initramfs (busybox, the overlay modules, node and its libraries,
// the built ovl and test/vm/guest), boots each kernel with QEMU's software emulation and prints a
// kernel × test table. Downloads are cached in /var/cache/ovl-kernels. Exit 1 if any test failed.
import {execFileSync, spawn} from 'node:child_process';
import {
	copyFileSync,
	cpSync,
	existsSync,
	mkdirSync,
	readFileSync,
	readdirSync,
	rmSync,
	writeFileSync,
	statSync,
} from 'node:fs';
import path from 'node:path';
import {cacheDir, debianMirror, log, need, root, sh} from './host.mjs';

const cache = process.env.OVL_KERNEL_CACHE ?? cacheDir('ovl-kernels');
const suites = (process.env.OVL_KERNEL_SUITES ?? 'bullseye bookworm trixie sid').split(/\s+/).filter(Boolean);
const timeoutS = Number(process.env.OVL_KERNEL_TIMEOUT ?? 600);

function aptEnv() {
	const a = path.join(cache, 'apt');
	for (const d of ['state/lists/partial', 'cache/archives/partial', 'parts', 'prefs'])
		mkdirSync(path.join(a, d), {recursive: true});
	const mirror = debianMirror();
	writeFileSync(
		path.join(a, 'sources.list'),
		suites.map((s) => `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} ${s} main\n`).join(''),
	);
	writeFileSync(path.join(a, 'state', 'status'), '');
	writeFileSync(
		path.join(a, 'apt.conf'),
		[
			`Dir::Etc::SourceList "${a}/sources.list";`,
			`Dir::Etc::SourceParts "${a}/parts";`,
			`Dir::Etc::PreferencesParts "${a}/prefs";`,
			`Dir::State "${a}/state";`,
			`Dir::State::status "${a}/state/status";`,
			`Dir::Cache "${a}/cache";`,
			'APT::Architecture "amd64";',
			'APT::Architectures { "amd64"; };',
			'Acquire::Languages "none";',
			'Acquire::Check-Valid-Until "false";',
		].join('\n'),
	);
	return {...process.env, APT_CONFIG: path.join(a, 'apt.conf')};
}

const depends = (deb) =>
	sh('dpkg-deb', ['-f', deb, 'Depends'])
		.split(',')
		.map((d) => d.trim().split(/[\s|]/)[0])
		.filter(Boolean);

/** Downloads linux-image-amd64 of a suite and the kernel packages it pulls in; returns the .debs. */
function fetchKernel(env, suite) {
	const dir = path.join(cache, 'debs', suite);
	mkdirSync(dir, {recursive: true});
	const got = new Map(
		readdirSync(dir)
			.filter((f) => f.endsWith('.deb'))
			.map((f) => [f.split('_')[0], path.join(dir, f)]),
	);
	const want = ['linux-image-amd64'];
	const debs = [];
	while (want.length > 0) {
		const name = want.shift();
		let deb = got.get(name);
		if (!deb) {
			sh('apt-get', ['download', `${name}/${suite}`], {env, cwd: dir});
			deb = path.join(
				dir,
				readdirSync(dir).find((f) => f.startsWith(`${name}_`)),
			);
			got.set(name, deb);
		}
		debs.push(deb);
		for (const d of depends(deb))
			if (
				/^linux-(image|binary|modules)-\d/.test(d) &&
				!debs.some((x) => path.basename(x).startsWith(`${d}_`)) &&
				!want.includes(d)
			)
				want.push(d);
	}
	return debs;
}

function unpackKernel(suite, debs) {
	const dir = path.join(cache, 'trees', suite);
	if (!existsSync(path.join(dir, '.done'))) {
		rmSync(dir, {recursive: true, force: true});
		mkdirSync(dir, {recursive: true});
		for (const d of debs) sh('dpkg-deb', ['-x', d, dir]);
		writeFileSync(path.join(dir, '.done'), '');
	}
	const modRoot = ['lib/modules', 'usr/lib/modules'].map((p) => path.join(dir, p)).find((p) => existsSync(p));
	const version = readdirSync(modRoot)[0];
	const vmlinuz = ['boot', 'usr/lib/linux', `usr/lib/modules/${version}`, `lib/modules/${version}`]
		.map((p) => path.join(dir, p))
		.flatMap((p) =>
			existsSync(p)
				? readdirSync(p)
						.filter((f) => /^vmlinuz/.test(f))
						.map((f) => path.join(p, f))
				: [],
		)[0];
	const moddir = path.join(modRoot, version);
	if (!existsSync(path.join(moddir, 'modules.dep'))) {
		if (!existsSync(path.join(dir, 'lib', 'modules'))) {
			mkdirSync(path.join(dir, 'lib'), {recursive: true});
			sh('ln', ['-s', '../usr/lib/modules', path.join(dir, 'lib', 'modules')]);
		}
		sh('depmod', ['-b', dir, version]);
	}
	return {version, vmlinuz, moddir};
}

/** overlay.ko and its dependencies, dependencies first, decompressed. */
function modules(moddir, out) {
	const dep = new Map(
		readFileSync(path.join(moddir, 'modules.dep'), 'utf8')
			.split('\n')
			.filter(Boolean)
			.map((l) => {
				const [m, rest] = l.split(':');
				return [m, rest.trim().split(/\s+/).filter(Boolean)];
			}),
	);
	const order = [];
	const add = (m) => {
		if (order.includes(m)) return;
		for (const d of dep.get(m) ?? []) add(d);
		order.push(m);
	};
	const overlay = [...dep.keys()].find((m) => /\/overlay\.ko/.test(m));
	if (!overlay) return []; // built in
	add(overlay);
	mkdirSync(out, {recursive: true});
	return order.map((m) => {
		const base = path.basename(m).replace(/\.(xz|zst|gz)$/, '');
		const src = path.join(moddir, m);
		const data = m.endsWith('.xz')
			? execFileSync('xz', ['-dc', src])
			: m.endsWith('.zst')
				? execFileSync('zstd', ['-dc', src])
				: m.endsWith('.gz')
					? execFileSync('gzip', ['-dc', src])
					: readFileSync(src);
		writeFileSync(path.join(out, base), data);
		return base;
	});
}

/** The shared part of the initramfs: busybox, node and its libraries, the built ovl and the guest suite. */
function baseTree() {
	const tree = path.join(cache, 'initramfs-base');
	rmSync(tree, {recursive: true, force: true});
	for (const d of ['bin', 'usr/bin', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'etc', 'ovl'])
		mkdirSync(path.join(tree, d), {recursive: true});
	copyFileSync('/bin/busybox', path.join(tree, 'bin/busybox'));
	copyFileSync(path.join(root, 'test/vm/init.sh'), path.join(tree, 'init'));
	const node = process.execPath;
	copyFileSync(node, path.join(tree, 'usr/bin/node'));
	for (const line of sh('ldd', [node]).split('\n')) {
		const lib = /=>\s+(\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)/.exec(line)?.[1];
		if (!lib) continue;
		mkdirSync(path.join(tree, path.dirname(lib)), {recursive: true});
		copyFileSync(lib, path.join(tree, lib));
	}
	writeFileSync(path.join(tree, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
	writeFileSync(path.join(tree, 'etc/group'), 'root:x:0:\n');
	for (const p of ['bin', 'dist', 'package.json', 'test/vm/guest'])
		cpSync(path.join(root, p), path.join(tree, 'ovl', p), {recursive: true});
	// Production dependencies only (npm ls --omit=dev).
	const deps = sh('npm', ['ls', '--omit=dev', '--all', '--parseable'], {cwd: root})
		.split('\n')
		.filter((p) => p.includes('node_modules'));
	for (const p of deps) cpSync(p, path.join(tree, 'ovl', path.relative(root, p)), {recursive: true});
	return tree;
}

function initramfs(base, suite, mods, moddir) {
	const tree = path.join(cache, `initramfs-${suite}`);
	rmSync(tree, {recursive: true, force: true});
	cpSync(base, tree, {recursive: true});
	const names = modules(moddir, path.join(tree, 'modules'));
	writeFileSync(path.join(tree, 'modules.order'), names.join('\n') + '\n');
	const out = path.join(cache, `initrd-${suite}.gz`);
	execFileSync('sh', ['-c', `cd "${tree}" && find . | cpio -o -H newc --quiet | gzip -1 > "${out}"`]);
	rmSync(tree, {recursive: true, force: true});
	return out;
}

function boot(suite, vmlinuz, initrd) {
	return new Promise((resolve) => {
		const started = Date.now();
		const args = [
			'-accel',
			'tcg',
			'-cpu',
			'max',
			'-m',
			'2048',
			'-smp',
			'1',
			'-nographic',
			'-no-reboot',
			'-nic',
			'none',
			'-kernel',
			vmlinuz,
			'-initrd',
			initrd,
			'-append',
			'console=ttyS0 panic=-1 quiet',
		];
		const q = spawn('qemu-system-x86_64', args, {stdio: ['ignore', 'pipe', 'pipe']});
		let out = '';
		q.stdout.on('data', (d) => (out += d));
		q.stderr.on('data', (d) => (out += d));
		const timer = setTimeout(() => q.kill('SIGKILL'), timeoutS * 1000);
		q.on('close', () => {
			clearTimeout(timer);
			writeFileSync(path.join(cache, `console-${suite}.log`), out);
			resolve({out: out.replace(/\r/g, ''), seconds: (Date.now() - started) / 1000});
		});
	});
}

function parse(out) {
	const tests = [];
	for (const m of out.matchAll(/^ *(not ok|ok) \d+ - (.+?)(?: # (SKIP|TODO).*)?$/gm)) {
		if (/\.mjs$/.test(m[2]) || m[2].includes('/guest/')) continue;
		tests.push({name: m[2], ok: m[1] === 'ok' && !m[3]});
	}
	const exit = /OVL-EXIT (\d+)/.exec(out)?.[1];
	return {kernel: /OVL-KERNEL (\S+)/.exec(out)?.[1] ?? '?', tests, exit: exit === undefined ? undefined : Number(exit)};
}

need([
	['qemu-system-x86_64', 'qemu-system-x86'],
	['busybox', 'busybox-static'],
	['cpio', 'cpio'],
	['depmod', 'kmod'],
	['xz', 'xz-utils'],
	['zstd', 'zstd'],
]);
const env = aptEnv();
log(`apt update (${suites.join(', ')}) from ${debianMirror()}`);
sh('apt-get', ['update', '-qq'], {env});
const base = baseTree();
log('initramfs base built');
const results = [];
for (const suite of suites) {
	const t = Date.now();
	const debs = fetchKernel(env, suite);
	const k = unpackKernel(suite, debs);
	const initrd = initramfs(base, suite, null, k.moddir);
	log(
		`${suite}: ${k.version}, prepared in ${((Date.now() - t) / 1000).toFixed(1)} s (initrd ${(statSync(initrd).size / 1e6).toFixed(0)} MB); booting`,
	);
	const {out, seconds} = await boot(suite, k.vmlinuz, initrd);
	const r = parse(out);
	log(`${suite}: ${r.kernel} finished in ${seconds.toFixed(1)} s, exit ${r.exit ?? 'none (timed out or crashed)'}`);
	results.push({suite, version: k.version, seconds, ...r});
}
const names = [...new Set(results.flatMap((r) => r.tests.map((t) => t.name)))];
const width = Math.max(...names.map((n) => n.length), 10);
console.log(`\n${'test'.padEnd(width)}  ${results.map((r) => r.version.padEnd(22)).join(' ')}`);
for (const n of names)
	console.log(
		`${n.padEnd(width)}  ${results
			.map((r) => {
				const t = r.tests.find((x) => x.name === n);
				return (t ? (t.ok ? 'pass' : 'FAIL') : 'missing').padEnd(22);
			})
			.join(' ')}`,
	);
console.log(`${'boot + suite (s)'.padEnd(width)}  ${results.map((r) => r.seconds.toFixed(1).padEnd(22)).join(' ')}`);
const passed = results.reduce((n, r) => n + r.tests.filter((t) => t.ok).length, 0);
const failed = results.reduce(
	(n, r) => n + r.tests.filter((t) => !t.ok).length + (r.exit === 0 ? 0 : r.tests.length === 0 ? 1 : 0),
	0,
);
console.log(`\nkernels: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 && results.every((r) => r.exit === 0) ? 0 : 1;
