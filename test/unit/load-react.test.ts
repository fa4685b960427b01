import {execFileSync} from 'node:child_process';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {describe, expect, test} from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// React picks its build when first loaded; the explorer runs on the production one (the
// development build diffs every prop of every render), and NODE_ENV does not outlive the import.
describe('loadReactModule', () => {
	test('Ink runs on React production builds, and NODE_ENV is unset again afterwards', () => {
		const script = `
			import {createRequire} from 'node:module';
			const {loadReactModule} = await import('./dist/ui/load-react.js');
			await loadReactModule(() => import('ink'));
			const cache = createRequire(import.meta.url).cache;
			const ran = Object.entries(cache).filter(([k, m]) => /\\/cjs\\//.test(k) && m.loaded);
			console.log(JSON.stringify({env: process.env.NODE_ENV ?? null, ran: ran.map(([k]) => path.basename(k))}));
			import path from 'node:path';`;
		const env = {...process.env};
		delete env['NODE_ENV'];
		const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
			cwd: root,
			env,
			encoding: 'utf8',
		});
		const {env: after, ran} = JSON.parse(out) as {env: string | null; ran: string[]};
		expect(after).toBeNull();
		expect(ran).toEqual(expect.arrayContaining(['react.production.js', 'react-reconciler.production.js']));
		expect(ran.filter((f) => f.includes('development'))).toEqual([]);
	});
});
