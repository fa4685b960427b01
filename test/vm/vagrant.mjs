// npm run test:vagrant — the Vagrant workflow end to end, on a machine without internet boxes:
// builds a local Debian box with debootstrap from this machine's own Debian mirror (cached by its
// recipe), starts libvirtd and virtlogd itself inside a network namespace it creates, picks the
// QEMU driver (software emulation) unless a real KVM boot probe succeeds, runs `vagrant up` with
// vagrant/Vagrantfile (box overridden), which provisions the VM and runs `npm ci && npm test`
// there as root, and reports the suite's result. Every step has a timeout; at the end (also after
// a failure or Ctrl-C) the VM is destroyed, the daemons are stopped by pid and the namespace is
// deleted. Root only. Exit 0 only if the suite passed in the VM.
import {spawn, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {
	chmodSync,
	chownSync,
	createWriteStream,
	existsSync,
	mkdirSync,
	readFileSync,
	readdirSync,
	rmSync,
	statSync,
	writeFileSync,
	cpSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {cacheDir, debianMirror, elapsed, log, need, root, sh} from './host.mjs';

const cache = process.env.OVL_VAGRANT_CACHE ?? cacheDir('ovl-vagrant');
const suite = process.env.OVL_VAGRANT_SUITE ?? 'bookworm';
const upTimeoutS = Number(process.env.OVL_VAGRANT_TIMEOUT ?? 5400);
const ns = 'ovl-vagrant'; // network namespace, libvirt pool and management network share this name
const timings = [];
let current; // the running child, killed on Ctrl-C
let interrupted = false;

/** Runs a command with a timeout (its whole process group is killed), output to a log file and optionally echoed. */
function run(cmd, args, {timeoutS, env, cwd, logName, echo = false, onData} = {}) {
	return new Promise((resolve) => {
		const out = logName ? createWriteStream(path.join(cache, 'logs', logName), {flags: 'a'}) : undefined;
		const child = spawn(cmd, args, {
			cwd,
			env: {...process.env, ...env},
			stdio: ['ignore', 'pipe', 'pipe'],
			detached: true,
		});
		current = child;
		let text = '';
		const take = (d) => {
			text += d;
			out?.write(d);
			if (echo) process.stderr.write(d);
			onData?.(text);
		};
		child.stdout.on('data', take);
		child.stderr.on('data', take);
		let timedOut = false;
		const timer = setTimeout(() => {
			timedOut = true;
			try {
				process.kill(-child.pid, 'SIGKILL');
			} catch {
				// already gone
			}
		}, timeoutS * 1000);
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			current = undefined;
			out?.end();
			resolve({code: timedOut ? 124 : (code ?? 128), signal, timedOut, text});
		});
	});
}

async function step(label, fn) {
	if (interrupted) throw new Error('interrupted');
	const t = Date.now();
	log(`${label} …`);
	try {
		return await fn();
	} finally {
		timings.push([label, (Date.now() - t) / 1000]);
	}
}

async function must(label, cmd, args, opts) {
	const r = await run(cmd, args, {logName: 'steps.log', ...opts});
	if (r.code !== 0)
		throw new Error(
			`${label} failed (${r.timedOut ? `timed out after ${opts.timeoutS} s` : `exit ${r.code}`}):\n${r.text.slice(-3000)}`,
		);
	return r.text;
}

/** Times the parts of `vagrant up` from markers in its output, as they appear. */
function upPhases(now = () => Date.now()) {
	const marks = [
		['  boot to SSH', /Machine booted and ready/],
		['  rsync, hostname', /Running provisioner/],
		['  npm ci (offline; builds dist)', /added \d+ packages/],
		['  npm test (build, typecheck, vitest)', /tests: \d+ passed/],
	];
	const start = now();
	const seen = [];
	return {
		see: (text) => {
			while (seen.length < marks.length && marks[seen.length][1].test(text)) seen.push(now());
		},
		done: () => seen.map((t, i) => [marks[i][0], (t - (i === 0 ? start : seen[i - 1])) / 1000]),
	};
}

const sha = (...parts) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 12);

function preflight() {
	if (process.getuid?.() !== 0)
		throw new Error('test:vagrant needs root: it builds a disk image, starts libvirtd and creates a network namespace');
	if (spawnSync('dpkg-query', ['-W', 'nodejs']).status !== 0)
		throw new Error("the box gets Node.js from the host's `nodejs` package, which is not installed");
	need([
		['debootstrap', 'debootstrap'],
		['sfdisk', 'fdisk'],
		['mkfs.ext4', 'e2fsprogs'],
		['extlinux', 'extlinux'],
		['/usr/lib/syslinux/mbr/mbr.bin', 'syslinux-common'],
		['qemu-img', 'qemu-utils'],
		['qemu-system-x86_64', 'qemu-system-x86'],
		['libvirtd', 'libvirt-daemon-system'],
		['/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so', 'libvirt-daemon-driver-qemu'],
		['virtlogd', 'libvirt-daemon-system'],
		['virsh', 'libvirt-clients'],
		['dnsmasq', 'dnsmasq-base'],
		['iptables', 'iptables'],
		['ebtables', 'ebtables'],
		['vagrant', 'vagrant'],
		['/usr/share/vagrant-plugins/plugins.d/vagrant-libvirt.json', 'vagrant-libvirt'],
		['rsync', 'rsync'],
		['ip', 'iproute2'],
		['unshare', 'util-linux'],
	]);
	const running = spawnSync('pgrep', ['-x', 'libvirtd']).stdout?.toString().trim();
	if (running && !nsPids().length)
		throw new Error(
			`libvirtd is already running (pid ${running}); test:vagrant starts its own in a private network namespace — stop it first`,
		);
}

/** The locked dependencies as an npm cache the box carries, so `npm ci --offline` works in the VM. */
async function npmCache(lockSha) {
	const dir = path.join(cache, 'npm-cache');
	const stamp = path.join(dir, '.lock-sha');
	if (existsSync(stamp) && readFileSync(stamp, 'utf8') === lockSha) return dir;
	rmSync(dir, {recursive: true, force: true});
	const tmp = path.join(cache, 'npm-fill');
	rmSync(tmp, {recursive: true, force: true});
	mkdirSync(tmp, {recursive: true});
	for (const f of ['package.json', 'package-lock.json']) cpSync(path.join(root, f), path.join(tmp, f));
	await must(
		'npm ci (to fill the cache)',
		'npm',
		['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--cache', dir],
		{cwd: tmp, timeoutS: 600},
	);
	rmSync(tmp, {recursive: true, force: true});
	writeFileSync(stamp, lockSha);
	return dir;
}

async function buildBox(key, mirror, npmDir) {
	const dir = path.join(cache, `box-${key}`);
	if (existsSync(path.join(dir, 'ovl.box'))) return {dir, built: false};
	for (const old of readdirSync(cache).filter((d) => d.startsWith('box-')))
		rmSync(path.join(cache, old), {recursive: true, force: true});
	mkdirSync(dir, {recursive: true});
	// A private mount namespace: the image's mounts and loop device cannot outlive the script.
	await must(
		'box build',
		'unshare',
		['-m', '--propagation', 'private', 'bash', path.join(root, 'test/vm/vagrant-box.sh'), dir, mirror, suite, npmDir],
		{timeoutS: 1800, logName: 'box.log'},
	);
	return {dir, built: true};
}

/** KVM only if it really boots a stock kernel to its end (here /dev/kvm may be a PVM stand-in that hangs). */
async function probeKvm(vmlinuz) {
	if (!existsSync('/dev/kvm')) return {driver: 'qemu', why: 'no /dev/kvm'};
	const r = await run(
		'qemu-system-x86_64',
		[
			'-accel',
			'kvm',
			'-cpu',
			'host',
			'-m',
			'256',
			'-nographic',
			'-no-reboot',
			'-nic',
			'none',
			'-kernel',
			vmlinuz,
			'-append',
			'console=ttyS0 panic=-1',
		],
		{timeoutS: 60, logName: 'kvm-probe.log'},
	);
	return /Kernel panic|VFS: Unable to mount root/.test(r.text)
		? {driver: 'kvm', why: 'a stock kernel booted under KVM'}
		: {
				driver: 'qemu',
				why: `a stock kernel did not boot under KVM (${r.timedOut ? 'hung for 60 s' : `exit ${r.code}`})`,
			};
}

function nsPids() {
	const r = spawnSync('ip', ['netns', 'pids', ns], {encoding: 'utf8'});
	return r.status === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
}

const alive = (pid) => {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
};

async function stopPids(pids) {
	for (const p of pids)
		try {
			process.kill(p, 'SIGTERM');
		} catch {
			// already gone
		}
	for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
	for (const p of pids.filter(alive))
		try {
			process.kill(p, 'SIGKILL');
		} catch {
			// already gone
		}
}

/** Whatever an earlier, killed run left in our namespace. */
async function clearNamespace() {
	if (
		!spawnSync('ip', ['netns', 'list'], {encoding: 'utf8'})
			.stdout.split('\n')
			.some((l) => l.split(' ')[0] === ns)
	)
		return;
	await stopPids(nsPids());
	spawnSync('ip', ['netns', 'delete', ns]);
}

const daemons = [];
async function startDaemons() {
	sh('ip', ['netns', 'add', ns]);
	sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
	for (const [bin, env] of [
		['virtlogd', {}],
		['libvirtd', {LIBVIRT_LOG_OUTPUTS: `3:file:${path.join(cache, 'logs', 'libvirtd.log')}`}],
	]) {
		const logFd = createWriteStream(path.join(cache, 'logs', `${bin}.out`));
		await new Promise((r) => logFd.on('open', r));
		const d = spawn('ip', ['netns', 'exec', ns, `/usr/sbin/${bin}`], {
			env: {...process.env, ...env},
			stdio: ['ignore', logFd, logFd],
			detached: true,
		});
		daemons.push(d.pid);
	}
	for (let i = 0; ; i++) {
		const r = await run('virsh', virshArgs(['version']), {timeoutS: 60});
		if (r.code === 0) break;
		if (i >= 30) throw new Error(`libvirtd did not answer: ${r.text}`);
		await new Promise((res) => setTimeout(res, 2000));
	}
}

const virshArgs = (args) => ['-c', 'qemu:///system', ...args];
const virsh = (...args) => run('virsh', virshArgs(args), {timeoutS: 120, logName: 'steps.log'});
const mustVirsh = (...args) => must(`virsh ${args[0]}`, 'virsh', virshArgs(args), {timeoutS: 120});

async function definePool() {
	await virsh('pool-destroy', ns);
	await virsh('pool-undefine', ns);
	mkdirSync(path.join(cache, 'pool'), {recursive: true});
	await mustVirsh('pool-define-as', ns, 'dir', '--target', path.join(cache, 'pool'));
	await mustVirsh('pool-start', ns);
}

/** /dev/kvm as udev would leave it (root:kvm 0660): with root-only 0600 libvirt re-probes QEMU on every call (~50 s each). */
function fixKvmNode() {
	if (!existsSync('/dev/kvm')) return () => {};
	const kvmGid = /^kvm:[^:]*:(\d+):/m.exec(readFileSync('/etc/group', 'utf8'))?.[1];
	if (!kvmGid) return () => {};
	const {mode, uid, gid} = statSync('/dev/kvm');
	chownSync('/dev/kvm', 0, Number(kvmGid));
	chmodSync('/dev/kvm', 0o660);
	return () => {
		chownSync('/dev/kvm', uid, gid);
		chmodSync('/dev/kvm', mode & 0o7777);
	};
}

async function main() {
	mkdirSync(path.join(cache, 'logs'), {recursive: true});
	for (const f of readdirSync(path.join(cache, 'logs'))) rmSync(path.join(cache, 'logs', f), {force: true});
	await step('preflight (tools)', async () => preflight());
	const mirror = debianMirror();
	const lockSha = sha(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
	// The box copies the nodejs package and the host's npm as it is now (npm may be updated on its own).
	const node = `${sh('dpkg-query', ['-W', '-f', '${Version}', 'nodejs'])} npm ${sh('npm', ['--version']).trim()}`;
	const npmDir = await step('npm cache for the box', () => npmCache(lockSha));
	const key = sha(readFileSync(path.join(root, 'test/vm/vagrant-box.sh'), 'utf8'), mirror, suite, node, lockSha);
	const box = await step(`box (debootstrap ${suite} from ${mirror})`, () => buildBox(key, mirror, npmDir));
	log(
		box.built ? `box built: ${(statSync(path.join(box.dir, 'ovl.box')).size / 2 ** 20).toFixed(0)} MiB` : 'box cached',
	);
	const kvm = await step('KVM probe', () => probeKvm(path.join(box.dir, 'vmlinuz')));
	log(`libvirt driver: ${kvm.driver} (${kvm.why})`);

	const vagrantEnv = {
		VAGRANT_HOME: path.join(cache, 'vagrant-home'),
		VAGRANT_CHECKPOINT_DISABLE: '1',
		VAGRANT_DOTFILE_PATH: path.join(cache, 'dotfile'),
		VAGRANT_DEFAULT_PROVIDER: 'libvirt',
		OVL_BOX: `ovl/local-${suite}-${key}`,
		OVL_LIBVIRT_DRIVER: kvm.driver,
		OVL_LIBVIRT_POOL: ns,
		OVL_LIBVIRT_NETWORK: ns,
		OVL_VM_MEMORY: process.env.OVL_VM_MEMORY ?? '4096',
		OVL_VM_CPUS: process.env.OVL_VM_CPUS ?? String(Math.min(os.availableParallelism(), 4)),
		OVL_VM_CONSOLE_LOG: path.join(cache, 'logs', 'console.log'),
		OVL_SSH_INSERT_KEY: '0',
		OVL_NPM_OFFLINE: '1',
		OVL_TEST_TIMEOUT_SCALE: process.env.OVL_TEST_TIMEOUT_SCALE ?? (kvm.driver === 'qemu' ? '10' : '1'),
	};
	const vagrant = (args, timeoutS, logName, echo = false, onData = undefined) =>
		run('ip', ['netns', 'exec', ns, 'vagrant', ...args], {
			cwd: path.join(root, 'vagrant'),
			env: vagrantEnv,
			timeoutS,
			logName,
			echo,
			onData,
		});

	await step('vagrant box add', async () => {
		const list = await run('vagrant', ['box', 'list'], {env: vagrantEnv, timeoutS: 120});
		for (const old of list.text
			.split('\n')
			.map((l) => l.split(/\s+/)[0])
			.filter((b) => b?.startsWith('ovl/local-') && b !== vagrantEnv.OVL_BOX)) {
			await run('vagrant', ['box', 'remove', '--force', '--all', old], {
				env: vagrantEnv,
				timeoutS: 120,
				logName: 'steps.log',
			});
		}
		if (!list.text.includes(vagrantEnv.OVL_BOX))
			await must(
				'vagrant box add',
				'vagrant',
				['box', 'add', '--name', vagrantEnv.OVL_BOX, path.join(box.dir, 'ovl.box')],
				{env: vagrantEnv, timeoutS: 600},
			);
	});

	const restoreKvm = fixKvmNode();
	let result;
	try {
		await step('libvirtd + virtlogd in a network namespace', async () => {
			await clearNamespace();
			await startDaemons();
			await definePool();
		});
		if (existsSync(path.join(cache, 'dotfile'))) await vagrant(['destroy', '-f'], 300, 'destroy.log');
		// The box's base volume is re-uploaded when the box changes (its name carries the recipe's hash).
		for (const f of readdirSync(path.join(cache, 'pool')).filter(
			(f) => f.startsWith('ovl-VAGRANTSLASH-local-') && !f.includes(key),
		))
			rmSync(path.join(cache, 'pool', f), {force: true});
		await virsh('pool-refresh', ns);
		const phases = upPhases();
		const up = await step('vagrant up (boot, rsync, provision: npm ci && npm test)', () =>
			vagrant(['up', '--provider=libvirt'], upTimeoutS, 'vagrant-up.log', true, phases.see),
		);
		timings.push(...phases.done());
		result = {
			up,
			summary: /tests: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(up.text),
			kernel: /kernel (\S+), node (\S+)/.exec(up.text),
		};
	} finally {
		await step('teardown (destroy, daemons, namespace)', async () => {
			if (nsPids().length > 0) {
				await vagrant(['destroy', '-f'], 300, 'destroy.log');
				await virsh('net-destroy', ns);
				await virsh('net-undefine', ns);
				await virsh('pool-destroy', ns);
				await virsh('pool-undefine', ns);
			}
			await stopPids(daemons);
			await clearNamespace();
			restoreKvm();
		});
	}
	return {result, kvm, box, mirror};
}

for (const sig of ['SIGINT', 'SIGTERM']) {
	process.on(sig, () => {
		interrupted = true;
		if (current)
			try {
				process.kill(-current.pid, 'SIGKILL');
			} catch {
				// already gone
			}
	});
}

let exit = 1;
try {
	const {result, kvm, box} = await main();
	const {up, summary, kernel} = result;
	console.log(
		`\ntest:vagrant — box ${box.dir}/ovl.box (Debian ${suite}${kernel ? `, kernel ${kernel[1]}, node ${kernel[2]}` : ''}), libvirt driver ${kvm.driver}`,
	);
	const width = Math.max(...timings.map(([l]) => l.length));
	for (const [label, s] of timings) console.log(`  ${label.padEnd(width)}  ${s.toFixed(1).padStart(7)} s`);
	console.log(`  ${'total'.padEnd(width)}  ${elapsed().toFixed(1).padStart(7)} s`);
	if (summary) console.log(`\nsuite in the VM: ${summary[0]}`);
	console.log(
		`vagrant up: ${up.timedOut ? `timed out after ${upTimeoutS} s` : `exit ${up.code}`}; logs in ${path.join(cache, 'logs')}`,
	);
	exit = up.code === 0 && summary && summary[2] === '0' ? 0 : 1;
} catch (e) {
	console.error(`test:vagrant: ${e instanceof Error ? e.message : e}\nlogs in ${path.join(cache, 'logs')}`);
	exit = interrupted ? 130 : 1;
}
process.exit(exit);
