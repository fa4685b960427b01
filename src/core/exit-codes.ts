// Documented exit codes (README "Exit codes"). Stable: scripts depend on them.
export const exitCodes = {
	ok: 0,
	failure: 1,
	usage: 2,
	privilege: 4,
	interrupted: 130,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];
