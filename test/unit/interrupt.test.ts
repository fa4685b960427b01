import {spawnSync} from 'node:child_process';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {describe, expect, test} from 'vitest';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/interrupt.js');

/** A process that installs ovl's handler, maybe commits, signals itself, then finishes its "output". */
function run(committed: boolean, signal: NodeJS.Signals) {
	const script = `
		const i = await import(${JSON.stringify(dist)});
		i.installInterruptHandler();
		i.onInterrupt(async () => { process.stderr.write('undo ran\\n'); });
		${committed ? 'i.markComplete();' : ''}
		process.kill(process.pid, ${JSON.stringify(signal)});
		setTimeout(() => { process.stdout.write('output written\\n'); process.exit(0); }, 200);
	`;
	return spawnSync(process.execPath, ['--input-type=module', '-e', script], {encoding: 'utf8', timeout: 20_000});
}

describe('a signal and the commit point', () => {
	for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
		test(`${signal} before the commit point: clean-ups run, exit 130`, () => {
			const r = run(false, signal);
			expect(r.status).toBe(130);
			expect(r.stderr).toContain('undo ran');
			expect(r.stdout).not.toContain('output written');
		});

		test(`${signal} after the commit point: the work stands, the command finishes with its own exit code`, () => {
			const r = run(true, signal);
			expect(r.status).toBe(0);
			expect(r.stderr).not.toContain('undo ran');
			expect(r.stderr).toContain('came after the work was complete');
			expect(r.stdout).toContain('output written');
		});
	}
});
