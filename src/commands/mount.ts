import type {Context} from '../context.js';
import {exitCodes} from '../core/exit-codes.js';
import {hasErrors, refusedFindings} from '../core/finding.js';
import {mountStack} from '../flows/mount.js';
import {markComplete} from '../interrupt.js';
import {emit} from '../output.js';
import {formatFindings} from '../ui/findings.js';
import {formatPlan} from '../ui/plan-text.js';
import {mountedLine} from '../ui/mount-text.js';
import {canonicalStackResolved, confineToStackDir, readStackInput, type StackInput} from './stack-input.js';

export type MountOptions = StackInput & {readonly dryRun: boolean; readonly force: boolean};

/** `ovl mount`: print the plan, then (unless --dry-run) mount and verify. */
export async function mountCommand(o: MountOptions, ctx: Context): Promise<number> {
	const {stack: raw, source, confine} = await readStackInput(o, ctx.cwd);
	const {stack, lowers: resolvedLowers} = await canonicalStackResolved(raw);
	if (confine) await confineToStackDir(stack, confine.dir, confine.fromFile);
	const s = ctx.style;
	if (o.dryRun) {
		const {plan} = await mountStack(stack, {dryRun: true, force: o.force, resolvedLowers}, ctx.deps);
		const ok = !hasErrors(plan.findings) && plan.strategy !== 'refused';
		const verdict = ok ? 'dry run: nothing mounted; the plan is valid\n' : 'dry run: this plan would be refused\n';
		const view = (forPerson: boolean) => () => ({
			out: formatPlan(plan, s, forPerson) + verdict,
			err: formatFindings(ok ? plan.findings : refusedFindings(plan.findings), s),
		});
		emit(ctx, {json: {schema: 'ovl.mount-plan/v1', source, ok, plan}, plain: view(false), human: view(true)});
		return ok ? exitCodes.ok : exitCodes.usage;
	}
	const outcome = await mountStack(
		stack,
		{dryRun: false, force: o.force, onCommitted: markComplete, resolvedLowers},
		ctx.deps,
	);
	const {plan, findings} = outcome;
	emit(ctx, {
		json: {
			schema: 'ovl.mount/v1',
			source,
			mounted: true,
			plan,
			record: outcome.record,
			findings,
			kernelLines: outcome.kernelLines,
		},
		plain: () => ({
			out: (ctx.verbose ? formatPlan(plan, s) : '') + mountedLine(plan, s),
			err: formatFindings(findings, s),
		}),
		human: () => ({out: formatPlan(plan, s, true) + mountedLine(plan, s), err: formatFindings(findings, s)}),
	});
	return exitCodes.ok;
}
