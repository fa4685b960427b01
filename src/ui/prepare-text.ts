import {printablePath} from '../core/bytes.js';
import type {Style} from './style.js';

export type Prepared = {
	readonly dir: string;
	readonly stackFile: string;
	readonly created: readonly string[];
	readonly seeded: readonly string[];
	readonly imported: readonly {
		file: string;
		layer: string;
		entries?: number;
		whiteouts?: number;
		opaques?: number;
		skipped?: string;
	}[];
	readonly stack: {
		readonly lowers: readonly {path: string}[];
		readonly upper?: string | undefined;
		readonly work?: string | undefined;
		readonly merged: string;
	};
	/** The stack file already said this. */
	readonly unchanged: boolean;
	/** The directory as the user named it, for the next command. */
	readonly next: string;
};

/** What `ovl prepare` laid out, and the command to run next. */
export function preparedText(p: Prepared, s: Style): string {
	const st = p.stack;
	const lines = [
		s.bold(`prepared ${printablePath(p.dir)}`),
		`  lowers (bottom → top): ${st.lowers.map((l) => l.path).join(', ')}`,
	];
	if (st.upper !== undefined) lines.push(`  upper: ${st.upper}   work: ${st.work ?? '-'}`);
	lines.push(`  mount point: ${st.merged}`);
	lines.push(`  stack file: ${printablePath(p.stackFile)}${p.unchanged ? ' (unchanged)' : ''}`);
	lines.push(`  ${p.created.length} created, ${p.seeded.length} seeded file(s) written`);
	for (const t of p.imported) {
		const what = t.skipped ?? `${t.entries} entries, ${t.whiteouts} whiteout(s), ${t.opaques} opaque dir(s)`;
		lines.push(`  ${t.layer} ← ${printablePath(t.file)}: ${what}`);
	}
	lines.push(`next: ovl mount ${printablePath(p.next)}`);
	return `${lines.join('\n')}\n`;
}
