import {readFileSync} from 'node:fs';
import os from 'node:os';
import {describe, test} from 'vitest';

/** The running kernel is at least major.minor: where a feature is missing, tests assert the refusal instead. */
export function kernelAtLeast(major: number, minor: number): boolean {
	const [a = 0, b = 0] = os
		.release()
		.split('.')
		.map((n) => Number.parseInt(n, 10));
	return a > major || (a === major && b >= minor);
}

/** Why real mounts cannot run here, or undefined when they can. */
export function kernelUnavailable(): string | undefined {
	if (process.geteuid?.() !== 0) return `not root (euid ${process.geteuid?.()}); the kernel suite needs root`;
	const fs = readFileSync('/proc/filesystems', 'utf8');
	if (!/\toverlay$/m.test(fs)) return 'overlay is not in /proc/filesystems (modprobe overlay)';
	return undefined;
}

/**
 describe() for tests that mount for real. Without a usable kernel they skip, except with
 OVL_REQUIRE_KERNEL=1 (CI), where they fail with the reason.
 */
export function describeKernel(name: string, body: () => void): void {
	const reason = kernelUnavailable();
	if (reason === undefined) {
		describe(name, body);
		return;
	}
	if (process.env['OVL_REQUIRE_KERNEL'] === '1') {
		describe(name, () => {
			test('kernel is usable', () => {
				throw new Error(`OVL_REQUIRE_KERNEL=1 but ${reason}`);
			});
		});
		return;
	}
	describe.skip(`${name} (skipped: ${reason})`, body);
}
