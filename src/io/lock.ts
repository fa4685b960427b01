import {closeSync, constants, mkdirSync, openSync, readFileSync, unlinkSync, writeSync, ftruncateSync} from 'node:fs';
import path from 'node:path';
import {sha256Hex} from '../core/path-key.js';
import {encodePath, printablePath} from '../core/bytes.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {flockOps, native} from './native.js';
import {processStartTime} from './proc.js';

// Mutual exclusion between ovl processes on one stack: two `ovl mount` of the same upper, work
// dir or mount point at the same moment must not both pass validation. Locks are files in
// <registry>/locks, one per canonical path. With the native helper they are flock(2) locks,
// released by the kernel when a process dies; without it, O_EXCL files holding the owner's pid
// and start time, taken over when that process is gone.

export type Held = {release(): void};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const self = (): string => `${process.pid} ${processStartTime(process.pid) ?? '?'}\n`;

function tryFlock(file: string): Held | 'busy' {
	const n = native();
	const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
	try {
		n?.flock(fd, flockOps.exclusive | flockOps.nonBlocking);
	} catch (error) {
		closeSync(fd);
		if ((error as NodeJS.ErrnoException).code === 'EWOULDBLOCK' || (error as NodeJS.ErrnoException).code === 'EAGAIN')
			return 'busy';
		throw error;
	}
	ftruncateSync(fd, 0);
	writeSync(fd, self(), 0);
	return {release: () => closeSync(fd)};
}

function tryPidFile(file: string): Held | 'busy' {
	try {
		const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
		writeSync(fd, self());
		closeSync(fd);
		return {release: () => unlinkSync(file)};
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
	}
	const [pid, started] = readFileSync(file, 'utf8').trim().split(' ');
	const alive =
		pid !== undefined && processStartTime(Number(pid)) !== undefined && processStartTime(Number(pid)) === started;
	if (!alive) unlinkSync(file); // its owner died: take it over on the next try
	return 'busy';
}

function holder(file: string): string {
	try {
		return readFileSync(file, 'utf8').trim().split(' ')[0] ?? '?';
	} catch {
		return '?';
	}
}

/**
 Takes an exclusive lock for every key (sorted, so two processes never deadlock), waiting up to
 `timeoutMs`. When the lock directory cannot be made (a read-only /run, an unprivileged user
 namespace), there is no other ovl to exclude there and nothing is locked.
 */
export async function lockPaths(lockDir: string, keys: readonly string[], timeoutMs = 30_000): Promise<Held> {
	try {
		mkdirSync(lockDir, {recursive: true, mode: 0o700});
	} catch {
		return {release: () => undefined};
	}
	const held: Held[] = [];
	const release = (): void => {
		for (const h of held.reverse()) {
			try {
				h.release();
			} catch {
				// already gone
			}
		}
	};
	const take = native() ? tryFlock : tryPidFile;
	const deadline = Date.now() + timeoutMs;
	try {
		for (const key of [...new Set(keys)].sort()) {
			const file = path.join(lockDir, `${sha256Hex(encodePath(key)).slice(0, 24)}.lock`);
			for (;;) {
				const h = take(file);
				if (h !== 'busy') {
					held.push(h);
					break;
				}
				if (Date.now() > deadline)
					throw new OvlError(
						'OVL_LOCKED',
						`${printablePath(key)} is locked by another ovl (pid ${holder(file)})`,
						'wait for it to finish, or check that process',
						{exitCode: exitCodes.failure},
					);
				await sleep(25);
			}
		}
	} catch (error) {
		release();
		throw error;
	}
	return {release};
}
