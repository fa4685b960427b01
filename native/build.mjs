// npm install step: builds the native helper with node-gyp. Never fails the install: without a
// compiler ovl runs on its pure-JS fallback, and `ovl doctor` says so. OVL_REQUIRE_NATIVE=1 (CI)
// turns a failed build into a failed install.
import {spawnSync} from 'node:child_process';
import {existsSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
function nodeGyp() {
	if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp))
		return process.env.npm_config_node_gyp;
	const npmDir = path.resolve(
		path.dirname(process.execPath),
		'../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
	);
	if (existsSync(npmDir)) return npmDir;
	try {
		return require.resolve('node-gyp/bin/node-gyp.js');
	} catch {
		return undefined;
	}
}

const gyp = nodeGyp();
const args = ['rebuild'];
// Debian's nodejs ships its headers in /usr/include/node: build against them, offline.
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const result = gyp
	? spawnSync(process.execPath, [gyp, ...args], {stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8'})
	: undefined;
if (result?.status === 0) {
	process.stdout.write('ovl: native helper built (build/Release/ovl_native.node)\n');
} else {
	const why = !gyp
		? 'node-gyp not found'
		: (result?.stderr ?? '')
				.split('\n')
				.filter((l) => /error/i.test(l))
				.slice(0, 3)
				.join('; ') || `node-gyp exited ${result?.status}`;
	process.stderr.write(
		`ovl: native helper not built (${why}); ovl will use its pure-JS fallback. \`ovl doctor\` reports which is in use.\n`,
	);
	if (process.env.OVL_REQUIRE_NATIVE === '1') process.exit(1);
}
