import {writeJson, type Context} from '../context.js';
import {doctorFlow} from '../flows/doctor.js';

/** `ovl doctor [--path DIR]`: host facts, and with --path a real test mount there. */
export async function doctorCommand(o: {path: string | undefined}, ctx: Context): Promise<number> {
	const doctor = await doctorFlow(o.path, ctx.deps);
	const {checks, probe, verdict: result} = doctor;
	if (ctx.mode === 'json') writeJson(ctx, doctor);
	else if (ctx.mode === 'plain') {
		for (const c of checks) ctx.out(`${c.status}\t${c.name}\t${c.detail}${c.hint ? `\t${c.hint}` : ''}\n`);
		ctx.out(`verdict\t${result}\n`);
	} else {
		const {renderDoctor} = await import('../ui/render.js');
		ctx.out(renderDoctor(checks, result, probe?.kernelLines ?? []));
	}
	return result === 'unusable' ? 1 : 0;
}
