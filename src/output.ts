import {writeJson, type Context} from './context.js';

/** Text for the two streams: the result on stdout, findings and notes on stderr. */
export type Printed = {readonly out?: string; readonly err?: string};

/**
 What a command shows, in each mode. `json` is the result itself (one document on stdout);
 `plain` is for pipes and scripts (stable, tab-separated where it is a table); `human` is for a
 person at a terminal, the plain view when absent. Views are functions: only the chosen one runs.
 */
export type Views = {
	readonly json: unknown;
	readonly plain: () => Printed;
	readonly human?: () => Printed;
};

/** The one place a command's result reaches the terminal. */
export function emit(ctx: Context, views: Views): void {
	if (ctx.mode === 'json') return writeJson(ctx, views.json);
	const printed = ctx.mode === 'human' && views.human ? views.human() : views.plain();
	if (printed.out) ctx.out(printed.out);
	if (printed.err) ctx.err(printed.err);
}
