import {setFlagsFromString} from 'node:v8';
import {writeJson, type Context} from '../context.js';
import {entryKinds, type EntryKind} from '../core/entry.js';
import {UsageError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import type {Report} from '../core/report.js';
import {diffFlow, filterKinds, inspectFlow, inspectInto} from '../flows/inspect.js';
import {JsonSpool} from '../io/json-spool.js';
import {locateMount, locateOffline, type Located} from '../io/locate.js';
import {scanProgress} from '../ui/progress.js';
import {emit} from '../output.js';
import {overlayTarget} from './overlay-target.js';

// The views (report-view and the text of findings and changes) load only for people: --json,
// what scripts run on big uppers, does without them.

export type LayerArgs = {
	readonly merged: string | undefined;
	readonly upper: string | undefined;
	readonly lowers: readonly string[];
	readonly work: string | undefined;
	readonly userxattr: boolean;
	readonly root: string | undefined;
};

export async function locate(o: LayerArgs, ctx: Context): Promise<Located> {
	if (o.upper !== undefined || o.lowers.length > 0) {
		if (o.merged !== undefined)
			throw new UsageError(
				'give either a mount point or --upper/--lower, not both',
				'ovl inspect MERGED, or ovl inspect --upper U --lower L1 --lower L2',
			);
		if (o.upper === undefined || o.lowers.length === 0)
			throw new UsageError(
				'offline inspection needs --upper and at least one --lower (bottom → top)',
				'e.g. ovl inspect --upper demo/upper --lower demo/lower1 --lower demo/lower2',
			);
		return locateOffline(o.upper, o.lowers, o.work, o.userxattr);
	}
	if (o.merged === undefined)
		throw new UsageError('name an overlay mount point, or give --upper and --lower', 'ovl ls lists the overlay mounts');
	// A stack dir (what `ovl mount DIR` took) means the overlay its ovl.yaml mounts.
	const target = await overlayTarget(o.merged, ctx.cwd, await ctx.deps.mountinfo());
	return locateMount(target, o.root, ctx.deps.registry);
}

function parseKinds(list: readonly string[]): EntryKind[] {
	const kinds = list.flatMap((k) => k.split(',')).filter((k) => k !== '');
	const bad = kinds.filter((k) => !(entryKinds as readonly string[]).includes(k));
	if (bad.length > 0) throw new UsageError(`unknown kind ${bad.join(', ')}`, `kinds: ${entryKinds.join(', ')}`);
	return kinds as EntryKind[];
}

const strictExit = (report: Pick<Report, 'findings'>, strict: boolean): number =>
	strict && report.findings.some((f) => f.severity === 'error') ? exitCodes.failure : exitCodes.ok;

/**
 inspect --json: entries are written to a spool as they are classified, and the document (summary
 first, as ever) is written around them: memory holds one chunk of 10⁶ entries, not all of them.
 */
async function inspectJson(located: Located, kinds: readonly EntryKind[], ctx: Context): Promise<Report['findings']> {
	// A chunk's objects die with it, but V8 sees the first ones (made while the walk's long-lived
	// data is) survive, pretenures their allocation sites, and the later ones pile up in old space
	// until a full GC: 520 MB of garbage on a 10⁶-entry upper. Without pretenuring they die young.
	setFlagsFromString('--no-allocation-site-pretenuring');
	const spool = new JsonSpool('  ');
	try {
		const shown = (e: {kind: EntryKind}): boolean => kinds.length === 0 || kinds.includes(e.kind);
		const slots = new Map<number, number>();
		let index = 0;
		const head = await inspectInto(
			located,
			{},
			{
				entry(e, _raw, _key, held) {
					if (shown(e)) {
						if (held) slots.set(index, spool.hold());
						else spool.add(e);
					}
					index++;
				},
				settle(i, e) {
					const slot = slots.get(i);
					if (slot !== undefined) spool.settle(slot, e);
				},
			},
		);
		writeJson(ctx, {
			schema: head.schema,
			mount: head.mount,
			summary: head.summary,
			entries: spool,
			findings: head.findings,
		});
		return head.findings;
	} finally {
		spool.close();
	}
}

/** `ovl inspect`: classify every upper entry and explain it. */
export async function inspectCommand(
	o: LayerArgs & {kinds: readonly string[]; strict: boolean},
	ctx: Context,
): Promise<number> {
	const kinds = parseKinds(o.kinds);
	const located = await locate(o, ctx);
	if (ctx.mode === 'json') return strictExit({findings: await inspectJson(located, kinds, ctx)}, o.strict);
	const progress = scanProgress(ctx.stderrTTY, ctx.err);
	const full = await inspectFlow(located, {withChanges: false, onProgress: progress.onProgress});
	progress.done();
	const report = filterKinds(full, kinds);
	const {showReport} = await import('./report-view.js');
	await showReport(ctx, report, {json: report, located, all: full});
	return strictExit(report, o.strict);
}

/** The text of changes and findings, loaded when a person or a pipe will read it. */
async function textViews(): Promise<{
	plainChanges: typeof import('../ui/inspect-text.js').plainChanges;
	formatFindings: typeof import('../ui/findings.js').formatFindings;
}> {
	const [{plainChanges}, {formatFindings}] = await Promise.all([
		import('../ui/inspect-text.js'),
		import('../ui/findings.js'),
	]);
	return {plainChanges, formatFindings};
}

/** `ovl diff`: Added / Changed / Deleted / Renamed between the lowers and the merged view. */
export async function diffCommand(
	o: LayerArgs & {all: boolean; strict: boolean; content: boolean},
	ctx: Context,
): Promise<number> {
	const progress = scanProgress(ctx.mode !== 'json' && ctx.stderrTTY, ctx.err);
	const {head, changes: set} = await diffFlow(await locate(o, ctx), {
		content: o.content,
		onProgress: progress.onProgress,
	});
	progress.done();
	const {mount, findings} = head;
	const text = ctx.mode === 'json' ? undefined : await textViews();
	emit(ctx, {
		json: {schema: 'ovl.diff/v1', mount, changes: set.changes, renames: set.renames, findings},
		plain: () => (text ? {out: text.plainChanges(set, o.all), err: text.formatFindings(findings, ctx.style)} : {}),
	});
	return strictExit(head, o.strict);
}
