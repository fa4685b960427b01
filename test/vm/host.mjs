// Shared by the VM harnesses (kernels.mjs, vagrant.mjs): logging, commands, apt, the Debian mirror.
import {execFileSync, spawnSync} from 'node:child_process';
import {existsSync, readFileSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const t0 = Date.now();
export const elapsed = () => (Date.now() - t0) / 1000;
export const log = (s) => process.stderr.write(`[${elapsed().toFixed(1)}s] ${s}\n`);
export const sh = (cmd, args, opts = {}) =>
	execFileSync(cmd, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts});

/** Outside the work tree, so a fresh clone on the same machine (CI) reuses the downloads. */
export const cacheDir = (name) =>
	process.getuid?.() === 0 ? `/var/cache/${name}` : path.join(process.env.HOME ?? root, '.cache', name);

/** Installs the Debian packages whose commands (or absolute files) are missing: [[command, package], ...]. */
export function need(tools) {
	const has = (bin) =>
		bin.startsWith('/') ? existsSync(bin) : spawnSync('sh', ['-c', 'command -v "$1"', 'sh', bin]).status === 0;
	const missing = [...new Set(tools.filter(([bin]) => !has(bin)).map(([, pkg]) => pkg))];
	if (missing.length === 0) return;
	log(`installing ${missing.join(' ')}`);
	sh('apt-get', ['update', '-qq'], {timeout: 300_000});
	sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
		env: {...process.env, DEBIAN_FRONTEND: 'noninteractive'},
		timeout: 900_000,
	});
}

/** The machine's configured Debian mirror (deb822 or one-line sources), never a hard-coded host. */
export function debianMirror() {
	const files = [
		'/etc/apt/sources.list',
		...readdirSync('/etc/apt/sources.list.d').map((f) => `/etc/apt/sources.list.d/${f}`),
	].filter((f) => /\.(list|sources)$/.test(f) && existsSync(f));
	for (const f of files) {
		const text = readFileSync(f, 'utf8');
		const uris = [...text.matchAll(/^URIs:\s*(\S+)/gm), ...text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/gm)].map(
			(m) => m[1],
		);
		const hit = uris.find((u) => /debian\/?$/.test(u) && !/security/.test(u));
		if (hit) return hit.replace(/\/$/, '');
	}
	throw new Error('no Debian mirror found in /etc/apt/sources.list{,.d}');
}
