import {exitCodes} from '../core/exit-codes.js';
import {classifyEntry, isOrphanCopy, linkOrigin, noteLowerInodes, type OriginHit} from '../core/classify.js';
import {changeSetBuilder, diffEntries, originInode, type ChangeSet} from '../core/diff.js';
import type {Entry, EntryKind, ScannedEntry} from '../core/entry.js';
import {OvlError} from '../core/errors.js';
import {finding} from '../core/finding.js';
import {entryFindings, factFindings, summaryTally, xattrHint, type Report} from '../core/report.js';
import type {Finding} from '../core/types.js';
import {journalPath} from '../core/journal-path.js';
import {upperSpace, workIncompat, type Located} from '../io/locate.js';
import {lstatPath} from '../io/walk-fs.js';
import {scanInChunks, type ScanInput, type ScanResult, type ScanTotals} from '../io/scan.js';
import type {ScanPort} from '../io/scan-port.js';

export type InspectOptions = {
	readonly withChanges: boolean;
	readonly content?: boolean;
	readonly onProgress?: (scanned: number, dir: string) => void;
	/** The scanner (default: native when built); tests run both on the same overlay. */
	readonly port?: ScanPort;
	/** Entries per scan chunk (see ScanInput.chunk). */
	readonly chunk?: number;
};

/** What an upper holds, classified: the start of every view of it (inspect, diff, docker, lab). */
export type Observed = {
	readonly scan: ScanResult;
	/** Classified, origins linked, hard-link groups named; in scan order. */
	readonly entries: readonly Entry[];
};

/**
 Where observed entries go, one by one in path order. A held entry is provisional: a renamed
 copy-up whose lower original only the whole upper can name; its final form comes to `settle`,
 by its number in the order, once every entry has been given.
 */
export type EntrySink = {
	entry(e: Entry, raw: ScannedEntry, inodeKey: string | undefined, held: boolean): void;
	settle(index: number, e: Entry): void;
};

/** scan → classify → link origins → hard-link groups, a chunk at a time. Reads only. */
export async function observeInto(input: ScanInput, sink: EntrySink, port?: ScanPort): Promise<ScanTotals> {
	let linked: ReadonlyMap<string, readonly string[]> = new Map();
	let wanted: ReadonlySet<number> = new Set();
	// The lower files entries shadow whose inode some origin names, for linkOrigin at the end.
	const byInode = new Map<number, OriginHit>();
	const held: {index: number; e: Entry; raw: ScannedEntry; key: string | undefined}[] = [];
	let index = 0;
	const grouped = (e: Entry, key: string | undefined): Entry => {
		if (!e.hardlink || e.kind === 'whiteout') return e;
		const members = (key === undefined ? undefined : linked.get(key)) ?? [e.path];
		return {...e, reasons: [...e.reasons, hardLinkReason(e, members)], hardlink: {...e.hardlink, group: members}};
	};
	const totals = await scanInChunks(input, port, {
		preview(p) {
			linked = p.linked;
			wanted = new Set(p.origins.map(originInode).filter((ino) => ino !== undefined));
		},
		chunk(raws) {
			for (const raw of raws) {
				if (wanted.size > 0) noteLowerInodes(raw, byInode, wanted);
				const e = classifyEntry(raw);
				// Only an inode with more than one link can be met twice: keys (and groups) for those alone.
				const key = raw.stat.nlink > 1 && raw.stat.type !== 'dir' ? `${raw.stat.dev}:${raw.stat.ino}` : undefined;
				const orphan = isOrphanCopy(e);
				if (orphan) held.push({index, e, raw, key});
				sink.entry(orphan ? e : grouped(e, key), raw, key, orphan);
				index++;
			}
		},
	});
	for (const h of held) sink.settle(h.index, grouped(linkOrigin(h.e, h.raw, byInode, originInode), h.key));
	return totals;
}

/** observeInto, every entry kept. */
export async function observeUpper(input: ScanInput, port?: ScanPort): Promise<Observed> {
	const raws: ScannedEntry[] = [];
	const entries: Entry[] = [];
	const totals = await observeInto(
		input,
		{
			entry(e, raw) {
				entries.push(e);
				raws.push(raw);
			},
			settle(index, e) {
				entries[index] = e;
			},
		},
		port,
	);
	return {scan: {...totals, entries: raws}, entries};
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

/** An inspect report without its entries, which went to a sink as they came. */
export type ReportHead = Omit<Report, 'entries' | 'changes'>;

/**
 `ovl inspect`'s report with its entries given to `sink` one by one, in path order, as they are
 classified: the summary and the findings are made in the same pass.
 */
export async function inspectInto(
	located: Located,
	options: Omit<InspectOptions, 'withChanges'> & {readonly forDiff?: boolean},
	sink: EntrySink,
): Promise<ReportHead> {
	if (located.upper === undefined) {
		throw new OvlError(
			'OVL_NO_UPPER',
			'this overlay has no upper layer (read-only): nothing was written, so there is nothing to classify',
			'ovl ls shows its lower layers',
			{exitCode: exitCodes.usage},
		);
	}
	const tally = summaryTally();
	const own: Finding[] = [];
	const byOrigin = new Map<string, string[]>();
	// Whether each held entry was its inode's first link: its settled bytes count only then.
	const firsts = new Map<number, boolean>();
	let index = 0;
	const scan = await observeInto(
		{
			upper: located.upper,
			lowers: located.lowers,
			ns: located.facts.xattrNamespace,
			content: options.content ?? false,
			forDiff: options.forDiff ?? false,
			...(options.chunk ? {chunk: options.chunk} : {}),
			...(options.onProgress ? {onProgress: options.onProgress} : {}),
		},
		{
			entry(e, raw, key, held) {
				const first = tally.add(e, key);
				if (held) firsts.set(index, first);
				// A held entry's kind is final already (linkOrigin changes its copy-up payload only).
				entryFindings(e, own, byOrigin);
				index++;
				sink.entry(e, raw, key, held);
			},
			settle(i, e) {
				tally.settle(e, firsts.get(i) ?? false);
				sink.settle(i, e);
			},
		},
		options.port,
	);
	const [space, incompat] = await Promise.all([upperSpace(located.upper), workIncompat(located.work)]);
	const findings = [
		...own,
		...factFindings(byOrigin, {
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
	return {schema: 'ovl.inspect/v1', mount: located.facts, summary: tally.result(space), findings};
}

/** `ovl inspect`: locate's result → observation → summary, findings (→ change set). */
export async function inspectFlow(located: Located, options: InspectOptions): Promise<Report> {
	const entries: Entry[] = [];
	const changes = options.withChanges ? changeSetBuilder() : undefined;
	const head = await inspectInto(
		located,
		{...options, forDiff: options.withChanges},
		{
			entry(e, raw) {
				entries.push(e);
				changes?.add(raw, e);
			},
			settle(index, e) {
				entries[index] = e;
			},
		},
	);
	const {schema, mount, summary, findings} = head;
	return {schema, mount, summary, entries, findings, ...(changes ? {changes: changes.result()} : {})};
}

/**
 `ovl diff`: the change set and the findings, the entries let go as they come. A held entry goes
 to the change set when it is given: settling changes its copy-up payload, which the set never reads.
 */
export async function diffFlow(
	located: Located,
	options: Omit<InspectOptions, 'withChanges'>,
): Promise<{readonly head: ReportHead; readonly changes: ChangeSet}> {
	const changes = changeSetBuilder();
	const head = await inspectInto(
		located,
		{...options, forDiff: true},
		{entry: (e, raw) => changes.add(raw, e), settle() {}},
	);
	return {head, changes: changes.result()};
}

const commitPending = (upper: string): boolean => lstatPath(journalPath(upper)) !== undefined;

export function filterKinds(report: Report, kinds: readonly EntryKind[]): Report {
	if (kinds.length === 0) return report;
	return {...report, entries: report.entries.filter((e) => kinds.includes(e.kind))};
}
