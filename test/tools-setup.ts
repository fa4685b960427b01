import {spawnSync} from 'node:child_process';

// The suite drives real tools; a missing one is named here, once, instead of surfacing as
// assertion errors deep in a test. (.ci/run installs them; so does `apt-get install` below.)
const tools: readonly {cmd: string; args: string[]; pkg: string; why: string}[] = [
	{cmd: 'tmux', args: ['-V'], pkg: 'tmux', why: 'drives the explorer in a real terminal (test/kernel/tui.test.ts)'},
	{cmd: 'getfattr', args: ['--version'], pkg: 'attr', why: 'reads xattrs in the fuzz suite and the bench floor'},
	{cmd: 'setfattr', args: ['--version'], pkg: 'attr', why: 'writes hostile xattrs in the fuzz suite'},
];

export default function setup(): void {
	const missing = tools.filter((t) => spawnSync(t.cmd, t.args, {stdio: 'ignore'}).error !== undefined);
	if (missing.length === 0) return;
	const pkgs = [...new Set(missing.map((t) => t.pkg))].join(' ');
	const lines = missing.map((t) => `  ${t.cmd}: ${t.why}`).join('\n');
	throw new Error(`npm test needs tools that are not installed:\n${lines}\ninstall them: apt-get install ${pkgs}`);
}
