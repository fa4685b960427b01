import {closeSync, mkdtempSync, openSync, readlinkSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, test} from 'vitest';
import {native} from '../../src/io/native.js';
import {runChild, runTool} from '../../src/io/spawn.js';

// runTool starts mount(8): with the native helper by posix_spawn (native/spawn.c), without it by
// node:child_process. Both must give the same result for the same tool run.

const dir = mkdtempSync(path.join(os.tmpdir(), 'ovl-spawn-'));
afterAll(() => rmSync(dir, {recursive: true, force: true}));

const sh = (script: string, extra: {cwd?: string; extraFds?: readonly number[]} = {}) =>
	['sh', ['-c', script], {env: {OVL_TEST_VAR: 'set'}, ...extra}] as const;

describe('runTool', () => {
	test('the native helper is what runs it where the helper is built', () => {
		if (process.env['OVL_REQUIRE_NATIVE'] === '1') expect(native()).toBeDefined();
	});

	const a = path.join(dir, 'a');
	const b = path.join(dir, 'b');
	writeFileSync(a, 'A');
	writeFileSync(b, 'B');
	const cases: [string, ReturnType<typeof sh>][] = [
		['exit status, stdout and stderr in one stream, in order', sh('echo out; echo err >&2; echo out2; exit 3')],
		['environment given on top of the process one', sh('echo "$OVL_TEST_VAR ${HOME:+home}"')],
		['stdin is /dev/null', sh('cat; echo "read $?"')],
		['signals at their defaults (Node ignores SIGPIPE)', sh("grep -E '^Sig(Ign|Blk)' /proc/self/status")],
		['cwd', sh('pwd', {cwd: dir})],
		['killed by a signal', sh('kill -TERM $$')],
	];
	for (const [name, [cmd, args, options]] of cases)
		test(name, async () => {
			const native = await runTool(cmd, args, options);
			const child = await runChild(cmd, args, options);
			if (name.startsWith('signals')) {
				// glibc's posix_spawn leaves its two internal signals (32, 33: thread cancellation and
				// setxid, which a program's own glibc takes over) ignored; no other may be.
				const masks = (o: string) => [...o.matchAll(/:\t([0-9a-f]+)/g)].map((m) => BigInt(`0x${m[1]}`) & ~0x180000000n);
				expect(masks(native.output)).toEqual([0n, 0n]);
				expect(masks(child.output)).toEqual([0n, 0n]);
				return;
			}
			if (name.startsWith('exit')) {
				// One pipe for both keeps the tool's order; child_process reads two pipes, in either order.
				expect(native).toEqual({ok: false, exitCode: 3, output: 'out\nerr\nout2\n'});
				expect({...child, output: child.output.split('\n').sort()}).toEqual({
					...native,
					output: native.output.split('\n').sort(),
				});
				return;
			}
			expect(native).toEqual(child);
			if (name.startsWith('killed'))
				expect(native).toMatchObject({ok: false, exitCode: -1, output: '\nsh killed by SIGTERM'});
		});

	test('extra fds become 3, 4, … in the order given', async () => {
		const fa = openSync(a, 'r');
		const fb = openSync(b, 'r');
		try {
			// Given in the reverse of their numbers: moving one into place must not overwrite the other.
			const run = sh('cat /proc/self/fd/3 /proc/self/fd/4', {extraFds: [fb, fa]});
			const r = await runTool(...run);
			expect(r).toEqual({ok: true, exitCode: 0, output: 'BA'});
			expect(await runChild(...run)).toEqual(r);
		} finally {
			closeSync(fa);
			closeSync(fb);
		}
	});

	test("fds that are each other's targets (a cycle), or already in place, arrive as given", async () => {
		// This process's own fds 3 and 4 (whatever they are): swapped, then 3 onto itself.
		const link = (fd: number) => readlinkSync(`/proc/self/fd/${fd}`);
		const [three, four] = [link(3), link(4)];
		const swapped = sh('readlink /proc/self/fd/3 /proc/self/fd/4', {extraFds: [4, 3]});
		expect(await runTool(...swapped)).toEqual({ok: true, exitCode: 0, output: `${four}\n${three}\n`});
		expect(await runChild(...swapped)).toEqual({ok: true, exitCode: 0, output: `${four}\n${three}\n`});
		const inPlace = sh('readlink /proc/self/fd/3', {extraFds: [3]});
		expect(await runTool(...inPlace)).toEqual({ok: true, exitCode: 0, output: `${three}\n`});
	});

	test('a signal name is the first of its number (SIGABRT, not SIGIOT)', async () => {
		const r = await runTool('sh', ['-c', 'kill -ABRT $$'], {env: {}});
		expect(r.output).toBe('\nsh killed by SIGABRT');
		expect(await runChild('sh', ['-c', 'kill -ABRT $$'], {env: {}})).toEqual(r);
	});

	test('a tool that is not there: ENOENT, as child_process says it', async () => {
		const r = await runTool('ovl-no-such-tool', [], {env: {}});
		expect(r).toEqual({ok: false, exitCode: -1, output: 'ovl-no-such-tool: ENOENT'});
		expect(await runChild('ovl-no-such-tool', [], {env: {}})).toEqual(r);
	});
});
