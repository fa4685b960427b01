import {closeSync, constants, openSync, readSync} from 'node:fs';
import {isOverlayLine} from '../core/kernel-log.js';

// The kernel log via /dev/kmsg: one record per read(2), "prio,seq,usec,flags;message".
// Read non-blocking to the end; a cursor is the last sequence number seen.

export type KmsgCursor = {readonly seq: number; readonly readable: boolean};

type KmsgRecord = {readonly seq: number; readonly message: string};

function readAll(after: number): {records: KmsgRecord[]; last: number} | undefined {
	let fd: number;
	try {
		fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
	} catch {
		return undefined;
	}
	const buf = Buffer.alloc(16 * 1024);
	const records: KmsgRecord[] = [];
	let last = -1;
	try {
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
	} finally {
		closeSync(fd);
	}
	return {records, last};
}

export function kernelLogCursor(): KmsgCursor {
	const r = readAll(Number.MAX_SAFE_INTEGER);
	return r ? {seq: r.last, readable: true} : {seq: -1, readable: false};
}

/** overlay/overlayfs messages logged after the cursor (other overlays' messages may be mixed in). */
export function overlayLinesSince(cursor: KmsgCursor): string[] | undefined {
	if (!cursor.readable) return undefined;
	const r = readAll(cursor.seq);
	return r?.records.filter((rec) => isOverlayLine(rec.message)).map((rec) => rec.message);
}
