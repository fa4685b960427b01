#!/usr/bin/env node
// `ovl --version` is the start-up benchmark and what scripts probe: answered here, before the
// CLI's first module loads (each module of an ESM chain is a few ms).
if (process.argv.length === 3 && process.argv[2] === '--version') {
	const {readFileSync} = await import('node:fs');
	const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
	process.stdout.write(`${pkg.version}\n`);
} else await import('../dist/main.js');
