import {closeSync, constants, fstatSync, fsyncSync, openSync, readSync, unlinkSync, writeSync} from 'node:fs';
import path from 'node:path';
import type {CommitAction} from '../core/commit-plan.js';
import type {TreeFact} from '../core/commit-verify.js';
import {printablePath} from '../core/bytes.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {fsError, openRoot, statIn} from './beneath.js';

// The commit journal, beside the upper (`<parent>/.ovl-commit-<upper name>.json`): the plan and
// the recorded merged view, written and fsync'd before the first action, then one `done N` line
// appended after each action. Every action can run twice with the same result, so after a
// crash `--resume` starts at the first action not marked done.

export type Journal = {
	readonly schema: 'ovl.commit-journal/v1';
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
};

const O = constants;

export const journalPath = (upper: string): string =>
	path.join(path.dirname(upper), `.ovl-commit-${path.basename(upper)}.json`);

/** The journal and how many actions are done, or undefined when no commit of this upper is pending. */
export function readJournal(upper: string): {journal: Journal; done: number} | undefined {
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
			journal.schema !== 'ovl.commit-journal/v1' ||
			!Array.isArray(journal.actions) ||
			!Array.isArray(journal.expected)
		)
			throw new OvlError(
				'OVL_COMMIT_JOURNAL_INVALID',
				`${printablePath(file)} is not a commit journal ovl can read`,
				'it was not written by this ovl: move it away, after checking the lower by hand',
				{exitCode: exitCodes.failure},
			);
		let done = 0;
		for (const l of lines) {
			const m = /^done (\d+)$/.exec(l);
			if (m) done = Math.max(done, Number(m[1]) + 1);
		}
		return {journal, done};
	} finally {
		parent.close();
	}
}

/** Creates the journal (O_EXCL: one pending commit per upper) and returns the hook that marks actions done. */
export function startJournal(journal: Journal): {markDone: (i: number) => void; close: () => void} {
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

/** Appends to an existing journal (a resumed commit). */
export function continueJournal(upper: string): {markDone: (i: number) => void; close: () => void} {
	const file = journalPath(upper);
	const parent = openRoot(path.dirname(file));
	try {
		return openProgress(openSync(parent.child(path.basename(file)), O.O_WRONLY | O.O_NOFOLLOW | O.O_APPEND));
	} finally {
		parent.close();
	}
}

function openProgress(fd: number): {markDone: (i: number) => void; close: () => void} {
	return {
		markDone: (i) => {
			writeSync(fd, `done ${i}\n`);
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
