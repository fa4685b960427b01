import {exitCodes} from '../core/exit-codes.js';
import {
	closeSync,
	constants,
	ftruncateSync,
	linkSync,
	lstatSync,
	lchownSync,
	mkdirSync,
	openSync,
	readdirSync,
	readFileSync,
	renameSync,
	rmSync,
	rmdirSync,
	symlinkSync,
	unlinkSync,
	utimesSync,
	writeSync,
	chmodSync,
} from 'node:fs';
import path from 'node:path';
import {OvlError} from '../core/errors.js';
import {isSameOrInside} from '../core/paths.js';
import {setXattrSync} from '../io/xattr.js';
import type {StepOp} from './experiment.js';

export type OpResult = {content?: string; listing?: string[]; walked?: number};

/**
 Joins a relative experiment path onto `base`, refusing anything that would leave it: `..`
 that climbs out, and symbolic links on the way (an experiment may create links; it may not
 use them to write outside). `followFinal` says whether the operation would follow a final link.
 */
export function safeJoin(base: string, rel: string, followFinal: boolean): string {
	const full = path.join(base, rel);
	if (!isSameOrInside(full, base))
		throw new OvlError(
			'OVL_LAB_PATH_ESCAPES',
			`${rel} leaves the experiment directory`,
			'use paths inside the overlay',
			{exitCode: exitCodes.usage},
		);
	const parts = path.relative(base, full).split('/').filter(Boolean);
	let current = base;
	for (const [i, part] of parts.entries()) {
		current = path.join(current, part);
		const st = lstatSync(current, {throwIfNoEntry: false});
		if (!st) break;
		if (st.isSymbolicLink() && (i < parts.length - 1 || followFinal)) {
			throw new OvlError(
				'OVL_LAB_SYMLINK',
				`${rel} goes through the symbolic link ${path.relative(base, current)}; lab steps never follow links`,
				'name the link itself (rm, mv) or a real path',
			);
		}
	}
	return full;
}

const flags = constants;

function writeAll(p: string, content: string, append: boolean): void {
	const fd = openSync(
		p,
		flags.O_WRONLY | flags.O_CREAT | flags.O_NOFOLLOW | (append ? flags.O_APPEND : flags.O_TRUNC),
		0o644,
	);
	try {
		writeSync(fd, content);
	} finally {
		closeSync(fd);
	}
}

function walk(dir: string): number {
	let n = 0;
	for (const name of readdirSync(dir)) {
		const p = path.join(dir, name);
		n++;
		if (lstatSync(p).isDirectory()) n += walk(p);
	}
	return n;
}

/** Performs one file operation of a step below `merged` (or a lower layer for lower-write). */
export function performOp(op: StepOp, merged: string, layerDir: (name: string) => string): OpResult {
	switch (op.op) {
		case 'write':
		case 'append':
			writeAll(safeJoin(merged, op.path, true), op.content, op.op === 'append');
			return {};
		case 'truncate': {
			const fd = openSync(safeJoin(merged, op.path, true), flags.O_WRONLY | flags.O_NOFOLLOW);
			try {
				ftruncateSync(fd, op.size);
			} finally {
				closeSync(fd);
			}
			return {};
		}
		case 'rm':
			unlinkSync(safeJoin(merged, op.path, false));
			return {};
		case 'rm-r':
			rmSync(safeJoin(merged, op.path, false), {recursive: true});
			return {};
		case 'rmdir':
			rmdirSync(safeJoin(merged, op.path, false));
			return {};
		case 'mkdir':
			mkdirSync(safeJoin(merged, op.path, false));
			return {};
		case 'mv':
			renameSync(safeJoin(merged, op.from, false), safeJoin(merged, op.to, false));
			return {};
		case 'chmod':
			chmodSync(safeJoin(merged, op.path, true), op.mode);
			return {};
		case 'chown':
			lchownSync(safeJoin(merged, op.path, false), op.uid, op.gid);
			return {};
		case 'touch': {
			const now = new Date();
			utimesSync(safeJoin(merged, op.path, true), now, now);
			return {};
		}
		case 'ln':
			linkSync(safeJoin(merged, op.target, false), safeJoin(merged, op.link, false));
			return {};
		case 'symlink':
			symlinkSync(op.target, safeJoin(merged, op.link, false));
			return {};
		case 'setfattr':
			setXattrSync(safeJoin(merged, op.path, true), op.name, op.value);
			return {};
		case 'read': {
			const fd = openSync(safeJoin(merged, op.path, true), flags.O_RDONLY | flags.O_NOFOLLOW);
			try {
				return {content: readFileSync(fd, 'utf8')};
			} finally {
				closeSync(fd);
			}
		}
		case 'ls':
			return {listing: readdirSync(safeJoin(merged, op.path, true)).sort()};
		case 'walk':
			return {walked: walk(safeJoin(merged, op.path, true))};
		case 'open-rw':
			closeSync(openSync(safeJoin(merged, op.path, true), flags.O_RDWR | flags.O_NOFOLLOW));
			return {};
		case 'lower-write': {
			const p = safeJoin(layerDir(op.layer), op.path, true);
			if (op.content !== undefined) writeAll(p, op.content, false);
			if (op.append !== undefined) writeAll(p, op.append, true);
			return {};
		}
		case 'umount':
		case 'mount':
		case 'commit':
			throw new Error(`${op.op} is handled by the runner`);
		default: {
			const never: never = op;
			return never;
		}
	}
}
