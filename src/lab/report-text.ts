import type {LabReport, StepResult} from '../flows/lab-run.js';

const ms = (n: number): string => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 10 ? 2 : 1)} ms`);

function resultText(r: StepResult): string | undefined {
	if (r.result?.content !== undefined) return `read ${JSON.stringify(r.result.content)}`;
	if (r.result?.listing !== undefined) return `[${r.result.listing.join(', ')}]`;
	if (r.result?.walked !== undefined) return `${r.result.walked} entries looked up`;
	if (r.errno) return `errno ${r.errno}`;
	return undefined;
}

const deltaText = (r: StepResult): string =>
	r.upperDelta
		.map((d) => `${d.change}${d.path}${d.kind ? ` ${d.kind}` : ''}${d.was ? ` (was ${d.was})` : ''}`)
		.join(', ');

/**
 Step ids of the form COLUMN-ROW (first-4k, second-4k, depth-10…) make a timing table: one row
 per ROW, one column per COLUMN, plus the ratio of the first two columns.
 */
export function timingTable(
	r: LabReport,
): {columns: string[]; rows: {key: string; cells: (number | undefined)[]; ratio?: number}[]} | undefined {
	const cells = new Map<string, Map<string, number>>();
	const columns: string[] = [];
	for (const s of r.steps) {
		const m = /^([a-z]+)-(.+)$/.exec(s.id);
		if (!m) continue;
		const [, col, row] = m as unknown as [string, string, string];
		if (!columns.includes(col)) columns.push(col);
		if (!cells.has(row)) cells.set(row, new Map());
		cells.get(row)?.set(col, s.durationMs);
	}
	const rows = [...cells].filter(([, c]) => c.size > 0);
	if (rows.length < 2) return undefined;
	return {
		columns,
		rows: rows.map(([key, c]) => {
			const values = columns.map((col) => c.get(col));
			const [a, b] = values;
			return {key, cells: values, ...(a !== undefined && b !== undefined && b > 0 ? {ratio: a / b} : {})};
		}),
	};
}

function tableLines(r: LabReport): string[] {
	const t = timingTable(r);
	if (!t) return [];
	const ratio = t.columns.length >= 2;
	const head = ['', ...t.columns, ...(ratio ? [`${t.columns[0]}/${t.columns[1]}`] : [])];
	const body = t.rows.map((row) => [
		row.key,
		...row.cells.map((c) => (c === undefined ? '-' : ms(c))),
		...(ratio ? [row.ratio === undefined ? '-' : `${row.ratio.toFixed(1)}×`] : []),
	]);
	const widths = head.map((_, i) => Math.max(...[head, ...body].map((l) => (l[i] ?? '').length)));
	return ['timings:', ...[head, ...body].map((l) => `  ${l.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ')}`)];
}

/** The report as plain text: header, then each step with its observation and verdicts. */
export function labText(r: LabReport): string {
	const lines = [
		`ovl lab: ${r.experiment} — ${r.passed ? 'PASSED' : 'FAILED'} (${r.steps.length} steps, ${ms(r.durationMs)})`,
		`kernel ${r.kernel} · ${r.utilLinux} · ${r.userNamespace ? 'user namespace (userxattr)' : 'root'} · options ${r.options.join(',') || '(none)'}${r.strategy ? ` · strategy ${r.strategy}` : ''}`,
	];
	if (r.description) lines.push(r.description);
	for (const [i, s] of r.steps.entries()) {
		lines.push(`${s.ok ? '✓' : '✗'} ${String(i + 1).padStart(2)} ${s.label}  [${s.op}] ${ms(s.durationMs)}`);
		const res = resultText(s);
		if (res) lines.push(`       ${res}`);
		if (s.upperDelta.length > 0) lines.push(`       upper: ${deltaText(s)}`);
		for (const v of s.verdicts) lines.push(`       ${v.ok ? '✓' : '✗'} ${v.expect}: ${v.detail}`);
	}
	lines.push(...tableLines(r));
	if (r.kept)
		lines.push(
			`kept: ${r.root} (still mounted on ${r.root}/merged; undo with: umount ${r.root}/merged && rm -r ${r.root})`,
		);
	return `${lines.join('\n')}\n`;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, '⏎');

/** A shareable Markdown report. */
export function labMarkdown(r: LabReport): string {
	const out = [
		`# ovl lab: ${r.experiment} — ${r.passed ? 'passed' : 'FAILED'}`,
		'',
		r.description,
		'',
		`- kernel: \`${r.kernel}\``,
		`- mount: ${r.utilLinux}`,
		`- privileges: ${r.userNamespace ? 'user namespace (userxattr)' : 'root'}`,
		`- options: \`${r.options.join(',') || '(none)'}\`${r.strategy ? `, strategy ${r.strategy}` : ''}`,
		`- run: ${r.startedAt}, ${ms(r.durationMs)}`,
		'',
		'| # | step | operation | time | observed | upper | expectations |',
		'|---|---|---|---|---|---|---|',
		...r.steps.map((s, i) => {
			const verdicts = s.verdicts.map((v) => `${v.ok ? '✓' : '✗'} ${cell(v.expect)} (${cell(v.detail)})`);
			const observed = `${cell(resultText(s) ?? '')} | ${cell(deltaText(s))}`;
			return `| ${i + 1} | ${cell(s.label)} | \`${cell(s.op)}\` | ${ms(s.durationMs)} | ${observed} | ${verdicts.join('<br>')} |`;
		}),
		'',
	];
	const lines = tableLines(r);
	if (lines.length > 0) out.push('```', ...lines, '```', '');
	return `${out.join('\n')}\n`;
}
