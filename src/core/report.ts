import type {Entry, EntryKind, LayerRef} from './entry.js';
import {entryKinds} from './entry.js';
import type {ChangeSet} from './diff.js';
import {finding} from './finding.js';
import type {Finding} from './types.js';

/** A layer of an inspected overlay, upper included: a LayerRef's number (1 = bottom lower, 0 = the upper) and path, with its role. */
export type LayerInfo = Pick<LayerRef, 'layer' | 'path'> & {
	readonly role: 'upper' | 'lower' | 'data-only';
	/** What mountinfo recorded, when it differs (relative paths, fd strategy). */
	readonly recorded?: string;
	/** A name for people: the image layer's diff id and the command that made it. */
	readonly label?: string;
};

export type MountFacts = {
	readonly mountPoint?: string;
	readonly mountId?: number;
	readonly options: readonly string[];
	readonly xattrNamespace: 'trusted' | 'user';
	readonly layers: readonly LayerInfo[];
	readonly work?: string;
	readonly source: 'mountinfo' | 'offline';
	readonly mountedAt?: string;
	/** Other mount points whose upper is this upper. */
	readonly sharedWith?: readonly string[];
};

export type SpaceFacts = {
	readonly blocksFree: number;
	readonly blocksTotal: number;
	readonly blockSize: number;
	readonly inodesFree: number;
	readonly inodesTotal: number;
};

export type Summary = {
	readonly counts: Readonly<Record<EntryKind, number>>;
	readonly entries: number;
	/** Bytes allocated in the upper, hard links counted once. */
	readonly upperBytes: number;
	readonly upperInodes: number;
	/** Lower size of full copy-ups: bytes stored twice. */
	readonly duplicatedBytes: number;
	/** Lower size of metacopy files: bytes a full copy-up would have duplicated. */
	readonly metacopySavedBytes: number;
	readonly upperSpace?: SpaceFacts;
};

/** The one report every renderer (Ink, plain, JSON) draws from. */
export type Report = {
	readonly schema: 'ovl.inspect/v1';
	readonly mount: MountFacts;
	readonly summary: Summary;
	readonly entries: readonly Entry[];
	readonly findings: readonly Finding[];
	readonly changes?: ChangeSet;
};

export function summarize(
	entries: readonly Entry[],
	inodeKeys: readonly (string | undefined)[],
	space?: SpaceFacts,
): Summary {
	const tally = summaryTally();
	for (let i = 0; i < entries.length; i++) tally.add(entries[i] as Entry, inodeKeys[i]);
	return tally.result(space);
}

/**
 The summary, entry by entry in path order. An entry whose copy-up payload is settled later (a
 renamed copy-up's original, found once the whole upper is seen) is added as it stands and given
 again to `settle` with what `add` returned.
 */
export function summaryTally(): {
	add(e: Entry, inodeKey: string | undefined): boolean;
	settle(e: Entry, first: boolean): void;
	result(space?: SpaceFacts): Summary;
} {
	const counts = Object.fromEntries(entryKinds.map((k) => [k, 0])) as Record<EntryKind, number>;
	// Keys only for inodes with several links; any other entry is an inode of its own.
	const seen = new Set<string>();
	let single = 0;
	let entries = 0;
	let upperBytes = 0;
	let duplicatedBytes = 0;
	let metacopySavedBytes = 0;
	// Hard links share one copy: their bytes count once, for the first link met.
	const duplicated = (e: Entry): number =>
		e.kind === 'copy-up' && e.type === 'file' && e.copyUp && e.copyUp.fromLayer > 0 ? e.copyUp.lowerSize : 0;
	return {
		add(e, key) {
			entries++;
			counts[e.kind]++;
			const first = key === undefined || !seen.has(key);
			if (key === undefined) single++;
			else seen.add(key);
			if (first) upperBytes += e.bytes;
			if (first) duplicatedBytes += duplicated(e);
			if (e.kind === 'metacopy') metacopySavedBytes += e.metacopy?.lowerSize ?? 0;
			return first;
		},
		settle(e, first) {
			if (first) duplicatedBytes += duplicated(e);
		},
		result: (space) => ({
			counts: {...counts},
			entries,
			upperBytes,
			upperInodes: single + seen.size,
			duplicatedBytes,
			metacopySavedBytes,
			...(space ? {upperSpace: space} : {}),
		}),
	};
}

/** fsck-style findings over classified entries and facts; read-only, never fatal. */
export type FactsForFindings = {
	space?: SpaceFacts;
	incompat?: readonly string[];
	newestLowerMtimeMs?: number;
	mountedAt?: string;
	sharedWith?: readonly string[];
};

export function inspectFindings(entries: readonly Entry[], facts: FactsForFindings): Finding[] {
	const out: Finding[] = [];
	const byOrigin = new Map<string, string[]>();
	for (const e of entries) entryFindings(e, out, byOrigin);
	out.push(...factFindings(byOrigin, facts));
	return out;
}

/** The findings one entry gives, in entry order; redirect origins are gathered for factFindings. */
export function entryFindings(e: Entry, out: Finding[], byOrigin: Map<string, string[]>): void {
	if (e.kind === 'whiteout' && e.shadows.length === 0)
		out.push(
			finding(
				'OVL_ORPHAN_WHITEOUT',
				'warning',
				`whiteout ${e.path} hides nothing: no lower layer has that name`,
				'harmless, but a sign the lowers changed since it was made; remove it offline if you want a clean upper',
				e.path,
			),
		);
	if (e.kind === 'redirect-dir' && e.redirect) {
		if (e.redirect.originLayers.length === 0)
			out.push(
				finding(
					'OVL_DANGLING_REDIRECT',
					'error',
					`${e.path} redirects to ${e.redirect.origin}, which no lower layer has`,
					'the renamed directory lost its lower contents: were the lowers changed or swapped?',
					e.path,
				),
			);
		byOrigin.set(e.redirect.origin, [...(byOrigin.get(e.redirect.origin) ?? []), e.path]);
	}
	if (e.kind === 'xwhiteout')
		out.push(
			finding(
				'OVL_XWHITEOUT_IN_UPPER',
				'warning',
				`${e.path} is an xattr whiteout in the upper layer, where the kernel does not honour it (listed, but stat gives ENOENT)`,
				'replace it with a 0/0 char device (mknod c 0 0) offline, or remove it',
				e.path,
			),
		);
	if (e.kind === 'metacopy' && e.metacopy?.dataLayer === undefined)
		out.push(
			finding(
				'OVL_METACOPY_NO_DATA',
				'error',
				`${e.path} is a metadata-only copy whose data (${e.metacopy?.dataPath ?? e.path}) is in no lower layer: reading it fails`,
				'restore the lower layer that held it',
				e.path,
			),
		);
	if (e.kind === 'anomaly')
		out.push(
			finding(
				'OVL_ANOMALY',
				'warning',
				`${e.path}: ${e.reasons.join('; ')}`,
				'inspect it with getfattr -d -m - and ls -l',
				e.path,
			),
		);
}

/** The findings of the whole upper, after its entries' own. */
export function factFindings(byOrigin: ReadonlyMap<string, readonly string[]>, facts: FactsForFindings): Finding[] {
	const out: Finding[] = [];
	for (const [origin, paths] of byOrigin) {
		if (paths.length > 1)
			out.push(
				finding(
					'OVL_DUPLICATE_REDIRECT',
					'error',
					`${paths.join(' and ')} all redirect to ${origin}`,
					'two directories claim one origin: the upper was edited by hand or copied badly',
				),
			);
	}
	if (facts.incompat && facts.incompat.length > 0)
		out.push(
			finding(
				'OVL_WORK_INCOMPAT',
				'error',
				`work/work/incompat/${facts.incompat.join(', ')} is present: the next mount will be refused`,
				'a volatile mount was not cleanly unmounted; throw away upper and work, or remove work/work/incompat if you accept the risk',
			),
		);
	if (
		facts.mountedAt !== undefined &&
		facts.newestLowerMtimeMs !== undefined &&
		facts.newestLowerMtimeMs > Date.parse(facts.mountedAt)
	) {
		out.push(
			finding(
				'OVL_LOWER_CHANGED',
				'warning',
				`a lower layer changed after the overlay was mounted (${new Date(facts.newestLowerMtimeMs).toISOString()} > ${facts.mountedAt})`,
				'changes to lowers under a live overlay are undefined behaviour: remount to get a consistent view',
			),
		);
	}
	if (facts.sharedWith && facts.sharedWith.length > 0)
		out.push(
			finding(
				'OVL_UPPER_SHARED',
				'error',
				`this upper is also the upper of the overlay on ${facts.sharedWith.join(', ')}`,
				'two overlays writing one upper corrupt each other: unmount one',
			),
		);
	const sp = facts.space;
	if (sp && sp.blocksTotal > 0 && sp.blocksFree / sp.blocksTotal < 0.05)
		out.push(
			finding(
				'OVL_UPPER_LOW_SPACE',
				'warning',
				`the upper filesystem has ${((sp.blocksFree / sp.blocksTotal) * 100).toFixed(1)}% of its blocks free`,
				'copy-ups need room for whole files: free space or move the upper',
			),
		);
	if (sp && sp.inodesTotal > 0 && sp.inodesFree / sp.inodesTotal < 0.05)
		out.push(
			finding(
				'OVL_UPPER_LOW_INODES',
				'warning',
				`the upper filesystem has ${((sp.inodesFree / sp.inodesTotal) * 100).toFixed(1)}% of its inodes free`,
				'"no space left on device" with free blocks means inodes ran out',
			),
		);
	return out;
}

/** What to do about an xattr that could not be read, by its errno. */
export function xattrHint(code: string): string {
	if (code === 'ENEEDSNATIVE')
		return 'the name is not UTF-8 and the native helper is not built: npm rebuild ovl (see ovl doctor)';
	if (code === 'EACCES' || code === 'EPERM') return 'run as root: trusted.* xattrs are readable by root only';
	return 'check the filesystem (dmesg); the kernel may fail on this entry too';
}
