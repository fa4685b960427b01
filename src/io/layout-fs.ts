import {lstatSync} from 'node:fs';
import {lstat, mkdir, rmdir, stat} from 'node:fs/promises';
import path from 'node:path';
import {encodePath, printablePath} from '../core/bytes.js';
import {InterruptedError, OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {openBeneath, readFileIn, removeBeneath, removeTreeIn, writeFileIn, type Dir} from './beneath.js';

// What `ovl prepare` creates below its root, through the beneath-a-dir-fd primitives: nothing is
// reached through a symlink, and everything created is recorded so a failure or a signal can
// remove it again (newest first).

export class Creation {
	/** What this run created, as the user would name it (for the report). */
	readonly created: string[] = [];
	private readonly rels: string[] = [];
	private readonly trees: {dir: Dir; name: string}[] = [];
	private readonly root: Dir;
	private readonly madeRoot: string | undefined;
	private state: 'running' | 'undone' | 'done' = 'running';

	constructor(root: Dir, madeRoot?: string) {
		this.root = root;
		this.madeRoot = madeRoot;
	}

	assertLive(): void {
		if (this.state === 'undone') throw new InterruptedError();
	}

	/** mkdir -p of `rel` below the root; a symlink or non-directory on the way is refused. */
	ensureDir(rel: string): void {
		this.assertLive();
		const made: string[] = [];
		openBeneath(this.root, rel, {create: {mode: 0o755, onCreate: (shown) => made.push(shown)}}).close();
		this.record(made);
	}

	private record(made: readonly string[]): void {
		for (const shown of made) {
			this.created.push(shown);
			this.rels.push(path.relative(this.root.shown, shown));
		}
	}

	/** Writes a file (parents created) whole or not at all; unchanged files are left alone. Returns true when written. */
	writeFile(rel: string, contents: string): boolean {
		this.assertLive();
		const made: string[] = [];
		const parent = openBeneath(this.root, path.posix.dirname(rel), {
			create: {mode: 0o755, onCreate: (shown) => made.push(shown)},
		});
		try {
			this.record(made);
			const name = path.posix.basename(rel);
			const existed = readFileIn(parent, name, Number.MAX_SAFE_INTEGER) !== undefined;
			const wrote = writeFileIn(parent, name, contents);
			if (!existed) this.record([`${parent.shown}/${name}`]);
			return wrote;
		} finally {
			parent.close();
		}
	}

	/** A staging tree this run is filling (`name` in `dir`): removed whole on failure unless handed over with `adopted`. */
	staging(dir: Dir, name: string): void {
		this.assertLive();
		this.trees.push({dir, name});
	}

	adopted(dir: Dir, name: string): void {
		const i = this.trees.findIndex((t) => t.dir === dir && t.name === name);
		if (i >= 0) this.trees.splice(i, 1);
	}

	/** Layers whose seed files differ from what is on disk (only those need writing). */
	changedSeedLayers(seed: Readonly<Record<string, Readonly<Record<string, string>>>>): string[] {
		const out = new Set<string>();
		for (const [layer, files] of Object.entries(seed)) {
			for (const [file, contents] of Object.entries(files)) {
				let same = false;
				try {
					const parent = openBeneath(this.root, path.posix.join(layer, path.posix.dirname(file)));
					try {
						same =
							readFileIn(parent, path.posix.basename(file), Buffer.byteLength(contents))?.toString('utf8') === contents;
					} finally {
						parent.close();
					}
				} catch {
					same = false;
				}
				if (!same) out.add(layer);
			}
		}
		return [...out];
	}

	done(): void {
		this.state = 'done';
	}

	/** Removes what this run created, newest first (directories only if empty again). Sync: safe inside a signal handler. */
	undo(): void {
		if (this.state !== 'running') return;
		this.state = 'undone';
		for (const t of this.trees.reverse()) {
			try {
				removeTreeIn(t.dir, t.name);
			} catch {
				// best effort: what is left is named by the error the user sees
			}
		}
		for (const rel of [...this.rels].reverse()) removeBeneath(this.root, rel);
		if (this.madeRoot !== undefined) void rmdir(encodePath(this.madeRoot)).catch(() => undefined);
	}
}

/**
 mkdir -p for the directory the user named, one component at a time (Node 20's recursive mkdir
 never returns for a path under /proc). Links in its parents are the user's to choose; the
 directory itself is opened later without following a link. Returns true when it made the last one.
 */
/** The components of `target` that do not exist yet, shallowest first: what `makeParents` will create. */
export function missingDirs(target: string): string[] {
	const out: string[] = [];
	for (let p = target; p !== path.dirname(p); p = path.dirname(p)) {
		if (lstatSync(encodePath(p), {throwIfNoEntry: false}) !== undefined) break;
		out.unshift(p);
	}
	return out;
}

export async function makeParents(target: string): Promise<boolean> {
	let current = '/';
	const parts = target.split('/').filter(Boolean);
	for (const [i, part] of parts.entries()) {
		current = path.join(current, part);
		const last = i === parts.length - 1;
		const st = await lstat(encodePath(current)).catch(() => undefined);
		if (st?.isDirectory()) continue;
		if (st?.isSymbolicLink() && (last || (await stat(encodePath(current)).catch(() => undefined))?.isDirectory()))
			continue;
		if (st)
			throw new OvlError(
				'OVL_LAYER_NOT_DIR',
				`${printablePath(current)} exists and is not a directory`,
				'choose another directory',
				{
					exitCode: exitCodes.usage,
				},
			);
		const made = await mkdir(encodePath(current), {mode: 0o755}).then(
			() => true,
			(error: NodeJS.ErrnoException) => {
				if (error.code === 'EEXIST') return false;
				throw new OvlError(
					'OVL_CANNOT_CREATE',
					`cannot create ${printablePath(current)}: ${error.code ?? error.message}`,
					error.code === 'EROFS'
						? 'that filesystem is read-only; choose a directory on a writable one'
						: error.code === 'ENOSPC'
							? 'the filesystem is full; free space and run it again'
							: 'choose a directory on a writable filesystem',
					{exitCode: exitCodes.failure, cause: error},
				);
			},
		);
		if (last) return made;
	}
	return false;
}
