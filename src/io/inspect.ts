import {exitCodes} from '../core/exit-codes.js';
import {classifyEntry, linkOrigins} from '../core/classify.js';
import {diffEntries, originInode} from '../core/diff.js';
import type {EntryKind} from '../core/entry.js';
import {OvlError} from '../core/errors.js';
import {inspectFindings, summarize, type Report} from '../core/report.js';
import {upperSpace, workIncompat, type Located} from './locate.js';
import {scanLayers} from './scan.js';

export type InspectOptions = {
	readonly withChanges: boolean;
	readonly content?: boolean;
	readonly onProgress?: (scanned: number, dir: string) => void;
};

/** locate → scan → classify → summarise → findings (→ change set). */
export async function buildReport(located: Located, options: InspectOptions): Promise<Report> {
	if (located.upper === undefined) {
		throw new OvlError(
			'OVL_NO_UPPER',
			'this overlay has no upper layer (read-only): nothing was written, so there is nothing to classify',
			'ovl ls shows its lower layers',
			{exitCode: exitCodes.usage},
		);
	}
	const scan = scanLayers({
		upper: located.upper,
		lowers: located.lowers,
		ns: located.facts.xattrNamespace,
		content: options.content ?? false,
		forDiff: options.withChanges,
		...(options.onProgress ? {onProgress: options.onProgress} : {}),
	});
	const entries = linkOrigins(scan.entries.map(classifyEntry), scan.entries, originInode);
	const inodeKeys = scan.entries.map((e) => `${e.stat.dev}:${e.stat.ino}`);
	const group = new Map<string, string[]>();
	scan.entries.forEach((e, i) => {
		// Whiteouts are all links of one shared inode in work/: not a hard-link group worth listing.
		if (e.stat.nlink > 1 && e.stat.type !== 'dir' && !(e.stat.type === 'char' && e.stat.rdev === 0))
			group.set(inodeKeys[i] as string, [...(group.get(inodeKeys[i] as string) ?? []), e.path]);
	});
	const withGroups = entries.map((e, i) => {
		if (!e.hardlink || e.kind === 'whiteout') return e;
		const members = group.get(inodeKeys[i] as string) ?? [e.path];
		const others = members.filter((p) => p !== e.path);
		const shown =
			others.length > 4 ? `${others.slice(0, 4).join(', ')} and ${others.length - 4} more` : others.join(', ');
		const reason = `hard link, nlink ${e.hardlink.nlink}${others.length > 0 ? ` (also ${shown} in the upper)` : ''}${e.hardlink.indexed ? `, indexed (nlink=${e.xattrs['nlink'] ?? ''})` : ''}`;
		return {...e, reasons: [...e.reasons, reason], hardlink: {...e.hardlink, group: members}};
	});
	const [space, incompat] = await Promise.all([upperSpace(located.upper), workIncompat(located.work)]);
	const findings = [
		...inspectFindings(withGroups, {
			...(space ? {space} : {}),
			incompat,
			newestLowerMtimeMs: scan.newestLowerMtimeMs,
			...(located.facts.mountedAt ? {mountedAt: located.facts.mountedAt} : {}),
			...(located.facts.sharedWith ? {sharedWith: located.facts.sharedWith} : {}),
		}),
		...scan.xattrErrors.map((x) => ({
			code: 'OVL_XATTR_UNREADABLE',
			severity: 'error' as const,
			message: `${x.path}: its xattrs could not be read (${x.code}); its classification may be wrong`,
			hint: xattrHint(x.code),
			path: x.path,
		})),
		...scan.problems.map((p) => ({
			code: 'OVL_SCAN_PROBLEM',
			severity: 'warning' as const,
			message: `${p.path}: ${p.message}`,
			hint: 'the upper changed while ovl read it; run again for a consistent view',
			path: p.path,
		})),
	];
	return {
		schema: 'ovl.inspect/v1',
		mount: located.facts,
		summary: summarize(withGroups, inodeKeys, space),
		entries: withGroups,
		findings,
		...(options.withChanges ? {changes: diffEntries(scan.entries, entries)} : {}),
	};
}

export function filterKinds(report: Report, kinds: readonly EntryKind[]): Report {
	if (kinds.length === 0) return report;
	return {...report, entries: report.entries.filter((e) => kinds.includes(e.kind))};
}

export function xattrHint(code: string): string {
	if (code === 'ENEEDSNATIVE')
		return 'the name is not UTF-8 and the native helper is not built: npm rebuild ovl (see ovl doctor)';
	if (code === 'EACCES' || code === 'EPERM') return 'run as root: trusted.* xattrs are readable by root only';
	return 'check the filesystem (dmesg); the kernel may fail on this entry too';
}
