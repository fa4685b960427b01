import {closeSync, constants, mkdtempSync, openSync, rmdirSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {planCommit, type CommitAction} from '../core/commit-plan.js';
import {compareRecords, type TreeFact} from '../core/commit-verify.js';
import {OvlError} from '../core/errors.js';
import type {Code} from '../core/codes.js';
import {exitCodes, type ExitCode} from '../core/exit-codes.js';
import {decodeOverlay} from '../core/mountinfo.js';
import {isSameOrInside} from '../core/paths.js';
import {planMount} from '../core/plan.js';
import type {MountOption, MountPlan, Stack} from '../core/types.js';
import {openRoot} from '../io/beneath.js';
import {applyCommit, commitId, emptyDir, purgeStage, removeIn} from '../io/commit-apply.js';
import {stageName} from '../io/commit-fs.js';
import {
	continueJournal,
	journalPath,
	readJournal,
	removeJournal,
	startJournal,
	type Journal,
	type JournalState,
	type Progress,
} from '../io/commit-journal.js';
import {snapshotMeta} from '../io/commit-meta.js';
import {undoCommit} from '../io/commit-undo.js';
import {findLayerUsers} from '../io/holders.js';
import type {Located} from '../io/locate.js';
import {childPath} from '../io/lower-dirs.js';
import {lstatPath} from '../io/walk-fs.js';
import {readPageSize} from '../io/proc.js';
import {recordTree} from '../io/tree-record.js';
import {guardFlow, markComplete} from '../interrupt.js';
import type {Deps} from './deps.js';
import {observeUpper} from './inspect.js';
import {umountFlow} from './umount.js';

// ovl commit: the upper's changes applied to the target (the one lower, or --into DIR) so that
// it holds what the merged view held. scan → plan → (dry run: stop) → unmount → record the
// merged view through a private read-only mount → journal → apply → verify → drop what the
// commit displaced → empty the upper. Until `verified` is journaled, --abort rolls it back.

export type CommitOptions = {
	readonly into?: string;
	readonly paths?: readonly string[];
	readonly dryRun: boolean;
	readonly keepUpper: boolean;
};

export type CommitResult = {
	readonly schema: 'ovl.commit/v1';
	readonly target: string;
	readonly upper: string;
	readonly dryRun: boolean;
	readonly resumed: boolean;
	readonly unmounted?: string;
	readonly actions: readonly CommitAction[];
	readonly counts: Readonly<Record<string, number>>;
	/** Differences between the target and the recorded merged view: [] when verified. */
	readonly differences: readonly string[];
	readonly upperEmptied: boolean;
};

const fail = (code: Code, message: string, hint: string, exit: ExitCode = exitCodes.usage): OvlError =>
	new OvlError(code, message, hint, {exitCode: exit});

type Target = {
	readonly root: string;
	readonly layer: number;
	/** Layers beneath a top-lower target, bottom → top: they stay, so the target must hide what they hold. */
	readonly below: readonly string[];
};

/** The target the changes go to: --into, else the top regular lower (with what lies beneath it). */
function chooseTarget(located: Located & {upper: string}, into: string | undefined): Target {
	if (into !== undefined) return {root: into, layer: 0, below: []};
	const regular = located.lowers.filter((l) => !l.dataOnly);
	const top = regular.reduce((a, b) => (b.layer > a.layer ? b : a));
	const below = located.lowers.filter((l) => l !== top).sort((a, b) => a.layer - b.layer);
	return {root: top.path, layer: top.layer, below: below.map((l) => l.path)};
}

/** Whether any layer below holds something at `rel` (lstat, never following it). */
const belowHas =
	(below: readonly string[]) =>
	(rel: string): boolean =>
		below.some((l) => lstatPath(childPath(l, rel.slice(1))) !== undefined);

/** --into must be none of the stack's own layers, nor inside or above one: it would be emptied with the upper. */
function refuseOverlap(target: Target, located: Located, upper: string): void {
	if (target.layer > 0) return;
	const layers = [upper, ...(located.work === undefined ? [] : [located.work]), ...located.lowers.map((l) => l.path)];
	const hit = layers.find((l) => isSameOrInside(l, target.root) || isSameOrInside(target.root, l));
	if (hit)
		throw fail(
			'OVL_COMMIT_TARGET_OVERLAPS',
			`--into ${target.root} overlaps the stack's own ${hit === upper ? 'upper' : hit === located.work ? 'work dir' : 'lower'} ${hit}`,
			'name a directory outside the stack (to commit into the lower, leave --into out)',
		);
}

/** Refuses a target that is (or holds, or sits in) a layer of a mounted overlay. */
async function refuseLiveTarget(target: string, deps: Deps): Promise<void> {
	for (const e of await deps.mountinfo()) {
		const o = decodeOverlay(e);
		if (!o) continue;
		const layers = [...o.layers.lowers.map((l) => l.path), o.layers.upper, o.layers.work].filter(
			(p): p is string => p !== undefined && path.isAbsolute(p),
		);
		const hit = layers.find((l) => isSameOrInside(l, target) || isSameOrInside(target, l));
		if (hit)
			throw fail(
				'OVL_COMMIT_TARGET_LIVE',
				`${target} is part of the overlay mounted on ${e.mountPoint} (${hit}); writing into a live overlay's layers is undefined behaviour`,
				`unmount it first: ovl umount ${e.mountPoint}`,
			);
	}
}

/** What the read-only view mount takes: the live mount's options, or what the upper's xattrs need. */
function viewOptions(located: Located, needs: {metacopy: boolean; redirect: boolean; indexed: boolean}): MountOption[] {
	if (located.mount) return [...located.mount.options.filter((o) => o.key !== 'volatile'), {key: 'ro'}];
	const user = located.facts.xattrNamespace === 'user';
	const out: MountOption[] = [{key: 'ro'}];
	if (user) out.push({key: 'userxattr'});
	else if (needs.metacopy) out.push({key: 'metacopy', value: 'on'}, {key: 'redirect_dir', value: 'on'});
	else if (needs.redirect) out.push({key: 'redirect_dir', value: 'on'});
	out.push({key: 'index', value: needs.indexed && !user ? 'on' : 'off'});
	return out;
}

/** A read-only view of lowers alone: metacopy (and so redirects) followed where the namespace allows it. */
const lowerViewOptions = (ns: 'trusted' | 'user'): MountOption[] =>
	ns === 'user' ? [{key: 'ro'}, {key: 'userxattr'}] : [{key: 'ro'}, {key: 'metacopy', value: 'on'}];

// util-linux words EBUSY as "already mounted on X" when any mount has the same source, and every
// overlay's source is "overlay": on a host with other overlays (any Docker host) that is the message.
const busy = (output: string): boolean => /busy|in use|already mounted/i.test(output);

/**
 mount(8) of the view. EBUSY means another mount still uses the upper or work dir (with
 index=on): often a copy of the overlay just unmounted, held by a short-lived process that
 made its own mount namespace meanwhile. Retried for a few seconds; then those are named.
 */
async function mountView(plan: MountPlan, stack: Omit<Stack, 'merged'>, deps: Deps): Promise<void> {
	let r = await deps.exec.mount(plan);
	for (let waited = 0; !r.ok && busy(r.output) && waited < 5000; waited += 250) {
		await new Promise((resolve) => setTimeout(resolve, 250));
		r = await deps.exec.mount(plan);
	}
	if (r.ok) return;
	const dirs = [stack.upper, stack.work].filter((d): d is string => d !== undefined);
	const users = busy(r.output) ? await findLayerUsers(dirs) : [];
	throw fail(
		'OVL_COMMIT_VIEW',
		`cannot mount the merged view read-only to record it: ${r.output.trim().split('\n')[0] ?? ''}` +
			(users.length > 0 ? `\n${users.map((u) => `  pid ${u.pid} (${u.command}): ${u.how}`).join('\n')}` : ''),
		users.length > 0
			? 'those processes keep a copy of the old mount in their own mount namespaces: stop them, then commit again'
			: 'run ovl mount --dry-run on the stack to see what the kernel refuses',
		exitCodes.failure,
	);
}

/** Mounts upper over lowers read-only on a temp dir, detaches it at once, and runs `f` on it through a descriptor. */
async function withView<T>(stack: Omit<Stack, 'merged'>, deps: Deps, f: (dir: string) => T): Promise<T> {
	// Sync, on the main thread like every change a commit makes (the crash test counts its calls there).
	const dir = mkdtempSync(path.join(os.tmpdir(), 'ovl-commit-view-'));
	try {
		const plan = planMount({...stack, merged: dir}, stack.options, {pageSize: await readPageSize()});
		await mountView(plan, stack, deps);
		// Held by a descriptor and detached at once: walked as /proc/self/fd/N, it is in no
		// mount table, and it goes when the descriptor closes, even if ovl is killed.
		let fd = -1;
		let openError: unknown;
		try {
			fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
		} catch (error) {
			openError = error;
		}
		const u = await deps.exec.umount(dir, true);
		if (openError !== undefined) throw openError;
		if (!u.ok) {
			closeSync(fd);
			throw fail(
				'OVL_COMMIT_VIEW',
				`cannot detach the view mount: ${u.output}`,
				'umount -l it yourself',
				exitCodes.failure,
			);
		}
		try {
			return f(`/proc/self/fd/${fd}/.`);
		} finally {
			closeSync(fd);
		}
	} finally {
		try {
			rmdirSync(dir);
		} catch {
			// still mounted (the detach failed) or already gone: the error above says which
		}
	}
}

const countOps = (actions: readonly CommitAction[]): Record<string, number> => {
	const out: Record<string, number> = {};
	for (const a of actions) out[a.op] = (out[a.op] ?? 0) + 1;
	return out;
};

export async function commitFlow(located: Located, options: CommitOptions, deps: Deps): Promise<CommitResult> {
	const upper = located.upper;
	if (upper === undefined)
		throw fail(
			'OVL_COMMIT_NO_UPPER',
			'this overlay has no upper layer: there is nothing to commit',
			'commit an overlay mounted with an upperdir',
		);
	const pending = readJournal(upper);
	if (pending)
		throw fail(
			'OVL_COMMIT_PENDING',
			`a commit of ${upper} into ${pending.journal.target} stopped after ` +
				`${pending.done} of ${pending.journal.actions.length} actions (journal ${journalPath(upper)})`,
			`finish it with ovl commit --resume --upper ${upper}, or roll it back with --abort`,
			exitCodes.failure,
		);
	const target = chooseTarget({...located, upper}, options.into);
	refuseOverlap(target, located, upper);
	openRoot(target.root).close(); // it must be a directory (not a link) before anything is journaled
	const observed = await observeUpper({upper, lowers: located.lowers, ns: located.facts.xattrNamespace});
	const problem =
		observed.scan.problems[0] ?? observed.scan.xattrErrors.map((x) => ({path: x.path, message: x.code}))[0];
	if (problem)
		throw fail(
			'OVL_COMMIT_UNREADABLE',
			`${problem.path}: ${problem.message}; ovl cannot tell what to apply`,
			'fix the upper (or stop what writes to it) and run the commit again',
			exitCodes.failure,
		);
	const plan = planCommit(observed.scan.entries, observed.entries, {
		layer: target.layer,
		root: target.root,
		...(options.paths ? {paths: options.paths} : {}),
		...(target.below.length > 0 ? {below: {has: belowHas(target.below)}} : {}),
	});
	if (plan.refusals.length > 0)
		throw fail(
			'OVL_COMMIT_REFUSED',
			`ovl cannot apply these exactly:\n${plan.refusals.map((r) => `  ${r.path}: ${r.why}`).join('\n')}`,
			'inspect them (ovl inspect) and fix or remove them from the upper, or leave them out with --paths',
			exitCodes.failure,
		);
	const result = (extra: Partial<CommitResult>): CommitResult => ({
		schema: 'ovl.commit/v1',
		target: target.root,
		upper,
		dryRun: options.dryRun,
		resumed: false,
		actions: plan.actions,
		counts: countOps(plan.actions),
		differences: [],
		upperEmptied: false,
		...extra,
	});
	if (options.dryRun) return result({});

	let unmounted: string | undefined;
	if (located.mount) unmounted = (await umountFlow(located.mount.entry.mountPoint, false, deps)).merged;
	await refuseLiveTarget(target.root, deps);
	const needs = {
		metacopy: observed.entries.some((e) => e.kind === 'metacopy'),
		redirect: observed.entries.some((e) => e.kind === 'redirect-dir'),
		indexed: observed.entries.some((e) => e.hardlink?.indexed === true),
	};
	// Bytes are compared where the commit writes them; elsewhere type, mode, owner, size and mtime.
	const written = new Set(plan.actions.filter((a) => a.op === 'write' || a.op === 'link').map((a) => a.path));
	const below = plan.actions.filter((a) => a.op === 'dir' && (a.clear || a.slot !== undefined)).map((a) => a.path);
	const hashed = (rel: string): boolean => written.has(rel) || below.some((d) => isSameOrInside(rel, d));
	const only = options.paths ?? (options.into !== undefined ? observed.entries.map((e) => e.path) : undefined);
	const recordOptions = {hash: hashed, ...(only ? {only} : {})};
	const lowers = [...located.lowers];
	const stack: Omit<Stack, 'merged'> =
		located.work !== undefined
			? {lowers, upper, work: located.work, options: viewOptions(located, needs)}
			: {
					lowers: [...lowers, {path: upper, dataOnly: false}],
					options: viewOptions(located, {...needs, indexed: false}),
				};
	const expected = await withView(stack, deps, (dir) => recordTree(dir, recordOptions));
	const journal: Journal = {
		schema: 'ovl.commit-journal/v2',
		id: commitId(),
		ns: located.facts.xattrNamespace,
		below: target.below,
		upper,
		target: target.root,
		...(located.work !== undefined ? {work: located.work} : {}),
		...(options.paths ? {paths: options.paths} : {}),
		keepUpper: options.keepUpper,
		actions: plan.actions,
		expected: [...expected],
		hashed: [...expected.keys()].filter(hashed),
		root: rootMeta(target.root),
	};
	const state: JournalState = {
		journal,
		done: 0,
		priors: new Map(),
		verified: false,
		aborting: false,
		undone: new Set(),
	};
	const finished = await applyJournaled(state, startJournal(journal), deps);
	return result({...finished, ...(unmounted ? {unmounted} : {})});
}

/** `ovl commit --resume`: finishes a journaled commit from its first action not done. */
export async function resumeFlow(upper: string, deps: Deps): Promise<CommitResult> {
	const pending = readJournal(upper);
	if (!pending)
		throw fail(
			'OVL_COMMIT_NOTHING_PENDING',
			`no commit of ${upper} is pending (no ${journalPath(upper)})`,
			'run ovl commit to start one',
		);
	if (pending.aborting)
		throw fail(
			'OVL_COMMIT_ABORTING',
			`a rollback of the commit of ${upper} was interrupted; it cannot be resumed any more`,
			`finish the rollback: ovl commit --abort --upper ${upper}`,
			exitCodes.failure,
		);
	await refuseLiveTarget(pending.journal.target, deps);
	const finished = await applyJournaled(pending, continueJournal(upper), deps);
	return {
		schema: 'ovl.commit/v1',
		target: pending.journal.target,
		upper,
		dryRun: false,
		resumed: true,
		actions: pending.journal.actions,
		counts: countOps(pending.journal.actions),
		...finished,
	};
}

/** The target root's metadata, read without following it. */
function rootMeta(root: string): ReturnType<typeof snapshotMeta> {
	const d = openRoot(root);
	try {
		return snapshotMeta(d, '.');
	} finally {
		d.close();
	}
}

/**
 apply → verify → `verified` → drop what the commit displaced → empty the upper → drop the
 journal. A failed verification keeps the upper, the journal and the displaced objects.
 */
async function applyJournaled(
	state: JournalState,
	progress: Progress,
	deps: Deps,
): Promise<{differences: string[]; upperEmptied: boolean}> {
	const journal = state.journal;
	// The actions run synchronously: a signal is handled when they are all done, never between two.
	const guard = guardFlow();
	try {
		try {
			if (!state.verified) {
				applyCommit(
					journal.actions,
					{
						upper: journal.upper,
						target: journal.target,
						id: journal.id,
						ns: journal.ns,
						priors: state.priors,
						onPrior: progress.prior,
						onDone: progress.done,
					},
					state.done,
				);
				markComplete();
				await verify(journal, deps);
				progress.mark('verified');
			}
		} finally {
			progress.close();
		}
		markComplete();
		purgeStage(
			journal,
			journal.actions.some((a) => a.op === 'meta' && a.path === '/'),
		);
		let upperEmptied = false;
		if (!journal.keepUpper) {
			emptyUpper(journal);
			upperEmptied = true;
		}
		removeJournal(journal.upper);
		return {differences: [], upperEmptied};
	} finally {
		guard.done();
	}
}

/** The target against the recorded merged view; OVL_COMMIT_UNVERIFIED with every difference. */
async function verify(journal: Journal, deps: Deps): Promise<void> {
	const hashed = new Set(journal.hashed);
	const expected = new Map<string, TreeFact>(journal.expected);
	const only = journal.paths ?? (journal.expected.length > 0 && !expected.has('/') ? [...expected.keys()] : undefined);
	const record = (root: string): Map<string, TreeFact> =>
		recordTree(root, {hash: (rel) => hashed.has(rel), skip: stageName(journal.id), ...(only ? {only} : {})});
	// A target over other layers is compared as the kernel shows it over them.
	const actual =
		journal.below.length > 0
			? await withView(
					{
						lowers: [...journal.below, journal.target].map((p) => ({path: p, dataOnly: false})),
						options: lowerViewOptions(journal.ns),
					},
					deps,
					record,
				)
			: record(journal.target);
	const differences = compareRecords(expected, actual);
	if (differences.length === 0) return;
	throw new OvlError(
		'OVL_COMMIT_UNVERIFIED',
		`the target differs from the recorded merged view after the commit:\n${differences
			.slice(0, 20)
			.map((d) => `  ${d}`)
			.join('\n')}${differences.length > 20 ? `\n  … and ${differences.length - 20} more` : ''}`,
		[
			'the upper, the journal and everything the commit replaced are kept',
			`roll it back with ovl commit --abort --upper ${journal.upper}`,
			'or fix those paths by hand and verify again with --resume; please report this with ovl inspect --json of the upper',
		].join('; '),
		{exitCode: exitCodes.failure},
	);
}

export type AbortResult = {
	readonly schema: 'ovl.commit-abort/v1';
	readonly target: string;
	readonly upper: string;
	/** Actions undone (the ones that had run, and the one a kill interrupted). */
	readonly undone: number;
	readonly actions: number;
};

/** `ovl commit --abort`: rolls back a journaled commit that was not verified yet; the upper stays. */
export async function abortFlow(upper: string, deps: Deps): Promise<AbortResult> {
	const pending = readJournal(upper);
	if (!pending)
		throw fail(
			'OVL_COMMIT_NOTHING_PENDING',
			`no commit of ${upper} is pending (no ${journalPath(upper)})`,
			'there is nothing to roll back',
		);
	if (pending.verified)
		throw fail(
			'OVL_COMMIT_APPLIED',
			`the commit of ${upper} into ${pending.journal.target} was applied and verified; what it replaced is being dropped`,
			`finish it: ovl commit --resume --upper ${upper}`,
			exitCodes.failure,
		);
	await refuseLiveTarget(pending.journal.target, deps);
	const journal = pending.journal;
	const progress = continueJournal(upper);
	const guard = guardFlow();
	try {
		let differences: string[];
		try {
			if (!pending.aborting) progress.mark('abort');
			differences = undoCommit(journal.actions, {
				target: journal.target,
				id: journal.id,
				priors: pending.priors,
				undone: pending.undone,
				onUndone: progress.undone,
				root: journal.root,
			});
		} finally {
			progress.close();
		}
		markComplete();
		if (differences.length > 0)
			throw fail(
				'OVL_COMMIT_ABORT_UNVERIFIED',
				`the rollback left the target different from before the commit:\n${differences
					.slice(0, 20)
					.map((d) => `  ${d}`)
					.join('\n')}`,
				`the journal is kept (${journalPath(upper)}): check those paths by hand, then remove it; please report this`,
				exitCodes.failure,
			);
		removeJournal(upper);
		return {
			schema: 'ovl.commit-abort/v1',
			target: journal.target,
			upper,
			undone: pending.priors.size,
			actions: journal.actions.length,
		};
	} finally {
		guard.done();
	}
}

/** The committed entries leave the upper (all of it, or the --paths subtrees), and the index with them. */
function emptyUpper(journal: Journal): void {
	if (journal.paths === undefined) {
		emptyDir(journal.upper);
		// Index entries name the old lower inodes; with the upper empty they would only be stale.
		if (journal.work !== undefined) emptyDir(path.join(journal.work, 'index'), {missingOk: true});
		return;
	}
	for (const p of journal.paths) removeIn(journal.upper, p);
}
