import {closeSync, constants, openSync, readSync} from 'node:fs';
import {isOverlayLine} from '../core/kernel-log.js';
import {native} from './native.js';

// The kernel log via /dev/kmsg: one record per read(2), "prio,seq,usec,flags;message".
// Read non-blocking to the end; a cursor is a descriptor left at the end, or the last sequence seen.

/** Where the log stood: a descriptor already at its end (native lseek), or the last sequence number seen. */
export type KmsgCursor = {readonly seq: number; readonly readable: boolean; readonly fd?: number};

type KmsgRecord = {readonly seq: number; readonly message: string};

function openKmsg(): number | undefined {
	try {
		return openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
	} catch {
		return undefined;
	}
}

/** The records from where fd stands to the end, those after `after` kept. */
function readRecords(fd: number, after: number): {records: KmsgRecord[]; last: number} {
	const buf = Buffer.alloc(16 * 1024);
	const records: KmsgRecord[] = [];
	let last = -1;
	for (;;) {
		let n: number;
		try {
			n = readSync(fd, buf, 0, buf.length, null);
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			if (code === 'EPIPE') continue; // a record was overwritten while we read: skip it
			break; // EAGAIN: nothing more
		}
		if (n <= 0) break;
		const text = buf.toString('utf8', 0, n);
		const semi = text.indexOf(';');
		const seq = Number(text.slice(0, semi).split(',')[1]);
		if (!Number.isFinite(seq)) continue;
		last = Math.max(last, seq);
		if (seq > after) records.push({seq, message: (text.slice(semi + 1).split('\n')[0] ?? '').trim()});
	}
	return {records, last};
}

function readAll(after: number): {records: KmsgRecord[]; last: number} | undefined {
	const fd = openKmsg();
	if (fd === undefined) return undefined;
	try {
		return readRecords(fd, after);
	} finally {
		closeSync(fd);
	}
}

/** Whether this process can read the kernel log (never inside a user namespace). */
export function kernelLogReadable(): boolean {
	const fd = openKmsg();
	if (fd !== undefined) closeSync(fd);
	return fd !== undefined;
}

/**
 The log's end, before an operation whose kernel messages are wanted: overlayLinesSince(cursor)
 reads them, once, and releases it. With the native helper the descriptor is left at the end by
 one lseek; without it the whole ring buffer is read for its last sequence number.
 */
export function kernelLogCursor(): KmsgCursor {
	const api = native();
	const fd = api ? openKmsg() : undefined;
	if (api && fd !== undefined) {
		try {
			api.seekEnd(fd);
			return {seq: -1, readable: true, fd};
		} catch {
			closeSync(fd);
		}
	}
	const r = readAll(Number.MAX_SAFE_INTEGER);
	return r ? {seq: r.last, readable: true} : {seq: -1, readable: false};
}

/** overlay/overlayfs messages logged after the cursor (other overlays' messages may be mixed in). */
export function overlayLinesSince(cursor: KmsgCursor): string[] | undefined {
	if (!cursor.readable) return undefined;
	let r: {records: KmsgRecord[]} | undefined;
	if (cursor.fd === undefined) r = readAll(cursor.seq);
	else
		try {
			r = readRecords(cursor.fd, -1);
		} finally {
			closeSync(cursor.fd);
		}
	return r?.records.filter((rec) => isOverlayLine(rec.message)).map((rec) => rec.message);
}
