import {printablePath} from '../core/bytes.js';
import {actionLine} from '../core/commit-plan.js';
import path from 'node:path';
import {OvlError, UsageError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {readUserFile} from '../io/beneath.js';
import {lstatPath} from '../io/walk-fs.js';
import {trySessionFile} from '../flows/try.js';
import {optionValue} from '../core/options.js';
import type {Context} from '../context.js';
import {abortFlow, commitFlow, resumeFlow, type AbortResult, type CommitResult} from '../flows/commit.js';
import {locateMount, locateOffline, type Located} from '../io/locate.js';
import {emit} from '../output.js';
import {locate, type LayerArgs} from './inspect.js';
import {canonicalPath, overlayTarget} from './overlay-target.js';
import {confineToStackDir, readStackInput, stackDirInput} from './stack-input.js';
import {topMountAt} from '../core/mountinfo.js';

export type CommitArgs = LayerArgs & {
	readonly into: string | undefined;
	readonly paths: readonly string[];
	readonly dryRun: boolean;
	readonly keepUpper: boolean;
	readonly resume: boolean;
	readonly abort: boolean;
};

/** '/'-rooted overlay paths; a path that climbs out (`..`) is refused. */
function overlayPaths(given: readonly string[]): string[] | undefined {
	if (given.length === 0) return undefined;
	return given.map((p) => {
		const parts = p.split('/').filter((x) => x !== '' && x !== '.');
		if (parts.includes('..') || parts.length === 0)
			throw new UsageError(
				`--paths ${printablePath(p)} is not a path inside the overlay`,
				'name paths as the merged view shows them, e.g. --paths /etc/app',
			);
		return `/${parts.join('/')}`;
	});
}

/** A mount point, a stack dir (mounted or not), or --upper/--lower. */
async function locateForCommit(o: CommitArgs, ctx: Context): Promise<Located> {
	if (o.upper !== undefined || o.lowers.length > 0 || o.merged === undefined) return locate(o, ctx);
	const entries = await ctx.deps.mountinfo();
	const target = await overlayTarget(o.merged, ctx.cwd, entries);
	if (topMountAt(entries, target)) return locateMount(target, o.root, ctx.deps.registry);
	const session = readTrySession(target);
	if (session) return session;
	// A stack dir that is not mounted: its ovl.yaml names the layers (confined to it, as mount does).
	const {stack, confine} = await readStackInput(stackDirInput(target), ctx.cwd);
	if (confine) await confineToStackDir(stack, confine.dir, confine.fromFile);
	if (stack.upper === undefined)
		throw new UsageError(`the stack in ${printablePath(target)} has no upper layer`, 'there is nothing to commit');
	return locateOffline(
		stack.upper,
		stack.lowers.map((l) => l.path),
		stack.work,
		optionValue(stack.options, 'userxattr') !== undefined || stack.options.some((x) => x.key === 'userxattr'),
	);
}

/**
 A session `ovl try --keep DIR` left: its file names the directory the upper belongs to. Root
 acts on it only when the session is its own (owner, and no one else may write it): otherwise
 anyone could point a commit at /etc.
 */
function readTrySession(dir: string): Promise<Located> | undefined {
	const file = path.join(dir, trySessionFile);
	const st = lstatPath(file);
	if (!st) return undefined;
	const euid = process.geteuid?.() ?? 0;
	const dirSt = lstatPath(dir);
	for (const [p, s] of [
		[file, st],
		[dir, dirSt],
	] as const)
		if (!s || s.uid !== euid || (s.mode & 0o022) !== 0 || s.isSymbolicLink())
			throw new OvlError(
				'OVL_TRY_SESSION_UNSAFE',
				`${printablePath(p)} is not owned by you or others may write it: ovl will not commit what it names`,
				'commit only sessions you kept yourself (ovl try --keep DIR)',
				{exitCode: exitCodes.usage},
			);
	let doc: {userxattr?: unknown; sessions?: unknown};
	try {
		doc = JSON.parse(readUserFile(file, 1 << 20, 'try session').toString('utf8')) as typeof doc;
	} catch (error) {
		if (error instanceof OvlError) throw error;
		doc = {};
	}
	const valid = (x: unknown): x is {dir: string; upper: string; work: string} =>
		typeof x === 'object' &&
		x !== null &&
		['dir', 'upper', 'work'].every((k) => typeof (x as Record<string, unknown>)[k] === 'string');
	if (!Array.isArray(doc.sessions) || !doc.sessions.every(valid))
		throw new OvlError(
			'OVL_TRY_SESSION_UNSAFE',
			`${printablePath(file)} is not a session ovl try wrote (no dir, upper and work for each session)`,
			'commit with --upper/--lower/--work instead, naming the layers yourself',
			{exitCode: exitCodes.usage},
		);
	const sessions = doc.sessions;
	if (sessions.length !== 1)
		throw new UsageError(
			`${printablePath(dir)} holds ${sessions.length} try sessions`,
			`commit each with --upper/--lower/--work (see ${printablePath(file)})`,
		);
	const s = sessions[0] as {dir: string; upper: string; work: string};
	return locateOffline(s.upper, [s.dir], s.work, doc.userxattr === true);
}

function plainResult(r: CommitResult): string {
	if (r.dryRun)
		return `${r.actions.map(actionLine).join('\n')}\n${r.actions.length} actions would commit ${r.upper} into ${r.target}\n`;
	const counts = Object.entries(r.counts)
		.map(([op, n]) => `${n} ${op}`)
		.join(', ');
	const lines = [
		...(r.unmounted ? [`unmounted ${r.unmounted}`] : []),
		`${r.resumed ? 'resumed and ' : ''}committed ${r.upper} into ${r.target}: ${counts}`,
		'verified: the target equals the recorded merged view',
		r.upperEmptied
			? 'the upper is empty: mount the stack again to use the new lower'
			: 'the upper is kept (--keep-upper)',
	];
	return `${lines.join('\n')}\n`;
}

/** --resume and --abort act on the journal's plan: they take no plan options, nor each other. */
function refuseMixed(o: CommitArgs): void {
	const mode = o.abort ? '--abort' : o.resume ? '--resume' : undefined;
	if (mode === undefined) return;
	const given: [boolean, string][] = [
		[o.resume && o.abort, '--resume'],
		[o.dryRun, '--dry-run'],
		[o.into !== undefined, '--into'],
		[o.paths.length > 0, '--paths'],
		[o.keepUpper, '--keep-upper'],
	];
	const clash = given.find(([set]) => set)?.[1];
	if (clash)
		throw new UsageError(
			`${mode} and ${clash} cannot be used together`,
			`${mode} finishes the commit its journal describes; leave ${clash} out`,
		);
}

function plainAbort(r: AbortResult): string {
	return [
		`rolled back the commit of ${r.upper} into ${r.target}: ${r.undone} of ${r.actions} actions undone`,
		'the target is as it was before the commit; the upper is kept',
		'',
	].join('\n');
}

/** `ovl commit`: apply the upper's changes to the lower (or --into DIR), verified, journaled. */
export async function commitCommand(o: CommitArgs, ctx: Context): Promise<void> {
	refuseMixed(o);
	const into = o.into === undefined ? undefined : await canonicalPath(o.into);
	const paths = overlayPaths(o.paths);
	const located = await locateForCommit(o, ctx);
	let result: CommitResult;
	if (o.resume || o.abort) {
		if (located.upper === undefined)
			throw new UsageError(
				`--${o.abort ? 'abort' : 'resume'} needs the overlay whose commit stopped`,
				'name its stack dir or --upper',
			);
		if (o.abort) {
			const aborted = await abortFlow(located.upper, ctx.deps);
			emit(ctx, {json: aborted, plain: () => ({out: plainAbort(aborted)})});
			return;
		}
		result = await resumeFlow(located.upper, ctx.deps);
	} else {
		result = await commitFlow(
			located,
			{...(into === undefined ? {} : {into}), ...(paths ? {paths} : {}), dryRun: o.dryRun, keepUpper: o.keepUpper},
			ctx.deps,
		);
	}
	emit(ctx, {json: result, plain: () => ({out: plainResult(result)})});
}
