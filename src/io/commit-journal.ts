import {closeSync, constants, fstatSync, fsyncSync, openSync, readSync, unlinkSync, writeSync} from 'node:fs';
import path from 'node:path';
import type {CommitAction} from '../core/commit-plan.js';
import type {TreeFact} from '../core/commit-verify.js';
import type {Meta, Prior} from './commit-meta.js';
import {printablePath} from '../core/bytes.js';
import {journalPath} from '../core/journal-path.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {fsError, openRoot, statIn} from './beneath.js';

// The commit journal, beside the upper (`<parent>/.ovl-commit-<upper name>.json`): the plan, the
// recorded merged view and the target root's metadata, written and fsync'd before the first
// action; then, per action, a `pre N {…}` line (what it is about to change, written before it
// changes anything) and a `done N` line after it. `verified` says the target equals the view, and
// from then on only --resume may finish it; `abort` and `undone N` lines are a rollback's
// progress. Every action (and every undo) can run twice with the same result, so after a crash
// `--resume` starts at the first action not marked done and `--abort` at the last not undone.

export type Journal = {
	readonly schema: 'ovl.commit-journal/v2';
	/** Names the staging dir and temp files in the target (io/commit-apply.ts). */
	readonly id: string;
	readonly ns: 'trusted' | 'user';
	/** Layers beneath the target (a top lower), bottom → top; [] for a one-lower stack or --into. */
	readonly below: readonly string[];
	readonly upper: string;
	readonly target: string;
	readonly work?: string;
	readonly paths?: readonly string[];
	readonly keepUpper: boolean;
	readonly actions: readonly CommitAction[];
	readonly expected: readonly (readonly [string, TreeFact])[];
	/** Paths whose bytes verification compares. */
	readonly hashed: readonly string[];
	/** The target root's metadata before the commit: an abort puts it back last. */
	readonly root: Meta;
};

export type JournalState = {
	readonly journal: Journal;
	/** How many actions are done (the first not done is the one a kill may have interrupted). */
	readonly done: number;
	readonly priors: ReadonlyMap<number, Prior>;
	readonly verified: boolean;
	/** An abort has started: the commit can only be rolled back now. */
	readonly aborting: boolean;
	readonly undone: ReadonlySet<number>;
};

export type Progress = {
	readonly prior: (i: number, p: Prior) => void;
	readonly done: (i: number) => void;
	/** A mark that must reach the disk before the next step (verified, abort). */
	readonly mark: (word: 'verified' | 'abort') => void;
	readonly undone: (i: number) => void;
	readonly close: () => void;
};

const O = constants;

export {journalPath};

/** The journal and its progress, or undefined when no commit of this upper is pending. */
export function readJournal(upper: string): JournalState | undefined {
	const file = journalPath(upper);
	const parent = openRoot(path.dirname(file));
	try {
		if (!statIn(parent, path.basename(file))) return undefined;
		const fd = openSync(parent.child(path.basename(file)), O.O_RDONLY | O.O_NOFOLLOW | O.O_NONBLOCK);
		let text: string;
		try {
			const size = fstatSync(fd).size;
			const buf = Buffer.alloc(size);
			let off = 0;
			while (off < size) {
				const n = readSync(fd, buf, off, size - off, off);
				if (n === 0) break;
				off += n;
			}
			text = buf.subarray(0, off).toString('utf8');
		} finally {
			closeSync(fd);
		}
		const [head, ...lines] = text.split('\n');
		let journal: Journal;
		try {
			journal = JSON.parse(head ?? '') as Journal;
		} catch {
			// The header is fsync'd before the first action: one that never became whole means no
			// action ran (a full disk or a kill while it was written). Nothing to finish.
			unlinkSync(parent.child(path.basename(file)));
			return undefined;
		}
		if (
			journal.schema !== 'ovl.commit-journal/v2' ||
			!Array.isArray(journal.actions) ||
			!Array.isArray(journal.expected)
		)
			throw new OvlError(
				'OVL_COMMIT_JOURNAL_INVALID',
				`${printablePath(file)} is not a commit journal ovl can read`,
				'it was not written by this ovl: move it away, after checking the lower by hand',
				{exitCode: exitCodes.failure},
			);
		return {journal, ...progressOf(lines)};
	} finally {
		parent.close();
	}
}

/** The progress lines after the header. A torn last `pre` line is one whose action changed nothing yet. */
function progressOf(lines: readonly string[]): Omit<JournalState, 'journal'> {
	let done = 0;
	const priors = new Map<number, Prior>();
	const undone = new Set<number>();
	let verified = false;
	let aborting = false;
	for (const l of lines) {
		const m = /^(done|undone|pre) (\d+)(?: (.*))?$/.exec(l);
		if (l === 'verified') verified = true;
		else if (l === 'abort') aborting = true;
		else if (m?.[1] === 'done') done = Math.max(done, Number(m[2]) + 1);
		else if (m?.[1] === 'undone') undone.add(Number(m[2]));
		else if (m?.[1] === 'pre')
			try {
				priors.set(Number(m[2]), JSON.parse(m[3] ?? '') as Prior);
			} catch {
				// torn by a kill while it was written: its action had not started
			}
	}
	return {done, priors, verified, aborting, undone};
}

/** Creates the journal (O_EXCL: one pending commit per upper) and returns the hooks that record progress. */
export function startJournal(journal: Journal): Progress {
	const file = journalPath(journal.upper);
	const parent = openRoot(path.dirname(file));
	let fd: number;
	try {
		fd = openSync(
			parent.child(path.basename(file)),
			O.O_WRONLY | O.O_CREAT | O.O_EXCL | O.O_NOFOLLOW | O.O_APPEND,
			0o600,
		);
	} finally {
		parent.close();
	}
	try {
		writeSync(fd, `${JSON.stringify(journal)}\n`);
		fsyncSync(fd);
	} catch (error) {
		// No action has run: a journal that is not whole would only block the next commit.
		closeSync(fd);
		removeJournal(journal.upper);
		throw fsError(error, file);
	}
	return openProgress(fd);
}

/** Appends to an existing journal (a resumed or aborted commit). */
export function continueJournal(upper: string): Progress {
	const file = journalPath(upper);
	const parent = openRoot(path.dirname(file));
	try {
		return openProgress(openSync(parent.child(path.basename(file)), O.O_WRONLY | O.O_NOFOLLOW | O.O_APPEND));
	} finally {
		parent.close();
	}
}

function openProgress(fd: number): Progress {
	return {
		prior: (i, p) => {
			writeSync(fd, `pre ${i} ${JSON.stringify(p)}\n`);
		},
		done: (i) => {
			writeSync(fd, `done ${i}\n`);
		},
		mark: (word) => {
			writeSync(fd, `${word}\n`);
			fsyncSync(fd);
		},
		undone: (i) => {
			writeSync(fd, `undone ${i}\n`);
		},
		close: () => {
			fsyncSync(fd);
			closeSync(fd);
		},
	};
}

export function removeJournal(upper: string): void {
	const file = journalPath(upper);
	const parent = openRoot(path.dirname(file));
	try {
		if (statIn(parent, path.basename(file))) unlinkSync(parent.child(path.basename(file)));
	} finally {
		parent.close();
	}
}
