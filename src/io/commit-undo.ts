import {closeSync, constants, ftruncateSync, openSync, renameSync, rmdirSync, unlinkSync} from 'node:fs';
import type {CommitAction} from '../core/commit-plan.js';
import {Dir, fsError, listDir, openBeneath, openRoot, removeTreeIn, statIn} from './beneath.js';
import {copyBytes} from './commit-apply.js';
import {clearedOf, savedOf, stageName, tempName, trashOf, withParent} from './commit-fs.js';
import {dirTimes, metaDifferences, restoreMeta, setTimes, type Meta, type Prior} from './commit-meta.js';

// `ovl commit --abort`: the actions that ran (and the one a kill interrupted) undone in reverse
// order, from what the journal kept of each before it ran (its Prior) and what it moved to the
// staging dir. After action i is undone the target is as it was just before action i ran, so
// undoing them all in reverse leaves it as it was before the commit.

export type UndoSides = {
	readonly target: string;
	readonly id: string;
	readonly priors: ReadonlyMap<number, Prior>;
	/** Actions an interrupted abort already undid: undoing one twice could remove what an earlier undo put back. */
	readonly undone: ReadonlySet<number>;
	readonly onUndone: (index: number) => void;
	/** The target root's metadata when the journal was written. */
	readonly root: Meta;
};

/** Undoes every action that has a prior, last first; returns what does not match its record afterwards. */
export function undoCommit(actions: readonly CommitAction[], sides: UndoSides): string[] {
	const target = openRoot(sides.target);
	const differences: string[] = [];
	try {
		const present = statIn(target, stageName(sides.id)) !== undefined;
		const stage = present ? openBeneath(target, stageName(sides.id)) : undefined;
		try {
			for (let i = actions.length - 1; i >= 0; i--) {
				const prior = sides.priors.get(i);
				if (!prior || sides.undone.has(i)) continue;
				const a = actions[i] as CommitAction;
				try {
					differences.push(...undo(a, {target, stage, prior, i, temp: tempName(sides.id, i)}));
				} catch (error) {
					throw fsError(error, `${sides.target}${a.path}`);
				}
				sides.onUndone(i);
			}
			if (stage) {
				const left = listDir(stage).filter((n) => !n.endsWith('.tmp'));
				if (left.length > 0) differences.push(`${stageName(sides.id)} still holds ${left.join(', ')}: left in place`);
				else removeTreeIn(target, stageName(sides.id));
			}
		} finally {
			stage?.close();
		}
		restoreMeta(target, '.', sides.root);
		return differences;
	} finally {
		target.close();
	}
}

type Undo = {
	readonly target: Dir;
	readonly stage: Dir | undefined;
	readonly prior: Prior;
	readonly i: number;
	readonly temp: string;
};

const inStage = (u: Undo, name: string): boolean => u.stage !== undefined && statIn(u.stage, name) !== undefined;

function undo(a: CommitAction, u: Undo): string[] {
	if (a.path === '/') {
		if (u.prior.self) restoreMeta(u.target, '.', u.prior.self);
		return [];
	}
	return (
		withParent(u.target, a.path, (dir, name) => {
			const stage = u.stage as Dir; // every action but a root meta ran with the stage made
			switch (a.op) {
				case 'stage-dir':
					if (!statIn(dir, name) && inStage(u, String(a.slot)))
						renameSync(stage.child(String(a.slot)), dir.child(name));
					break;
				case 'stage-data':
					if (inStage(u, `d${a.slot}`)) unlinkSync(stage.child(`d${a.slot}`));
					break;
				case 'meta':
					break;
				case 'write':
					if (inStage(u, savedOf(u.i))) putBytesBack(dir, name, stage, savedOf(u.i));
					else putBack(dir, name, a, u);
					if (inStage(u, `${savedOf(u.i)}.tmp`)) unlinkSync(stage.child(`${savedOf(u.i)}.tmp`));
					break;
				default:
					putBack(dir, name, a, u);
			}
			if (statIn(dir, u.temp)) removeTreeIn(dir, u.temp);
			const now = statIn(dir, name);
			if (u.prior.self && now) restoreMeta(dir, name, u.prior.self);
			if (u.prior.kids && now?.isDirectory()) {
				const sub = openBeneath(dir, name);
				try {
					for (const [n, t] of u.prior.kids) if (statIn(sub, n)?.isDirectory()) setTimes(sub, n, t);
				} finally {
					sub.close();
				}
			}
			if (u.prior.parent) setTimes(dir, '.', u.prior.parent);
			return check(dir, name, a.path, u.prior);
		}) ?? []
	);
}

/**
 Removes what the action made at `name` (anything there, when nothing was there before it or
 its original went to the trash), then puts back the dir's old children and the original itself.
 A renamed dir goes back to its slot, where the undo of its stage-dir action finds it.
 */
function putBack(dir: Dir, name: string, a: CommitAction, u: Undo): void {
	const stage = u.stage as Dir;
	const trash = trashOf(u.i);
	const ours = !u.prior.had || inStage(u, trash);
	const st = statIn(dir, name);
	if (ours && st) {
		const slot = a.op === 'dir' && a.slot !== undefined ? String(a.slot) : undefined;
		if (slot !== undefined && st.isDirectory() && !inStage(u, slot)) renameSync(dir.child(name), stage.child(slot));
		else removeTreeIn(dir, name);
	}
	const cleared = clearedOf(u.i);
	if (inStage(u, cleared)) {
		const sub = openBeneath(dir, name);
		const from = openBeneath(stage, cleared);
		try {
			for (const n of listDir(from)) {
				if (statIn(sub, n)) removeTreeIn(sub, n);
				renameSync(from.child(n), sub.child(n));
			}
		} finally {
			from.close();
			sub.close();
		}
		rmdirSync(stage.child(cleared));
	}
	if (inStage(u, trash)) renameSync(stage.child(trash), dir.child(name));
}

/** A file rewritten in place (an indexed hard link) gets its old bytes back, into the same inode. */
function putBytesBack(dir: Dir, name: string, stage: Dir, saved: string): void {
	const fd = openSync(dir.child(name), constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
	try {
		ftruncateSync(fd, 0);
		copyBytes(stage.child(saved), fd);
	} finally {
		closeSync(fd);
	}
	unlinkSync(stage.child(saved));
}

/** What differs, right after the undo, from what the journal recorded before the action ran. */
function check(dir: Dir, name: string, path: string, prior: Prior): string[] {
	const now = statIn(dir, name);
	const out: string[] = [];
	if (prior.had && !now) out.push(`${path}: missing after the rollback`);
	else if (!prior.had && now) out.push(`${path}: still there after the rollback`);
	else if (prior.self && now) {
		const fields = metaDifferences(dir, name, prior.self);
		if (fields.length > 0) out.push(`${path}: ${fields.join(', ')} not as before the commit`);
	}
	if (prior.parent && dirTimes(dir)[1] !== prior.parent[1])
		out.push(`${path.slice(0, path.lastIndexOf('/')) || '/'}: mtime not as before the commit`);
	return out;
}
