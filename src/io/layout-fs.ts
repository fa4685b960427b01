import {constants} from 'node:fs';
import {lstat, mkdir, open, readFile, rmdir, stat, unlink} from 'node:fs/promises';
import path from 'node:path';
import {OvlError} from '../core/errors.js';

// Creates directories and seed files below a root without ever following a symlink: each
// component is lstat-ed, and files are opened with O_NOFOLLOW. Everything created is recorded
// so a failure can undo it.

export class Creation {
	readonly created: string[] = [];
	readonly root: string;

	constructor(root: string) {
		this.root = root;
	}

	/** mkdir -p for a path relative to root; refuses symlinked or non-directory components. */
	async ensureDir(relative: string): Promise<string> {
		let current = this.root;
		for (const part of relative.split('/').filter((p) => p !== '' && p !== '.')) {
			current = path.join(current, part);
			const st = await lstat(current).catch(() => undefined);
			if (st === undefined) {
				await mkdir(current, {mode: 0o755});
				this.created.push(current);
			} else if (st.isSymbolicLink()) {
				throw new OvlError('OVL_PATH_SYMLINK', `${current} is a symbolic link; ovl does not follow links while laying out layers`, 'replace it with a real directory, or choose another name');
			} else if (!st.isDirectory()) {
				throw new OvlError('OVL_LAYER_NOT_DIR', `${current} exists and is not a directory`, 'remove it or choose another name');
			}
		}
		return current;
	}

	/** Writes a file under root/layer, creating parents; unchanged files are left alone. Returns true when written. */
	async writeFile(relative: string, contents: string): Promise<boolean> {
		const target = path.join(this.root, relative);
		await this.ensureDir(path.dirname(relative));
		const st = await lstat(target).catch(() => undefined);
		if (st?.isSymbolicLink()) throw new OvlError('OVL_PATH_SYMLINK', `${target} is a symbolic link; ovl will not write through it`, 'remove the link or choose another seed path');
		if (st && !st.isFile()) throw new OvlError('OVL_SEED_NOT_FILE', `${target} exists and is not a regular file`, 'remove it or choose another seed path');
		if (st && (await readFile(target, 'utf8')) === contents) return false;
		const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
		try {
			await handle.writeFile(contents);
		} finally {
			await handle.close();
		}
		if (!st) this.created.push(target);
		return true;
	}

	/** Removes what this run created, newest first (directories only if still empty). */
	async undo(): Promise<void> {
		for (const p of [...this.created].reverse()) {
			const st = await lstat(p).catch(() => undefined);
			if (!st) continue;
			await (st.isDirectory() ? rmdir(p) : unlink(p)).catch(() => undefined);
		}
		this.created.length = 0;
	}
}

/**
 mkdir -p for the directory the user named, one component at a time. Node 20's recursive mkdir
 never returns for a path under /proc (seen here: `mkdir('/proc/foo', {recursive: true})` hangs),
 and we want a clear error for any component that cannot be created.
 */
export async function makeDirs(target: string): Promise<void> {
	let current = '/';
	for (const part of target.split('/').filter(Boolean)) {
		current = path.join(current, part);
		const st = await lstat(current).catch(() => undefined);
		if (st?.isDirectory() || (st?.isSymbolicLink() && (await realpathIsDir(current)))) continue;
		if (st) throw new OvlError('OVL_LAYER_NOT_DIR', `${current} exists and is not a directory`, 'choose another directory', {exitCode: 2});
		await mkdir(current, {mode: 0o755}).catch((error: NodeJS.ErrnoException) => {
			if (error.code === 'EEXIST') return;
			throw new OvlError('OVL_CANNOT_CREATE', `cannot create ${current}: ${error.code ?? error.message}`, 'choose a directory on a writable filesystem', {exitCode: 1, cause: error});
		});
	}
}

async function realpathIsDir(p: string): Promise<boolean> {
	return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}
