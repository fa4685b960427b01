import {writeJson, type Context} from '../context.js';
import {hostChecks, pathChecks, verdict} from '../core/doctor.js';
import {gatherHostReport, probePath} from '../io/doctor-probe.js';

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
		const {renderDoctor} = await import('../ui/render.js');
		ctx.out(renderDoctor(checks, result, probe?.kernelLines ?? []));
	}
	return result === 'unusable' ? 1 : 0;
}
