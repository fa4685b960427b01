import {createInterface} from 'node:readline/promises';
import {printablePath} from '../core/bytes.js';
import {UsageError} from '../core/errors.js';
import type {Context} from '../context.js';
import {enterPrivateNamespace} from '../flows/shell.js';
import {tryFlow, type TryDecision, type TryResult, type TryView} from '../flows/try.js';
import {isInUserNamespace} from '../io/proc.js';
import {emit} from '../output.js';
import {plainChanges} from '../ui/inspect-text.js';
import {canonicalPath} from './overlay-target.js';
import {showReport} from './report-view.js';
import {lstatPath} from '../io/walk-fs.js';

export type TryArgs = {
	readonly dirs: readonly string[];
	readonly command: readonly string[];
	readonly keep: string | undefined;
	readonly yes: boolean;
	readonly no: boolean;
	readonly inNamespace: string | undefined;
};

function changesText(sessions: TryResult['sessions']): string {
	return sessions
		.map((s) => {
			const set = plainChanges(s.changes, false);
			return `${printablePath(s.dir)}: ${s.changes.changes.length} change(s)\n${set || '  (nothing)\n'}`;
		})
		.join('');
}

/**
 At a terminal: each session's upper in the explorer (what `ovl inspect` would show, whiteouts,
 opaque dirs and renames explained), then the change sets and the question.
 */
async function askOnTerminal(
	ctx: Context,
	sessions: TryResult['sessions'],
	views: readonly TryView[],
): Promise<boolean> {
	for (const [i, v] of views.entries()) {
		if (v.report.entries.length === 0) continue;
		const dir = printablePath(sessions[i]?.dir ?? '');
		ctx.err(`ovl try: what the command changed in ${dir}, in the explorer (q: on to the question)\n`);
		await showReport(ctx, v.report, {json: v.report, located: v.located});
	}
	ctx.err(changesText(sessions));
	// Ink leaves stdin unref'd when the explorer exits: the process would end at the question.
	process.stdin.ref();
	const rl = createInterface({input: process.stdin, output: process.stderr});
	try {
		const answer = await rl.question(
			`commit these changes into ${sessions.map((s) => printablePath(s.dir)).join(', ')}? [y/N] `,
		);
		return /^y(es)?$/i.test(answer.trim());
	} finally {
		rl.close();
	}
}

function endText(r: TryResult): string {
	const how =
		r.decision === 'committed'
			? `committed into ${r.sessions.map((s) => printablePath(s.dir)).join(', ')} (verified)`
			: r.decision === 'kept'
				? `kept in ${printablePath(r.kept ?? '')}: ovl commit ${printablePath(r.kept ?? '')} applies it, rm -r discards it`
				: 'discarded: the directories are as they were';
	return `ovl try: ${r.command[0] ?? ''} exited ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}; ${how}\n`;
}

/** `ovl try [--dir D]… -- CMD`: run CMD over throw-away overlays of D, show what it changed, commit or not. */
export async function tryCommand(o: TryArgs, ctx: Context, args: readonly string[]): Promise<number> {
	if (o.inNamespace === undefined) return enterPrivateNamespace(args, ctx.deps.euid);
	if (o.yes && o.no)
		throw new UsageError('--yes and --no contradict each other', 'give one of them, or neither to be asked');
	const dirs = await Promise.all((o.dirs.length > 0 ? o.dirs : [ctx.cwd]).map((d) => canonicalPath(d)));
	for (const d of dirs)
		if (!lstatPath(d)?.isDirectory())
			throw new UsageError(`--dir ${printablePath(d)} is not a directory`, 'name existing directories');
	const canAsk = ctx.interactive && ctx.mode !== 'json';
	const decision: TryDecision = o.yes ? 'yes' : o.no || !canAsk ? 'no' : 'ask';
	const shell = process.env['SHELL'];
	const command = o.command.length > 0 ? o.command : [shell !== undefined && shell !== '' ? shell : '/bin/sh'];
	const result = await tryFlow(
		{
			outerNamespace: o.inNamespace,
			dirs,
			command,
			keep: o.keep === undefined ? undefined : await canonicalPath(o.keep),
			decision,
			userns: ctx.deps.euid !== 0 || (await isInUserNamespace()),
			ask: (sessions, views) => askOnTerminal(ctx, sessions, views),
			onMounted: (sessions) =>
				ctx.err(
					`ovl try: ${sessions.map((s) => printablePath(s.dir)).join(', ')} overlaid (private to ${command[0] ?? 'the command'}); running it\n`,
				),
		},
		ctx.deps,
	);
	emit(ctx, {
		json: result,
		plain: () => ({out: decision === 'ask' ? '' : changesText(result.sessions), err: endText(result)}),
	});
	return result.exitCode;
}
