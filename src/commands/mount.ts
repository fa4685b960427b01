import {writeJson, type Context} from '../context.js';
import {exitCodes} from '../core/exit-codes.js';
import {hasErrors} from '../core/finding.js';
import {markComplete} from '../interrupt.js';
import {mountStack} from '../flows/mount.js';
import {formatFindings} from '../ui/findings.js';
import {formatPlan} from '../ui/plan-text.js';
import {canonicalStack, confineToStackDir, readStackInput, type StackInput} from './stack-input.js';

export type MountOptions = StackInput & {readonly dryRun: boolean; readonly force: boolean};

/** `ovl mount`: print the plan, then (unless --dry-run) mount and verify. */
export async function mountCommand(o: MountOptions, ctx: Context): Promise<number> {
	const {stack: raw, source, confine} = await readStackInput(o, ctx.cwd);
	const stack = await canonicalStack(raw);
	if (confine) await confineToStackDir(stack, confine.dir, confine.fromFile);
	if (o.dryRun) {
		const {plan} = await mountStack(stack, {dryRun: true, force: o.force}, ctx.deps);
		const ok = !hasErrors(plan.findings) && plan.strategy !== 'refused';
		if (ctx.mode === 'json') writeJson(ctx, {schema: 'ovl.mount-plan/v1', source, ok, plan});
		else {
			if (ctx.mode === 'human') {
				const ui = await import('../ui/render.js');
				ctx.out(ui.renderPlan(plan));
				ctx.err(ui.renderFindings(plan.findings));
			} else {
				ctx.out(formatPlan(plan, ctx.style));
				ctx.err(formatFindings(plan.findings, ctx.style));
			}
			ctx.out(ok ? 'dry run: nothing mounted; the plan is valid\n' : 'dry run: this plan would be refused\n');
		}
		return ok ? exitCodes.ok : exitCodes.usage;
	}
	const outcome = await mountStack(stack, {dryRun: false, force: o.force, onCommitted: markComplete}, ctx.deps);
	if (ctx.mode === 'json') {
		writeJson(ctx, {
			schema: 'ovl.mount/v1',
			source,
			mounted: true,
			plan: outcome.plan,
			record: outcome.record,
			findings: outcome.findings,
			kernelLines: outcome.kernelLines,
		});
		return 0;
	}
	if (ctx.mode === 'human') {
		const ui = await import('../ui/render.js');
		ctx.out(ui.renderPlan(outcome.plan));
		ctx.err(ui.renderFindings(outcome.findings));
	} else {
		if (ctx.verbose) ctx.out(formatPlan(outcome.plan, ctx.style));
		ctx.err(formatFindings(outcome.findings, ctx.style));
	}
	const p = outcome.plan;
	ctx.out(
		`${ctx.style.green('✓')} mounted overlay on ${stack.merged} (${stack.lowers.length} lower layer${stack.lowers.length === 1 ? '' : 's'}${stack.upper === undefined ? ', read-only' : ''}; ${p.strategy}, ${p.optionBytes}/${p.budget} bytes; verified against mountinfo)\n`,
	);
	return 0;
}
