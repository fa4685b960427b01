// Polling waits for the kernel tests. Under software emulation (test:vagrant) everything is ~10x
// slower: OVL_TEST_TIMEOUT_SCALE stretches every deadline, never the work itself.
export const timeScale = Math.max(1, Number(process.env.OVL_TEST_TIMEOUT_SCALE ?? 1) || 1);

/** Polls `probe` every `everyMs` until it returns something other than undefined/false, or `ms` (scaled) pass. */
export async function waitUntil<T>(
	probe: () => T | undefined | false | Promise<T | undefined | false>,
	ms: number,
	everyMs = 25,
): Promise<T | undefined> {
	const end = Date.now() + ms * timeScale;
	for (;;) {
		const v = await probe();
		if (v !== undefined && v !== false) return v;
		if (Date.now() > end) return undefined;
		await new Promise((r) => setTimeout(r, everyMs));
	}
}
