import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {printablePath} from '../core/bytes.js';
import type {ChangeSet} from '../core/diff.js';
import {OvlError, UsageError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {isSameOrInside} from '../core/paths.js';
import {planMount} from '../core/plan.js';
import type {MountOption} from '../core/types.js';
import {onInterrupt} from '../interrupt.js';
import type {Report} from '../core/report.js';
import {locateOffline, type Located} from '../io/locate.js';
import {ownMountNs, readPageSize} from '../io/proc.js';
import {commitFlow, type CommitResult} from './commit.js';
import type {Deps} from './deps.js';
import {inspectFlow} from './inspect.js';
import {runInSession} from './shell.js';

// `ovl try`: inside a private mount namespace (made by enterPrivateNamespace, as for ovl shell),
// each chosen directory is overlaid onto itself by a fresh upper in a session dir; the command
// runs; the overlays come down; then what it changed is shown and, if asked, committed into the
// directories (inside the namespace too, so the verification mount works as a user).

export type TryDecision = 'yes' | 'no' | 'ask';

/** In a --keep dir: which directories the uppers belong to, so `ovl commit DIR` can finish it. */
export const trySessionFile = 'ovl-try.json';

export type TrySession = {
	readonly dir: string;
	readonly upper: string;
	readonly work: string;
};

export type TryResult = {
	readonly schema: 'ovl.try/v1';
	readonly command: readonly string[];
	readonly exitCode: number;
	readonly signal?: string;
	readonly sessions: readonly (TrySession & {readonly changes: ChangeSet})[];
	readonly decision: 'committed' | 'discarded' | 'kept';
	readonly kept?: string;
	readonly commits: readonly CommitResult[];
};

/** What `ovl inspect --upper U --lower DIR` would show of a session: the explorer's input. */
export type TryView = {readonly report: Report; readonly located: Located};

export type TryOptions = {
	readonly outerNamespace: string;
	readonly dirs: readonly string[];
	readonly command: readonly string[];
	readonly keep: string | undefined;
	readonly decision: TryDecision;
	readonly userns: boolean;
	/**
	 Shows the change sets (`views`: each session's inspect report, for the explorer) and asks;
	 true: commit. Called only when the decision is 'ask'.
	 */
	readonly ask: (sessions: TryResult['sessions'], views: readonly TryView[]) => Promise<boolean>;
	readonly onMounted: (sessions: readonly TrySession[]) => void;
};

/** The directories must not overlap, and no other mount may sit below one (it would not be overlaid). */
async function checkDirs(dirs: readonly string[], deps: Deps): Promise<void> {
	for (const a of dirs)
		for (const b of dirs)
			if (a !== b && isSameOrInside(a, b))
				throw new UsageError(`--dir ${printablePath(a)} is inside --dir ${printablePath(b)}`, 'name each tree once');
	const entries = await deps.mountinfo();
	for (const d of dirs) {
		const nested = entries
			.filter((e) => e.mountPoint !== d && isSameOrInside(e.mountPoint, d))
			.map((e) => e.mountPoint);
		if (nested.length > 0)
			throw new OvlError(
				'OVL_TRY_NESTED_MOUNT',
				`${printablePath(d)} has mounts below it, which an overlay of it would not cover: ${nested.map(printablePath).join(', ')}`,
				'name a directory without mounts below it, or name those mounts with --dir too',
				{exitCode: exitCodes.usage},
			);
	}
}

async function makeSessions(
	dirs: readonly string[],
	keep: string | undefined,
): Promise<{root: string; sessions: TrySession[]}> {
	let root: string;
	if (keep !== undefined) {
		await mkdir(keep, {mode: 0o700}).catch((error: NodeJS.ErrnoException) => {
			throw new OvlError(
				'OVL_TRY_KEEP_EXISTS',
				`--keep ${printablePath(keep)}: ${error.code === 'EEXIST' ? 'it already exists' : (error.code ?? 'cannot create it')}`,
				'name a new directory: ovl try makes it and keeps the session there',
				{exitCode: exitCodes.usage},
			);
		});
		root = keep;
	} else root = await mkdtemp(path.join(os.tmpdir(), 'ovl-try-'));
	const sessions: TrySession[] = [];
	for (const [i, dir] of dirs.entries()) {
		const base = dirs.length === 1 ? root : path.join(root, String(i + 1));
		const s = {dir, upper: path.join(base, 'upper'), work: path.join(base, 'work')};
		await mkdir(s.upper, {recursive: true, mode: 0o755});
		await mkdir(s.work, {recursive: true, mode: 0o700});
		sessions.push(s);
	}
	return {root, sessions};
}

export async function tryFlow(o: TryOptions, deps: Deps): Promise<TryResult> {
	const here = await ownMountNs();
	if (here === undefined || here === o.outerNamespace)
		throw new UsageError(
			'--in-namespace is internal: this ovl is not in a mount namespace of its own',
			'run ovl try without it',
		);
	await checkDirs(o.dirs, deps);
	const {root, sessions} = await makeSessions(o.dirs, o.keep);
	const forget = onInterrupt(async () => {
		if (o.keep === undefined) await rm(root, {recursive: true, force: true});
	});
	// The session dir goes only when nothing in it is needed: discarded, or committed whole.
	let discard = false;
	let committing = false;
	try {
		const options: MountOption[] = o.userns ? [{key: 'userxattr'}] : [];
		const pageSize = await readPageSize();
		const mounted: string[] = [];
		let run: Awaited<ReturnType<typeof runInSession>>;
		try {
			for (const s of sessions) {
				const plan = planMount(
					{lowers: [{path: s.dir, dataOnly: false}], upper: s.upper, work: s.work, merged: s.dir, options: []},
					options,
					{pageSize},
				);
				const r = await deps.exec.mount(plan);
				if (!r.ok)
					throw new OvlError(
						'OVL_MOUNT_FAILED',
						`cannot overlay ${printablePath(s.dir)}: ${r.output.trim().split('\n')[0] ?? ''}`,
						'ovl doctor --path DIR shows what this host allows',
						{exitCode: exitCodes.failure},
					);
				mounted.push(s.dir);
			}
			o.onMounted(sessions);
			run = await runInSession(o.command, here);
		} finally {
			for (const d of mounted.reverse()) {
				const u = await deps.exec.umount(d, false);
				if (!u.ok) await deps.exec.umount(d, true);
			}
		}
		const withChanges: (TrySession & {changes: ChangeSet})[] = [];
		const views: TryView[] = [];
		for (const s of sessions) {
			const located = await locateOffline(s.upper, [s.dir], s.work, o.userns);
			const report = await inspectFlow(located, {withChanges: true});
			withChanges.push({...s, changes: report.changes ?? {changes: [], renames: []}});
			views.push({report, located});
		}
		const base = {
			schema: 'ovl.try/v1' as const,
			command: o.command,
			exitCode: run.exitCode,
			...(run.signal === undefined ? {} : {signal: run.signal}),
			sessions: withChanges,
		};
		const commitIt =
			run.received === undefined &&
			(o.decision === 'yes' || (o.decision === 'ask' && (await o.ask(withChanges, views))));
		if (!commitIt) {
			if (o.keep !== undefined) {
				await writeFile(
					path.join(root, trySessionFile),
					`${JSON.stringify({schema: 'ovl.try-session/v1', userxattr: o.userns, sessions})}\n`,
					{
						mode: 0o600,
					},
				);
				return {...base, decision: 'kept', kept: root, commits: []};
			}
			discard = true;
			return {...base, decision: 'discarded', commits: []};
		}
		const commits: CommitResult[] = [];
		committing = true;
		for (const s of sessions) {
			const located = await locateOffline(s.upper, [s.dir], s.work, o.userns);
			commits.push(await commitFlow(located, {dryRun: false, keepUpper: false}, deps));
		}
		discard = o.keep === undefined;
		return {...base, decision: 'committed', commits};
	} catch (error) {
		// A failed commit keeps its journal and upper here, for ovl commit --resume; anything
		// earlier leaves nothing worth keeping.
		if (!committing) discard = o.keep === undefined;
		else if (error instanceof OvlError && o.keep === undefined)
			throw new OvlError(error.code, error.message, `${error.hint}; the session is kept in ${printablePath(root)}`, {
				exitCode: error.exitCode,
			});
		throw error;
	} finally {
		forget();
		if (discard) await rm(root, {recursive: true, force: true});
	}
}
