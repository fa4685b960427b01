import type {Context} from '../context.js';
import {loadReactModule} from '../ui/load-react.js';
import type {Report} from '../core/report.js';
import {layerDetails} from '../io/layer-details.js';
import type {Located} from '../io/locate.js';
import {lowerListing} from '../io/lower-listing.js';
import {emit} from '../output.js';
import {formatFindings} from '../ui/findings.js';
import {humanReport, plainEntries} from '../ui/inspect-text.js';
import {originOf} from '../ui/model.js';

/**
 An inspect report, shown as `ovl inspect` and `ovl docker inspect` both show it: the explorer
 for a person at a terminal, else text (all entries when piped, a screenful for a person) with
 the findings on stderr, or `json`. `all` is the unfiltered report the explorer's lower view uses.
 */
export async function showReport(
	ctx: Context,
	report: Report,
	o: {readonly json: unknown; readonly located: Located; readonly title?: string; readonly all?: Report},
): Promise<void> {
	const {located} = o;
	if (ctx.interactive) {
		const {runExplorer} = await loadReactModule(() => import('../ui/render.js'));
		await runExplorer(
			report,
			() => lowerListing(located.lowers, (o.all ?? report).entries, located.facts.xattrNamespace),
			(node) => {
				const origin = node.entry ? originOf(node.entry, located.facts.layers)?.path : undefined;
				return layerDetails(located.facts.layers, node.path, origin);
			},
		);
		return;
	}
	const s = ctx.style;
	const findings = (): string => formatFindings(report.findings, s);
	const title = o.title === undefined ? '' : `${s.bold(o.title)}\n`;
	emit(ctx, {
		json: o.json,
		plain: () => ({out: plainEntries(report), err: findings()}),
		human: () => ({out: title + humanReport(report, s, Math.max(10, ctx.deps.terminal.rows - 16)), err: findings()}),
	});
}
