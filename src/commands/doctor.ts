import type {Context} from '../context.js';
import {exitCodes} from '../core/exit-codes.js';
import {doctorFlow} from '../flows/doctor.js';
import {emit} from '../output.js';
import {formatDoctor} from '../ui/doctor-text.js';

/** `ovl doctor [--path DIR]`: host facts, and with --path a real test mount there. */
export async function doctorCommand(o: {path: string | undefined}, ctx: Context): Promise<number> {
	const doctor = await doctorFlow(o.path, ctx.deps);
	const {checks, probe, verdict} = doctor;
	emit(ctx, {
		json: doctor,
		plain: () => ({
			out: `${checks.map((c) => `${c.status}\t${c.name}\t${c.detail}${c.hint ? `\t${c.hint}` : ''}\n`).join('')}verdict\t${verdict}\n`,
		}),
		human: () => ({out: formatDoctor(checks, verdict, probe?.kernelLines ?? [], ctx.style, ctx.deps.terminal.columns)}),
	});
	return verdict === 'unusable' ? exitCodes.failure : exitCodes.ok;
}
