import type {Change, Entry, EntryVariant, LowerHit, RawEntry, StatLite} from './entry.js';
import {resolveRedirect} from './paths.js';

const noLayers: readonly number[] = Object.freeze([]);

const isWhiteoutStat = (s: StatLite): boolean => s.type === 'char' && s.rdev === 0;

/** What differs between an upper copy and its lower original, without reading file contents. */
export function compareWithLower(
	upper: StatLite,
	lower: StatLite,
	upperX: readonly string[],
	lowerX: readonly string[] | undefined,
): Change[] {
	const out: Change[] = [];
	if (upper.type !== lower.type) return ['type'];
	// Without reading contents: a size change is a data change; an mtime change may be either
	// (write or touch). --content settles it by hashing (contentDiffers).
	if (upper.type !== 'dir' && upper.size !== lower.size) out.push('data');
	if (upper.mtimeMs !== lower.mtimeMs) out.push('mtime');
	if (upper.perm !== lower.perm) out.push('mode');
	if (upper.uid !== lower.uid || upper.gid !== lower.gid) out.push('owner');
	if (lowerX !== undefined && [...upperX].sort().join('\0') !== [...lowerX].sort().join('\0')) out.push('xattrs');
	return out;
}

/** ovl_fb: version, magic 0xfb, len, flags, fid type, uuid[16], fid. Returns a readable summary. */
export function describeOrigin(hex: string): string {
	if (hex === '') return 'empty (copied up, origin unknown)';
	// The scan gives lowercase hex: read it in place (a Buffer per copy-up was most of this).
	if (hex.length >= 42 && hex.length % 2 === 0 && lowerHex.test(hex)) {
		if (hex.slice(2, 4) !== 'fb') return `unparsed handle ${hex}`;
		const uuid = hex.slice(10, 42);
		return `fh type ${parseInt(hex.slice(8, 10), 16)} uuid ${uuid === nullUuid ? 'null' : uuid} fid ${hex.slice(42)}`;
	}
	const b = Buffer.from(hex, 'hex');
	if (b.length < 21 || b[1] !== 0xfb) return `unparsed handle ${hex}`;
	const uuid = b.subarray(5, 21).toString('hex');
	return `fh type ${b[4]} uuid ${/^0+$/.test(uuid) ? 'null' : uuid} fid ${b.subarray(21).toString('hex')}`;
}

const lowerHex = /^[0-9a-f]+$/;
const nullUuid = '0'.repeat(32);

/** metacopy xattr: empty, or {version 0, len, flags, digest algo, digest}. */
export function parseMetacopy(hex: string): {digest?: string; valid: boolean} {
	if (hex === '') return {valid: true};
	const b = Buffer.from(hex, 'hex');
	if (b.length < 4 || b[0] !== 0 || b[1] !== b.length) return {valid: false};
	return {valid: true, digest: `alg ${b[3]}:${b.subarray(4).toString('hex')}`};
}

/**
 Classifies one upper entry (reference §3, "Classifying an upper-layer entry"; order matters).
 Never throws: odd combinations become 'anomaly' with the reason.
 */
export function classifyEntry(raw: RawEntry): Entry {
	const s = raw.stat;
	const x = raw.xattrs;
	const reasons: string[] = [];
	const top = raw.shadows[0];
	const hardlink =
		s.nlink > 1 && s.type !== 'dir' && !isWhiteoutStat(s)
			? {nlink: s.nlink, indexed: x['nlink'] !== undefined}
			: x['nlink'] !== undefined
				? {nlink: s.nlink, indexed: true}
				: undefined;
	const shadows = raw.shadows.length === 0 ? noLayers : raw.shadows.map((h) => h.layer);
	// Built field by field in one order (the JSON's), not spread: this runs once per upper entry,
	// 10^6 times on a big upper, and every object shares one hidden class per kind.
	const done = (variant: EntryVariant, extra?: {origin?: string}): Entry => {
		const e: Record<string, unknown> = {
			path: raw.path,
			type: s.type,
			shadows,
			size: s.size,
			bytes: s.blocks * 512,
			xattrs: x,
		};
		if (hardlink) e['hardlink'] = hardlink;
		e['reasons'] = reasons;
		if (extra?.origin !== undefined) e['origin'] = extra.origin;
		for (const k in variant) e[k] = (variant as Record<string, unknown>)[k];
		return e as Entry;
	};
	if ('origin' in x) reasons.push(`origin: ${describeOrigin(x['origin'] ?? '')}`);

	if (isWhiteoutStat(s)) {
		reasons.unshift('char device 0:0');
		if (s.nlink > 1) reasons.push(`nlink ${s.nlink}: shares the work dir's whiteout inode`);
		reasons.push(top ? `hides lower ${top.layer}` : 'nothing beneath it');
		return done({kind: 'whiteout'});
	}
	if ('whiteout' in x) {
		reasons.unshift('overlay.whiteout xattr');
		if (s.type === 'file' && s.size === 0) {
			reasons.push('xattr whiteouts belong in lower layers; the kernel does not honour this one in the upper');
			return done({kind: 'xwhiteout'});
		}
		reasons.push(`on a ${s.type} of ${s.size} bytes: not a valid xattr whiteout`);
		return done({kind: 'anomaly'});
	}
	if (s.type === 'dir') return classifyDir(raw, reasons, done);
	if ('metacopy' in x) {
		const m = parseMetacopy(x['metacopy'] ?? '');
		reasons.unshift(`metacopy${m.digest ? ` (digest ${m.digest})` : ' (no digest)'}`);
		if (!m.valid) {
			reasons.push('malformed metacopy xattr: the kernel returns EIO');
			return done({kind: 'anomaly'});
		}
		const redirect = x['redirect'];
		const dataPath = redirect === undefined ? raw.path : (raw.redirectOrigin ?? resolveRedirect(raw.path, redirect));
		if (redirect !== undefined) reasons.push(`redirect ${redirect} → data at ${dataPath}`);
		const hit = raw.dataHit;
		reasons.push(hit ? `data in lower ${hit.layer}` : 'no lower holds the data');
		return done(
			{
				kind: 'metacopy',
				metacopy: {
					...(m.digest ? {digest: m.digest} : {}),
					...(hit ? {dataLayer: hit.layer, dataPath: hit.path, lowerSize: hit.stat.size} : {}),
					...(hit ? {} : {dataPath}),
				},
			},
			redirect === undefined ? {} : {origin: dataPath},
		);
	}
	if ('origin' in x || top) {
		if (!top) {
			reasons.push('origin recorded but no lower holds this path now');
			return done({kind: 'copy-up', copyUp: {fromLayer: 0, lowerSize: 0, changes: [], withOrigin: true}});
		}
		const withOrigin = 'origin' in x;
		const linked = s.nlink > 1 || top.stat.nlink > 1;
		if (!withOrigin && !linked) {
			// The kernel records an origin on every copy-up it can; without one and without hard links
			// this file was made over the lower one (deleted and created again, or unpacked from a layer).
			reasons.push(
				`no origin xattr, nlink 1 over lower ${top.layer}'s ${top.stat.type}: written over it, not a copy-up`,
			);
			return done({kind: 'new'});
		}
		if (!withOrigin)
			reasons.push(
				`no origin xattr; lower ${top.layer} holds the same path (a hard link copied up with index=off gets no origin)`,
			);
		else reasons.push(`copied from lower ${top.layer}`);
		if ('redirect' in x) reasons.push(`redirect ${x['redirect']}`);
		const changes = compareWithLower(s, top.stat, raw.otherXattrs, raw.shadowXattrs);
		if (raw.contentDiffers === true && !changes.includes('data')) changes.unshift('data');
		if (raw.contentDiffers !== undefined)
			reasons.push(raw.contentDiffers ? 'contents differ from the lower copy' : 'contents identical to the lower copy');
		if (changes.includes('type')) {
			reasons.push(`replaces a lower ${top.stat.type} with a ${s.type}`);
			if (!withOrigin) return done({kind: 'new'});
			// Its origin is another file: copied up from there, then renamed onto this path.
			reasons.push('the origin handle names the file it was copied from, renamed here');
			return done({kind: 'copy-up', copyUp: {fromLayer: 0, lowerSize: 0, changes: ['type'], withOrigin: true}});
		}
		return done({kind: 'copy-up', copyUp: {fromLayer: top.layer, lowerSize: top.stat.size, changes, withOrigin}});
	}
	reasons.push('no lower holds this path');
	return done({kind: 'new'});
}

function classifyDir(
	raw: RawEntry,
	reasons: string[],
	done: (v: EntryVariant, extra?: {origin?: string}) => Entry,
): Entry {
	const x = raw.xattrs;
	const top: LowerHit | undefined = raw.shadows[0];
	if (x['opaque'] === 'y') {
		reasons.unshift('opaque=y');
		const replaced = top !== undefined;
		// With redirect_dir=on the kernel marks every directory it creates opaque, new ones included.
		reasons.push(
			replaced
				? `replaces lower ${top.layer}'s ${top.stat.type}: lower contents hidden`
				: 'new directory (with redirect_dir=on the kernel marks the directories it creates opaque)',
		);
		return done({kind: 'opaque-dir', opaque: replaced ? 'replaced' : 'new'});
	}
	if (x['opaque'] !== undefined) reasons.push(`opaque=${x['opaque']} (not "y": ignored in the upper)`);
	const redirectOrigin =
		x['redirect'] === undefined ? undefined : (raw.redirectOrigin ?? resolveRedirect(raw.path, x['redirect']));
	const selfRedirect = redirectOrigin === raw.path;
	// Renamed away and back: the kernel keeps the redirect xattr, but it names the dir's own path.
	if (selfRedirect)
		reasons.push(`redirect ${x['redirect'] ?? ''} names its own path (renamed away and back): nothing moved`);
	if (x['redirect'] !== undefined && !selfRedirect) {
		const value = x['redirect'];
		const absolute = value.startsWith('/');
		const origin = redirectOrigin ?? resolveRedirect(raw.path, value);
		const hits = raw.redirectHits ?? [];
		reasons.unshift(`redirect ${value} (${absolute ? 'absolute' : 'relative'})`);
		reasons.push(
			hits.length > 0
				? `renamed from ${origin} (lower ${hits.map((h) => h.layer).join(', ')})`
				: `origin ${origin} is in no lower layer`,
		);
		return done(
			{kind: 'redirect-dir', redirect: {value, absolute, origin, originLayers: hits.map((h) => h.layer)}},
			{origin},
		);
	}
	if (top && top.stat.type === 'dir') {
		reasons.unshift(
			'origin' in x ? 'copied up to hold changed children' : `merges with lower ${top.layer} (no origin xattr)`,
		);
		const changes = compareWithLower(raw.stat, top.stat, raw.otherXattrs, raw.shadowXattrs);
		return done({kind: 'merge-dir', copyUp: {fromLayer: top.layer, lowerSize: 0, changes, withOrigin: 'origin' in x}});
	}
	if ('origin' in x) {
		reasons.push('origin recorded but no lower directory at this path');
		return done({kind: 'anomaly'});
	}
	reasons.push(top ? `replaces lower ${top.layer}'s ${top.stat.type} without opaque=y` : 'no lower holds this path');
	return done({kind: 'new'});
}

/** A copy-up with nothing at its own path in the lowers: only the whole upper's lower files can name its original. */
export const isOrphanCopy = (e: Entry): boolean =>
	e.kind === 'copy-up' && e.copyUp !== undefined && e.copyUp.fromLayer === 0;

/** What linkOrigin needs of a lower file: kept for 10⁵ of them through a scan, so no whole stat. */
export type OriginHit = {readonly layer: number; readonly path: string; readonly size: number};

/** Records the lower files an entry shadows by inode (the last one seen wins), those `wanted` only when given. */
export function noteLowerInodes(
	raw: Pick<RawEntry, 'shadows'>,
	byInode: Map<number, OriginHit>,
	wanted?: ReadonlySet<number>,
): void {
	// Indexed: shadows arrays are of two kinds (the frozen empty one, or not).
	for (let k = 0; k < raw.shadows.length; k++) {
		const h = raw.shadows[k] as LowerHit;
		if (h.stat.type !== 'dir' && (wanted === undefined || wanted.has(h.stat.ino)))
			byInode.set(h.stat.ino, {layer: h.layer, path: h.path, size: h.stat.size});
	}
}

/**
 A copy-up with an origin but nothing at its own path in the lowers was renamed or hard-linked
 after copy-up: its lower original, found by the inode in the origin handle (FILEID_INO32_GEN)
 among the lower files the scan saw (a rename leaves a whiteout that shadows the original).
 */
export function linkOrigin(
	e: Entry,
	raw: RawEntry,
	byInode: ReadonlyMap<number, OriginHit>,
	originInode: (hex: string | undefined) => number | undefined,
): Entry {
	if (!isOrphanCopy(e) || !e.copyUp) return e;
	const ino = originInode(raw.xattrs['origin']);
	const hit = ino === undefined ? undefined : byInode.get(ino);
	if (!hit) return e;
	return {
		...e,
		reasons: [
			...e.reasons.filter((r) => !r.startsWith('origin recorded but')),
			`origin is lower ${hit.layer}'s ${hit.path} (renamed or linked after copy-up)`,
		],
		copyUp: {...e.copyUp, fromLayer: hit.layer, fromPath: hit.path, lowerSize: hit.size},
	};
}
