import {closeSync, constants, openSync} from 'node:fs';
import {mkdtemp, rmdir} from 'node:fs/promises';
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
import type {MountOption, Stack} from '../core/types.js';
import {openRoot} from '../io/beneath.js';
import {applyCommit, commitId, emptyDir, removeIn} from '../io/commit-apply.js';
import {
	continueJournal,
	journalPath,
	readJournal,
	removeJournal,
	startJournal,
	type Journal,
} from '../io/commit-journal.js';
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
// merged view through a private read-only mount → journal → apply → verify → empty the upper.

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

/** Mounts upper over lowers read-only on a temp dir, detaches it at once, and runs `f` on it through a descriptor. */
async function withView<T>(stack: Omit<Stack, 'merged'>, deps: Deps, f: (dir: string) => T): Promise<T> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'ovl-commit-view-'));
	try {
		const plan = planMount({...stack, merged: dir}, stack.options, {pageSize: await readPageSize()});
		const r = await deps.exec.mount(plan);
		if (!r.ok)
			throw fail(
				'OVL_COMMIT_VIEW',
				`cannot mount the merged view read-only to record it: ${r.output.trim().split('\n')[0] ?? ''}`,
				'run ovl mount --dry-run on the stack to see what the kernel refuses',
				exitCodes.failure,
			);
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
		await rmdir(dir).catch(() => undefined);
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
			'finish it with: ovl commit --resume --upper ' + upper,
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
		schema: 'ovl.commit-journal/v1',
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
	};
	const finished = await applyJournaled(journal, 0, startJournal(journal), deps);
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
	await refuseLiveTarget(pending.journal.target, deps);
	const finished = await applyJournaled(pending.journal, pending.done, continueJournal(upper), deps);
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

/** apply → verify → empty the upper → drop the journal. A failed verification keeps upper and journal. */
async function applyJournaled(
	journal: Journal,
	from: number,
	progress: {markDone: (i: number) => void; close: () => void},
	deps: Deps,
): Promise<{differences: string[]; upperEmptied: boolean}> {
	// The actions run synchronously: a signal is handled when they are all done, never between two.
	const guard = guardFlow();
	try {
		try {
			applyCommit(
				journal.actions,
				{upper: journal.upper, target: journal.target, id: journal.id, ns: journal.ns, onDone: progress.markDone},
				from,
			);
		} finally {
			progress.close();
		}
		markComplete();
		const hashed = new Set(journal.hashed);
		const expected = new Map<string, TreeFact>(journal.expected);
		const only =
			journal.paths ?? (journal.expected.length > 0 && !expected.has('/') ? [...expected.keys()] : undefined);
		const record = (root: string): Map<string, TreeFact> =>
			recordTree(root, {hash: (rel) => hashed.has(rel), ...(only ? {only} : {})});
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
		if (differences.length > 0)
			throw new OvlError(
				'OVL_COMMIT_UNVERIFIED',
				`the target differs from the recorded merged view after the commit:\n${differences
					.slice(0, 20)
					.map((d) => `  ${d}`)
					.join('\n')}${differences.length > 20 ? `\n  … and ${differences.length - 20} more` : ''}`,
				[
					'the lower holds the commit except the differences above',
					`the upper is kept, and so is the journal (${journalPath(journal.upper)}), so the stack is not used as if the commit were whole`,
					'check those paths, fix them by hand, then remove the journal; please report this with ovl inspect --json of the upper',
				].join('; '),
				{exitCode: exitCodes.failure},
			);
		let upperEmptied = false;
		if (!journal.keepUpper) {
			emptyUpper(journal);
			upperEmptied = true;
		}
		removeJournal(journal.upper);
		return {differences, upperEmptied};
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
