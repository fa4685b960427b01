import {constants, existsSync} from 'node:fs';
import {loadReactModule} from '../ui/load-react.js';
import {access, stat, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import type {Context} from '../context.js';
import {emit} from '../output.js';
import {fsPath, printablePath} from '../core/bytes.js';
import {UsageError} from '../core/errors.js';
import {fsError, readUserFile} from '../io/beneath.js';
import {exitCodes} from '../core/exit-codes.js';
import {builtins} from '../lab/builtins.js';
import {parseExperiment, type Experiment} from '../lab/experiment.js';
import {labMarkdown, labText} from '../lab/report-text.js';
import {runExperiment} from '../flows/lab-run.js';

export function labList(ctx: Context): void {
	const rows = Object.entries(builtins).map(([name, text]) => ({
		name,
		description: parseExperiment(text, name).description,
	}));
	emit(ctx, {
		json: {schema: 'ovl.lab-list/v1', experiments: rows},
		plain: () => ({out: rows.map((r) => `${r.name}\t${r.description}\n`).join('')}),
		human: () => ({out: rows.map((r) => `${ctx.style.bold(r.name.padEnd(14))} ${r.description}\n`).join('')}),
	});
}

export function labShow(name: string, ctx: Context): void {
	const text = builtins[name];
	if (text === undefined)
		throw new UsageError(
			`no built-in experiment "${name}"`,
			`built-ins: ${Object.keys(builtins).join(', ')}`,
			'OVL_LAB_UNKNOWN',
		);
	ctx.out(text);
}

async function load(target: string, cwd: string): Promise<Experiment> {
	const text = builtins[target];
	if (text !== undefined) return parseExperiment(text, target);
	const file = path.resolve(cwd, target);
	if (!existsSync(fsPath(file)))
		throw new UsageError(
			`"${printablePath(target)}" is neither a built-in experiment nor a file`,
			`built-ins: ${Object.keys(builtins).join(', ')}`,
			'OVL_LAB_UNKNOWN',
		);
	return parseExperiment(readUserFile(file, 4 << 20, 'experiment file').toString('utf8'), file);
}

async function checkWritableTarget(file: string): Promise<void> {
	const dir = path.dirname(file);
	const st = await stat(fsPath(dir)).catch(() => undefined);
	if (!st?.isDirectory())
		throw new UsageError(
			`cannot write the report to ${printablePath(file)}: ${printablePath(dir)} is not a directory`,
			'give --markdown a path in an existing directory',
			'OVL_OUTPUT_UNWRITABLE',
		);
	await access(fsPath(dir), constants.W_OK).catch(() => {
		throw new UsageError(
			`cannot write the report to ${printablePath(file)}: ${printablePath(dir)} is not writable`,
			'give --markdown a path in a writable directory',
			'OVL_OUTPUT_UNWRITABLE',
		);
	});
	const target = await stat(fsPath(file)).catch(() => undefined);
	if (target && !target.isFile())
		throw new UsageError(
			`cannot write the report to ${printablePath(file)}: it exists and is not a regular file`,
			'choose another file name',
			'OVL_OUTPUT_UNWRITABLE',
		);
}

export type LabRunOptions = {target: string; keep: boolean; markdown: string | undefined; inUserns: boolean};

/** `ovl lab run`: as root directly; otherwise again inside a user namespace (no sudo needed). */
export async function labRun(o: LabRunOptions, ctx: Context, argv: readonly string[]): Promise<number> {
	const exp = await load(o.target, ctx.cwd);
	// Find out now, not after the experiment ran, that the report cannot be written.
	if (o.markdown !== undefined) await checkWritableTarget(path.resolve(ctx.cwd, o.markdown));
	if (ctx.deps.euid !== 0 && !o.inUserns) {
		ctx.err(
			'ovl lab: not root; running the experiment in a user namespace (unshare --user --map-root-user --mount) with userxattr\n',
		);
		const r = await execa(
			'unshare',
			['--user', '--map-root-user', '--mount', process.execPath, process.argv[1] ?? 'ovl', ...argv, '--in-userns'],
			{stdio: 'inherit', reject: false},
		);
		return r.exitCode ?? exitCodes.failure;
	}
	const live = ctx.mode === 'human' ? await loadReactModule(() => import('../ui/lab-live.js')) : undefined;
	const progress = live?.startLabProgress(exp);
	const report = await runExperiment(
		exp,
		{
			keep: o.keep,
			userns: o.inUserns || ctx.deps.euid !== 0,
			onStep: (r, i) => {
				progress?.step(r, i);
				// Progress for a person watching stderr; the report itself goes to stdout once, at the end.
				if (ctx.mode === 'plain' && !live && ctx.stderrTTY) ctx.err(`${r.ok ? 'ok' : 'FAIL'}\t${r.id}\t${r.label}\n`);
			},
		},
		ctx.deps,
	).finally(() => progress?.stop());
	if (o.markdown !== undefined) {
		const target = path.resolve(ctx.cwd, o.markdown);
		await writeFile(fsPath(target), labMarkdown(report)).catch((error: unknown) => {
			throw fsError(error, target);
		});
	}
	emit(ctx, {json: report, plain: () => ({out: labText(report)})});
	return report.passed ? exitCodes.ok : exitCodes.failure;
}
