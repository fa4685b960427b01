import {spawn} from 'node:child_process';
import {createHash} from 'node:crypto';
import {existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {ovlBin} from '../helpers/run-ovl.js';
import {parseMountinfo} from '../../src/core/mountinfo.js';
import {mountsUnder} from '../helpers/scratch.js';

// Runs ovl on one hostile case and judges it by the rules every command must keep, whatever the
// input: an exit code from the documented table, a coded message on failure, no stack trace, no
// hang, nothing written outside the named root, lowers untouched, nothing leaked.

export const documentedExits = [0, 1, 2, 4, 130];
/** OVL_FUZZ_BIN runs the same cases against another build (e.g. an older commit's bin/ovl.js). */
export const fuzzBin = process.env['OVL_FUZZ_BIN'] ?? ovlBin;
const hangMs = 10_000;

export type Run = {
	code: number | null;
	signal: string | null;
	stdout: string;
	stderr: string;
	ms: number;
	hung: boolean;
};

/** `shellArgs` are already bash words (see shellBytes); the shell only execs node, nothing else. */
export function runRaw(
	shellArgs: string,
	o: {cwd: string; env: Record<string, string>; signalAfterMs?: number; signal?: NodeJS.Signals},
): Promise<Run> {
	return new Promise((resolve) => {
		const started = Date.now();
		const child = spawn('bash', ['-c', `exec "${process.execPath}" "${fuzzBin}" ${shellArgs}`], {
			cwd: o.cwd,
			env: {...process.env, NO_COLOR: '1', CI: '1', ...o.env},
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
		child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
		let hung = false;
		const hang = setTimeout(() => {
			hung = true;
			child.kill('SIGKILL');
		}, hangMs);
		const sig =
			o.signalAfterMs === undefined ? undefined : setTimeout(() => child.kill(o.signal ?? 'SIGINT'), o.signalAfterMs);
		child.on('exit', (code, signal) => {
			clearTimeout(hang);
			if (sig) clearTimeout(sig);
			resolve({code, signal, stdout, stderr, ms: Date.now() - started, hung});
		});
	});
}

/** Problems with a run, by the rules above (empty = correct). `interruptible` allows death by the signal we sent. */
export function judge(r: Run, o: {interruptible?: boolean} = {}): string[] {
	const out: string[] = [];
	if (r.hung) out.push(`hung for ${hangMs} ms`);
	else if (r.code === null) {
		if (!o.interruptible) out.push(`killed by ${r.signal}`);
	} else if (!documentedExits.includes(r.code)) out.push(`exit ${r.code} is not a documented exit code`);
	if (r.code !== null && r.code !== 0 && r.code !== 130 && !/\bOVL_[A-Z0-9_]+\b/.test(r.stderr))
		out.push(`exit ${r.code} without a coded message: ${r.stderr.slice(0, 200)}`);
	if (/internal error|\n\s+at [^\n]+:\d+:\d+/.test(r.stderr))
		out.push(`stack trace or internal error: ${r.stderr.slice(0, 300)}`);
	return out;
}

/** A digest of a tree with exact names: type, mode, owner, size, contents, link targets. */
export function treeDigest(root: string | Buffer): string {
	const h = createHash('sha256');
	const walk = (dir: Buffer): void => {
		const names = readdirSync(dir, {encoding: 'buffer'}).sort(Buffer.compare);
		for (const name of names) {
			const p = Buffer.concat([dir, Buffer.from('/'), name]);
			const st = lstatSync(p);
			h.update(
				Buffer.concat([
					p.subarray(Buffer.byteLength(String(root))),
					Buffer.from(`\0${st.mode}\0${st.uid}:${st.gid}\0${st.size}\0${st.rdev}\0`),
				]),
			);
			if (st.isSymbolicLink()) h.update(readlinkSync(p, {encoding: 'buffer'}));
			else if (st.isFile()) h.update(readFileSync(p));
			else if (st.isDirectory()) walk(p);
		}
	};
	walk(typeof root === 'string' ? Buffer.from(root) : root);
	return h.digest('hex');
}

/** A canary tree beside the case: nothing ovl does may change it. */
export function plantCanary(dir: string): () => string | undefined {
	mkdirSync(path.join(dir, 'outside', 'sub'), {recursive: true});
	writeFileSync(path.join(dir, 'outside', 'victim'), 'precious\n');
	writeFileSync(path.join(dir, 'outside', 'sub', 'etc-passwd'), 'root:x:0:0\n');
	const before = treeDigest(path.join(dir, 'outside'));
	return () =>
		treeDigest(path.join(dir, 'outside')) === before ? undefined : 'the canary tree outside the named root changed';
}

/** Leaks after a case that should have cleaned up: mounts below the dir, registry records without a mount, lab temp dirs. */
/** Every mount below dir, and every overlay anywhere whose layers are in dir (a mount placed outside is a leak too). */
export function mountsOf(dir: string): string[] {
	const entries = parseMountinfo(readFileSync('/proc/self/mountinfo', 'latin1'));
	const elsewhere = entries
		.filter(
			(e) =>
				e.fsType === 'overlay' &&
				!e.mountPoint.startsWith(`${dir}/`) &&
				e.superOptions.some((o) => o.includes(`=${dir}/`) || o.includes(`:${dir}/`)),
		)
		.map((e) => e.mountPoint);
	return [...new Set([...mountsUnder(dir), ...elsewhere])];
}

export function leaks(dir: string): string[] {
	const out: string[] = [];
	const m = mountsOf(dir);
	if (m.length > 0) out.push(`mount left behind: ${m.join(', ')}`);
	const run = path.join(dir, 'run');
	if (existsSync(run)) {
		const recs = readdirSync(run).filter((n) => n.endsWith('.json'));
		if (recs.length > 0 && m.length === 0) out.push(`registry record without a mount: ${recs.join(', ')}`);
	}
	const tmp = path.join(dir, 'tmp');
	if (existsSync(tmp)) {
		const left = readdirSync(tmp).filter((n) => n.startsWith('ovl-lab-'));
		if (left.length > 0) out.push(`lab temp dir left behind: ${left.join(', ')}`);
	}
	return out;
}

/** Tally per category, for the closing table (category | tried | correct | wrong). */
export class Tally {
	readonly rows = new Map<string, {tried: number; wrong: number; examples: string[]}>();

	add(category: string, problems: readonly string[], label: string): void {
		const row = this.rows.get(category) ?? {tried: 0, wrong: 0, examples: []};
		row.tried++;
		if (problems.length > 0) {
			row.wrong++;
			if (row.examples.length < 5) row.examples.push(`${label}: ${problems.join('; ')}`);
		}
		this.rows.set(category, row);
	}

	table(): string {
		const lines = ['| category | tried | correct | wrong |', '|---|---|---|---|'];
		for (const [c, r] of this.rows) lines.push(`| ${c} | ${r.tried} | ${r.tried - r.wrong} | ${r.wrong} |`);
		return lines.join('\n');
	}

	failures(): string[] {
		return [...this.rows.values()].flatMap((r) => r.examples);
	}
}
