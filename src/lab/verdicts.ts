import {lstatSync, readFileSync} from 'node:fs';
import type {EntryKind} from '../core/entry.js';
import type {Expectation, Step} from './experiment.js';
import {safeJoin, type OpResult} from './ops.js';

// What a lab step observed, and how its expectations are judged against it.

export type Verdict = {readonly expect: string; readonly ok: boolean; readonly detail: string};
export type UpperChange = {
	readonly change: '+' | '~' | '-';
	readonly path: string;
	readonly kind?: EntryKind;
	readonly was?: EntryKind;
};
export type UpperState = Map<string, {kind: EntryKind; size: number; mtimeMs: number; perm: number}>;

export function delta(before: UpperState, after: UpperState): UpperChange[] {
	const out: UpperChange[] = [];
	for (const [p, a] of after) {
		const b = before.get(p);
		if (!b) out.push({change: '+', path: p, kind: a.kind});
		else if (b.kind !== a.kind || b.size !== a.size || b.mtimeMs !== a.mtimeMs || b.perm !== a.perm)
			out.push({change: '~', path: p, kind: a.kind, ...(b.kind !== a.kind ? {was: b.kind} : {})});
	}
	for (const [p, b] of before) if (!after.has(p)) out.push({change: '-', path: p, was: b.kind});
	return out;
}

export type CheckContext = {
	errno: string | undefined;
	error: string | undefined;
	result: OpResult | undefined;
	upperDelta: readonly UpperChange[];
	upperAfter: UpperState;
	lowerSame: () => boolean;
	merged: string;
	mounted: boolean;
	/** The change set after the step; computed only when the step expects one. */
	diff: readonly {op: string; path: string}[] | undefined;
};

function readMerged(merged: string, rel: string): string | null {
	const p = safeJoin(merged, rel.replace(/^\/+/, ''), true);
	if (lstatSync(p, {throwIfNoEntry: false}) === undefined) return null;
	const st = lstatSync(p);
	return st.isFile() ? readFileSync(p, 'utf8') : `<${st.isDirectory() ? 'dir' : 'special'}>`;
}

/** Judges one step's expectations against what was observed. */
export function check(step: Step, c: CheckContext): Verdict[] {
	const e: Expectation = step.expect ?? {};
	const out: Verdict[] = [];
	if (e.errno !== undefined)
		out.push({
			expect: `fails with ${e.errno}`,
			ok: c.errno === e.errno,
			detail: c.errno ? `failed with ${c.errno}` : c.error ? c.error : 'succeeded',
		});
	else if (c.error !== undefined) out.push({expect: 'succeeds', ok: false, detail: c.error});
	if (e.content !== undefined) {
		const got = c.result?.content ?? ('path' in step.op ? readMerged(c.merged, step.op.path) : null);
		out.push({
			expect: `content ${JSON.stringify(e.content)}`,
			ok: got === e.content,
			detail: `got ${JSON.stringify(got)}`,
		});
	}
	if (e.listing !== undefined) {
		const got = c.result?.listing ?? [];
		out.push({
			expect: `listing [${e.listing.join(', ')}]`,
			ok: JSON.stringify(got) === JSON.stringify([...e.listing].sort()),
			detail: `got [${got.join(', ')}]`,
		});
	}
	for (const [p, want] of Object.entries(e.merged ?? {})) {
		const got = c.mounted ? readMerged(c.merged, p) : null;
		out.push({
			expect: want === null ? `merged/${p} absent` : `merged/${p} = ${JSON.stringify(want)}`,
			ok: got === want,
			detail: got === null ? 'absent' : `got ${JSON.stringify(got)}`,
		});
	}
	for (const [p, want] of Object.entries(e.upper ?? {})) {
		const got = c.upperAfter.get(p)?.kind ?? null;
		out.push({
			expect: want === null ? `upper${p} absent` : `upper${p} is ${want}`,
			ok: got === want,
			detail: got === null ? 'absent' : got,
		});
	}
	if (e.upperUnchanged !== undefined)
		out.push({
			expect: e.upperUnchanged ? 'upper unchanged' : 'upper changed',
			ok: (c.upperDelta.length === 0) === e.upperUnchanged,
			detail: c.upperDelta.length === 0 ? 'no change' : c.upperDelta.map((d) => `${d.change}${d.path}`).join(' '),
		});
	if (e.lowerUnchanged)
		out.push({
			expect: 'lower layers unchanged',
			ok: c.lowerSame(),
			detail: c.lowerSame() ? 'identical metadata' : 'a lower layer changed',
		});
	if (e.diff) {
		const changes = c.diff ?? [];
		for (const op of ['A', 'C', 'D'] as const) {
			for (const p of e.diff[op] ?? []) {
				const hit = changes.find((x) => x.path === p);
				out.push({
					expect: `diff ${op} ${p}`,
					ok: hit?.op === op,
					detail: hit ? `${hit.op} ${p}` : 'not in the change set',
				});
			}
		}
	}
	return out;
}
