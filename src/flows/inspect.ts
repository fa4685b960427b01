import {exitCodes} from '../core/exit-codes.js';
import {classifyEntry, linkOrigins} from '../core/classify.js';
import {diffEntries, originInode, type ChangeSet} from '../core/diff.js';
import type {Entry, EntryKind} from '../core/entry.js';
import {OvlError} from '../core/errors.js';
import {finding} from '../core/finding.js';
import {inspectFindings, summarize, xattrHint, type Report} from '../core/report.js';
import {journalPath} from '../core/journal-path.js';
import {upperSpace, workIncompat, type Located} from '../io/locate.js';
import {lstatPath} from '../io/walk-fs.js';
import {scanLayers, type ScanInput, type ScanResult} from '../io/scan.js';
import type {ScanPort} from '../io/scan-port.js';

export type InspectOptions = {
	readonly withChanges: boolean;
	readonly content?: boolean;
	readonly onProgress?: (scanned: number, dir: string) => void;
	/** The scanner (default: native when built); tests run both on the same overlay. */
	readonly port?: ScanPort;
};

/** What an upper holds, classified: the start of every view of it (inspect, diff, docker, lab). */
export type Observed = {
	readonly scan: ScanResult;
	/** Classified, origins linked, hard-link groups named; in scan order. */
	readonly entries: readonly Entry[];
	/** `dev:ino` of each entry with more than one link (a dir's or a single link's inode is its own), for the summary's hard-link accounting. */
	readonly inodeKeys: readonly (string | undefined)[];
};

/** scan → classify → link origins → hard-link groups. Reads only. */
export async function observeUpper(input: ScanInput, port?: ScanPort): Promise<Observed> {
	const scan = await scanLayers(input, port);
	const entries = linkOrigins(scan.entries.map(classifyEntry), scan.entries, originInode);
	// Only an inode with more than one link can be met twice: keys (and groups) for those alone.
	const inodeKeys: (string | undefined)[] = new Array<string | undefined>(entries.length);
	const group = new Map<string, string[]>();
	scan.entries.forEach((e, i) => {
		if (e.stat.nlink < 2 || e.stat.type === 'dir') return;
		const key = `${e.stat.dev}:${e.stat.ino}`;
		inodeKeys[i] = key;
		// Whiteouts are all links of one shared inode in work/: not a hard-link group worth listing.
		if (e.stat.type === 'char' && e.stat.rdev === 0) return;
		const members = group.get(key);
		if (members) members.push(e.path);
		else group.set(key, [e.path]);
	});
	const grouped = entries.map((e, i) => {
		if (!e.hardlink || e.kind === 'whiteout') return e;
		const members = group.get(inodeKeys[i] as string) ?? [e.path];
		return {...e, reasons: [...e.reasons, hardLinkReason(e, members)], hardlink: {...e.hardlink, group: members}};
	});
	return {scan, entries: grouped, inodeKeys};
}

function hardLinkReason(e: Entry, members: readonly string[]): string {
	const others = members.filter((p) => p !== e.path);
	const shown =
		others.length > 4 ? `${others.slice(0, 4).join(', ')} and ${others.length - 4} more` : others.join(', ');
	const also = others.length > 0 ? ` (also ${shown} in the upper)` : '';
	const indexed = e.hardlink?.indexed ? `, indexed (nlink=${e.xattrs['nlink'] ?? ''})` : '';
	return `hard link, nlink ${e.hardlink?.nlink ?? 1}${also}${indexed}`;
}

/** The change set (A/C/D/R) of an observation made with `forDiff`. */
export const changeSet = (o: Observed): ChangeSet => diffEntries(o.scan.entries, o.entries);

/** `ovl inspect` and `ovl diff`: locate's result → observation → summary, findings (→ change set). */
export async function inspectFlow(located: Located, options: InspectOptions): Promise<Report> {
	if (located.upper === undefined) {
		throw new OvlError(
			'OVL_NO_UPPER',
			'this overlay has no upper layer (read-only): nothing was written, so there is nothing to classify',
			'ovl ls shows its lower layers',
			{exitCode: exitCodes.usage},
		);
	}
	const observed = await observeUpper(
		{
			upper: located.upper,
			lowers: located.lowers,
			ns: located.facts.xattrNamespace,
			content: options.content ?? false,
			forDiff: options.withChanges,
			...(options.onProgress ? {onProgress: options.onProgress} : {}),
		},
		options.port,
	);
	const {scan, entries} = observed;
	const [space, incompat] = await Promise.all([upperSpace(located.upper), workIncompat(located.work)]);
	const findings = [
		...inspectFindings(entries, {
			...(space ? {space} : {}),
			incompat,
			newestLowerMtimeMs: scan.newestLowerMtimeMs,
			...(located.facts.mountedAt ? {mountedAt: located.facts.mountedAt} : {}),
			...(located.facts.sharedWith ? {sharedWith: located.facts.sharedWith} : {}),
		}),
		...scan.xattrErrors.map((x) =>
			finding(
				'OVL_XATTR_UNREADABLE',
				'error',
				`${x.path}: its xattrs could not be read (${x.code}); its classification may be wrong`,
				xattrHint(x.code),
				x.path,
			),
		),
		...(commitPending(located.upper)
			? [
					finding(
						'OVL_COMMIT_PENDING',
						'warning',
						`a commit of this upper stopped part-way (${journalPath(located.upper)}): the lower is partly changed`,
						'finish it with ovl commit --resume, or roll it back with --abort (the same stack dir or --upper/--lower)',
					),
				]
			: []),
		...scan.problems.map((p) =>
			finding(
				'OVL_SCAN_PROBLEM',
				'warning',
				`${p.path}: ${p.message}`,
				'the upper changed while ovl read it; run again for a consistent view',
				p.path,
			),
		),
	];
	return {
		schema: 'ovl.inspect/v1',
		mount: located.facts,
		summary: summarize(entries, observed.inodeKeys, space),
		entries: [...entries],
		findings,
		...(options.withChanges ? {changes: changeSet(observed)} : {}),
	};
}

const commitPending = (upper: string): boolean => lstatPath(journalPath(upper)) !== undefined;

export function filterKinds(report: Report, kinds: readonly EntryKind[]): Report {
	if (kinds.length === 0) return report;
	return {...report, entries: report.entries.filter((e) => kinds.includes(e.kind))};
}
