import {encodePath} from '../core/bytes.js';
import type {CtxDir} from '../core/lower-view.js';
import type {Entry, ScannedEntry} from '../core/entry.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {xattrHint} from '../core/report.js';
import {LowerDirs} from '../io/lower-dirs.js';
import type {Located} from '../io/locate.js';
import {observeUpper} from './inspect.js';

// What an overlay's upper becomes as an image layer, in archive order: the upper's own entries,
// whiteouts as .wh.<name>, opaque dirs with .wh..wh..opq, and where the layer format has no word
// for what the upper says (a renamed dir, a metacopy file) the merged result written out whole.

export type ExportItem =
	/** A file system object: metadata from `meta`, a regular file's bytes from `data`. */
	| {readonly kind: 'object'; readonly path: string; readonly meta: string; readonly data?: string}
	/** `.wh.<name>` for a deletion; metadata (owner, mtime) from the whiteout itself. */
	| {readonly kind: 'whiteout'; readonly path: string; readonly meta: string}
	/** `<dir>/.wh..wh..opq`: the lower contents of dir are hidden. */
	| {readonly kind: 'opaque'; readonly path: string; readonly meta: string};

export type ExportPlan = {
	readonly items: readonly ExportItem[];
	readonly counts: {entries: number; whiteouts: number; opaques: number; renamedDirs: number; metacopies: number};
	readonly skipped: readonly {path: string; why: string}[];
};

const byBytes = (a: string, b: string): number => Buffer.compare(encodePath(a), encodePath(b));
const parentOf = (p: string): string => p.slice(0, p.lastIndexOf('/'));
const nameOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** Scans and classifies the upper (as inspect does), then orders what the layer must say. */
export async function planExport(located: Located & {upper: string}): Promise<ExportPlan> {
	const {scan, entries: classified} = await observeUpper({
		upper: located.upper,
		lowers: located.lowers,
		ns: located.facts.xattrNamespace,
	});
	if (scan.problems.length > 0) {
		const p = scan.problems[0] as {path: string; message: string};
		throw new OvlError(
			'OVL_EXPORT_CHANGED',
			`the upper changed while ovl read it (${p.path}: ${p.message})`,
			'stop what writes to the overlay (docker stop, umount), then export again',
			{exitCode: exitCodes.failure},
		);
	}
	const unreadable = scan.xattrErrors[0];
	if (unreadable)
		throw new OvlError(
			'OVL_XATTR_UNREADABLE',
			`${unreadable.path}: its xattrs could not be read (${unreadable.code}); ovl cannot tell what the layer must say`,
			xattrHint(unreadable.code),
			{exitCode: exitCodes.failure},
		);
	const entries = new Map<string, {raw: ScannedEntry; entry: Entry}>();
	const children = new Map<string, string[]>();
	for (const [i, raw] of scan.entries.entries()) {
		entries.set(raw.path, {raw, entry: classified[i] as Entry});
		const parent = parentOf(raw.path);
		children.set(parent, [...(children.get(parent) ?? []), raw.path]);
	}
	for (const list of children.values()) list.sort(byBytes);
	const lowers = new LowerDirs(located.facts.xattrNamespace);
	const items: ExportItem[] = [];
	const skipped: {path: string; why: string}[] = [];
	const counts = {entries: 0, whiteouts: 0, opaques: 0, renamedDirs: 0, metacopies: 0};
	const up = (p: string): string => located.upper + p;

	const object = (path: string, meta: string, data?: string): void => {
		counts.entries++;
		items.push({kind: 'object', path, meta, ...(data === undefined ? {} : {data})});
	};
	const metacopyData = (e: {raw: ScannedEntry; entry: Entry}): string => {
		counts.metacopies++;
		if (e.raw.dataHit) return e.raw.dataHit.path;
		throw new OvlError(
			'OVL_EXPORT_NO_DATA',
			`${e.entry.path} is a metacopy file whose data is in no lower layer`,
			'the overlay reads it as EIO too; restore the lower that held its data, or delete the file in the overlay',
			{exitCode: exitCodes.failure},
		);
	};
	const refuseAnomaly = (e: Entry): void => {
		if (e.kind === 'anomaly' && e.type === 'file' && 'metacopy' in e.xattrs)
			throw new OvlError(
				'OVL_EXPORT_UNREADABLE',
				`${e.path}: ${e.reasons.join('; ')}`,
				'the overlay cannot read this file either; repair or delete it in the upper first',
				{exitCode: exitCodes.failure},
			);
	};

	// The upper as a layer: each entry says only what changed.
	const walkUpper = (dir: string): void => {
		for (const p of children.get(dir) ?? []) {
			const e = entries.get(p) as {raw: ScannedEntry; entry: Entry};
			const {kind, type} = e.entry;
			refuseAnomaly(e.entry);
			if (kind === 'whiteout') {
				counts.whiteouts++;
				items.push({kind: 'whiteout', path: p, meta: up(p)});
			} else if (type === 'socket') skipped.push({path: p, why: 'a socket has no form in a tar archive'});
			else if (kind === 'redirect-dir') {
				counts.renamedDirs++;
				object(p, up(p));
				opaque(p);
				walkMerged(
					p,
					(e.raw.redirectHits ?? []).map((h) => ({layer: h.layer, path: h.path})),
				);
			} else if (kind === 'metacopy') object(p, up(p), metacopyData(e));
			else if (type === 'dir') {
				object(p, up(p));
				if (kind === 'opaque-dir') opaque(p);
				walkUpper(p);
			} else object(p, up(p), type === 'file' ? up(p) : undefined);
		}
	};
	const opaque = (dir: string): void => {
		counts.opaques++;
		items.push({kind: 'opaque', path: dir, meta: up(dir)});
	};

	// Below a renamed dir the layer holds the merged result: the upper's entries over what the
	// lowers serve there (`ctx`, top first), with their whiteouts and opaque dirs applied.
	const walkMerged = (dir: string, ctx: readonly CtxDir[]): void => {
		const fromUpper = new Map((children.get(dir) ?? []).map((p) => [nameOf(p), p]));
		const fromLower = lowers.children(ctx);
		const names = [...new Set([...fromUpper.keys(), ...fromLower.keys()])].sort(byBytes);
		for (const name of names) {
			const p = `${dir}/${name}`;
			const u = fromUpper.has(name) ? entries.get(p) : undefined;
			if (u) {
				refuseAnomaly(u.entry);
				const {kind, type} = u.entry;
				if (kind === 'whiteout') continue;
				if (type === 'socket') skipped.push({path: p, why: 'a socket has no form in a tar archive'});
				else if (kind === 'metacopy') object(p, up(p), metacopyData(u));
				else if (type !== 'dir') object(p, up(p), type === 'file' ? up(p) : undefined);
				else {
					object(p, up(p));
					const next =
						kind === 'opaque-dir'
							? []
							: kind === 'redirect-dir'
								? (u.raw.redirectHits ?? []).map((h) => ({layer: h.layer, path: h.path}))
								: lowers.childCtx(ctx, name);
					if (kind === 'redirect-dir') counts.renamedDirs++;
					walkMerged(p, next);
				}
				continue;
			}
			const hit = fromLower.get(name);
			if (!hit) continue;
			if (hit.type === 'socket') skipped.push({path: p, why: 'a socket has no form in a tar archive'});
			else object(p, hit.path, hit.type === 'file' ? hit.path : undefined);
			if (hit.type === 'dir') walkMerged(p, lowers.childCtx(ctx, name));
		}
	};

	walkUpper('');
	return {items, counts, skipped};
}
