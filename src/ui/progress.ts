/**
 Scan progress on stderr: count, rate and current directory, at most 10 times a second, on one
 line that is cleared at the end. Only for a terminal; returns no-ops otherwise.
 */
export function scanProgress(
	enabled: boolean,
	write: (s: string) => void,
	now: () => number = Date.now,
): {onProgress: (n: number, dir: string) => void; done: () => void} {
	if (!enabled) return {onProgress: () => undefined, done: () => undefined};
	const start = now();
	let last = 0;
	let shown = false;
	return {
		onProgress: (n, dir) => {
			const t = now();
			if (t - last < 100) return;
			last = t;
			shown = true;
			const rate = Math.round(n / Math.max(0.001, (t - start) / 1000));
			write(`\r\u001B[K scanning: ${n} entries, ${rate}/s · ${dir.length > 60 ? `…${dir.slice(-59)}` : dir}`);
		},
		done: () => {
			if (shown) write('\r\u001B[K');
		},
	};
}
