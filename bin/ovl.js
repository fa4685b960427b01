#!/usr/bin/env node
// CommonJS (bin/package.json): `ovl --version`, the start-up benchmark and what scripts probe, is
// answered before any ES module loads (the ESM loader alone is a few ms); the CLI is dist/main.js.
if (process.argv.length === 3 && process.argv[2] === '--version') {
	const {readFileSync} = require('node:fs');
	const pkg = JSON.parse(readFileSync(require('node:path').join(__dirname, '..', 'package.json'), 'utf8'));
	process.stdout.write(`${pkg.version}\n`);
} else void import('../dist/main.js');
