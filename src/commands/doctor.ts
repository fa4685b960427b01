import {writeJson, type Context} from '../context.js';
import {hostChecks, pathChecks, verdict, type Check} from '../core/doctor.js';
import {gatherHostReport, probePath} from '../io/doctor-probe.js';
import type {Style} from '../ui/style.js';

const mark = (c: Check, s: Style): string => ({ok: s.green('✓'), warn: s.yellow('!'), fail: s.red('✗'), info: s.dim('·')})[c.status];

/** `ovl doctor [--path DIR]`: host facts, and with --path a real test mount there. */
export async function doctorCommand(o: {path: string | undefined}, ctx: Context): Promise<number> {
	const host = await gatherHostReport();
	const checks = hostChecks(host);
	const probe = o.path === undefined ? undefined : await probePath(o.path);
	if (probe) checks.push(...pathChecks(probe));
	const result = verdict(checks);
	if (ctx.mode === 'json') writeJson(ctx, {schema: 'ovl.doctor/v1', verdict: result, host, probe, checks});
	else if (ctx.mode === 'plain') {
		for (const c of checks) ctx.out(`${c.status}\t${c.name}\t${c.detail}${c.hint ? `\t${c.hint}` : ''}\n`);
		ctx.out(`verdict\t${result}\n`);
	} else {
		const s = ctx.style;
		for (const c of checks) ctx.out(`${mark(c, s)} ${c.name.padEnd(20)} ${c.detail}${c.hint ? `\n  ${s.dim('hint:')} ${c.hint}` : ''}\n`);
		for (const line of probe?.kernelLines ?? []) ctx.out(s.dim(`  kernel: ${line}\n`));
		ctx.out(`${s.bold('verdict:')} ${result === 'ok' ? s.green(result) : result === 'degraded' ? s.yellow(result) : s.red(result)}\n`);
	}
	return result === 'unusable' ? 1 : 0;
}
