import {mkdir, rmdir} from 'node:fs/promises';
import path from 'node:path';
import {fsPath} from '../core/bytes.js';
import {InterruptedError, MountFailedError, PrivilegeError, ValidationError} from '../core/errors.js';
import {finding, forceFindings, hasErrors} from '../core/finding.js';
import {kernelLineFinding} from '../core/kernel-log.js';
import {decodeOverlay, topMountAt} from '../core/mountinfo.js';
import {withDefaults} from '../core/options.js';
import {planMount} from '../core/plan.js';
import type {Finding, MountInfoEntry, MountPlan, Stack} from '../core/types.js';
import {validateStack} from '../core/validate.js';
import {verifyMount} from '../core/verify.js';
import {guardFlow} from '../interrupt.js';
import {kernelLogCursor, overlayLinesSince} from '../io/kmsg.js';
import type {Resolved} from '../io/exact-fs.js';
import {gatherStackFacts} from '../io/probe.js';
import {lockPaths} from '../io/lock.js';
import {recordSchema, type MountRecord} from '../io/registry.js';
import type {Deps} from './deps.js';

export type MountOutcome = {
	readonly plan: MountPlan;
	/** Validation findings plus the kernel's own lines logged during the mount. */
	readonly findings: readonly Finding[];
	readonly kernelLines: readonly string[];
	readonly record?: MountRecord;
};

/** Validates and plans a canonical stack; nothing is touched. */
export async function planStack(
	stack: Stack,
	deps: Deps,
	force = false,
	mountinfo?: readonly MountInfoEntry[],
	resolvedLowers?: readonly Resolved[],
): Promise<MountPlan> {
	const facts = await gatherStackFacts(stack, deps.registry, mountinfo, resolvedLowers);
	const checked = validateStack(stack, facts);
	const findings = force ? forceFindings(checked) : checked;
	const options = withDefaults(stack.options, {
		hasUpper: stack.upper !== undefined,
		hasIndexParam: 'index' in facts.kernel.params,
	});
	return planMount(stack, options, {pageSize: facts.kernel.pageSize, findings});
}

/**
 Validate → plan → create missing upper/work/merged → mount(8) → verify against mountinfo →
 registry. On any failure, what this call created is removed and a verified-bad mount undone.
 */
export type MountStackOptions = {
	readonly dryRun: boolean;
	readonly force?: boolean;
	/** Called once the mount is verified and recorded, inside the signal guard: the command's commit point. */
	readonly onCommitted?: () => void;
	/**
	 What canonicalising stack.lowers found (canonicalStackResolved): no ovl command creates or
	 replaces a lower while holding this lock, so they are not resolved again under it; upper, work
	 and the mount point, which mount itself creates, are.
	 */
	readonly resolvedLowers?: readonly Resolved[];
};

export async function mountStack(stack: Stack, options: MountStackOptions, deps: Deps): Promise<MountOutcome> {
	if (options.dryRun) {
		const plan = await planStack(stack, deps, options.force ?? false, undefined, options.resolvedLowers);
		return {plan, findings: plan.findings, kernelLines: []};
	}
	// Two ovl processes on one upper, work dir or mount point: the second waits, then validates
	// against what the first mounted (and is refused), instead of both passing at once.
	const keys = [stack.merged, ...[stack.upper, stack.work].filter((p): p is string => p !== undefined)];
	const lock = await lockPaths(path.join(deps.registry.dir, 'locks'), keys);
	try {
		return await mountLocked(stack, deps, options);
	} finally {
		lock.release();
	}
}

async function mountLocked(stack: Stack, deps: Deps, options: MountStackOptions): Promise<MountOutcome> {
	const onCommitted = options.onCommitted;
	// One read under the lock: what validation checks and what undo compares with.
	const mountinfo = await deps.mountinfo();
	const plan = await planStack(stack, deps, options.force ?? false, mountinfo, options.resolvedLowers);
	const errors = plan.findings.filter((f) => f.severity === 'error');
	if (errors.length > 0 && errors.every((f) => f.code === 'OVL_NEEDS_ROOT'))
		throw new PrivilegeError(errors[0]?.message ?? 'needs root', errors[0]?.hint ?? 'run as root');
	if (hasErrors(plan.findings) || plan.strategy === 'refused') throw new ValidationError(plan.findings);

	const created: string[] = [];
	const before = new Set(mountinfo.filter((e) => e.mountPoint === stack.merged).map((e) => e.mountId));
	let recorded = false;
	// A signal stops the flow at its next step, which undoes what it did itself, after mount(8)
	// has returned: undoing while mount(8) runs would miss its mount.
	const guard = guardFlow();
	const step = guard.check;
	const undo = async (): Promise<void> => {
		// Every overlay that appeared on the mount point since we started is ours: unmount it.
		const now = await deps.mountinfo().catch(() => []);
		const ours = now.filter(
			(x) => x.mountPoint === stack.merged && x.fsType === 'overlay' && !before.has(x.mountId),
		).length;
		for (let i = 0; i < ours; i++) {
			const r = await deps.exec.umount(stack.merged, false);
			if (!r.ok) await deps.exec.umount(stack.merged, true);
		}
		if (recorded) await deps.registry.remove(stack.merged).catch(() => undefined);
		for (const dir of created.reverse()) await rmdir(fsPath(dir)).catch(() => undefined);
	};
	try {
		for (const dir of [stack.upper, stack.work, stack.merged]) {
			if (dir === undefined) continue;
			step();
			const made = await mkdir(fsPath(dir)).then(
				() => true,
				(error: NodeJS.ErrnoException) => {
					if (error.code === 'EEXIST') return false;
					throw error;
				},
			);
			if (made) created.push(dir);
		}
		step();
		const cursor = kernelLogCursor();
		const result = await deps.exec.mount(plan);
		// Read (and release) the log before a signal can stop the flow here.
		const lines = overlayLinesSince(cursor) ?? [];
		step();
		const kernelFindings = lines.map(kernelLineFinding);
		if (!result.ok) {
			const first = kernelFindings.find((f) => f.severity === 'error') ?? kernelFindings[0];
			const reason = first
				? first.message
				: cursor.readable
					? `mount(8) failed: ${result.output.split('\n')[0] ?? ''}`
					: `mount(8) failed (${result.output.split('\n')[0] ?? ''}); the kernel log is not readable here, so its reason is unknown`;
			throw new MountFailedError(
				first?.code ?? 'OVL_MOUNT_FAILED',
				reason,
				first?.hint ?? 'run with --verbose to see mount(8) output; check `dmesg | grep overlay`',
				{argv: plan.argv, toolOutput: result.output, findings: [...plan.findings, ...kernelFindings]},
			);
		}
		const entries = await deps.mountinfo();
		const top = topMountAt(entries, stack.merged);
		const overlay = top ? decodeOverlay(top) : undefined;
		const mismatches = verifyMount(plan, overlay);
		if (mismatches.length > 0) {
			throw new MountFailedError(
				mismatches[0]?.code ?? 'OVL_VERIFY_MISMATCH',
				mismatches[0]?.message ?? 'mount verification failed',
				mismatches[0]?.hint ?? '',
				{argv: plan.argv, toolOutput: result.output, findings: [...kernelFindings, ...mismatches]},
			);
		}
		const record: MountRecord = {
			schema: recordSchema,
			merged: stack.merged,
			lowers: stack.lowers,
			...(stack.upper === undefined ? {} : {upper: stack.upper}),
			...(stack.work === undefined ? {} : {work: stack.work}),
			options: plan.options,
			strategy: plan.strategy as MountRecord['strategy'],
			...(plan.cwd === undefined ? {} : {cwd: plan.cwd}),
			mountId: top?.mountId ?? -1,
			recorded: overlay
				? [
						...overlay.layers.lowers.map((l) => l.path),
						...[overlay.layers.upper, overlay.layers.work].filter((p): p is string => p !== undefined),
					]
				: [],
			mountedAt: deps.now().toISOString(),
		};
		// The registry only adds detail (absolute paths for relative/fd mounts); failing to write it is not a failed mount.
		step();
		recorded = true;
		const registryProblem = await deps.registry.write(record).then(
			() => [],
			(error: NodeJS.ErrnoException) => [
				finding(
					'OVL_REGISTRY_UNWRITABLE',
					'warning',
					`could not record the mount in ${deps.registry.dir}: ${error.code ?? error.message}`,
					"ovl ls/inspect will show the kernel's layer strings for this mount; set OVL_RUN_DIR to a writable directory",
				),
			],
		);
		step();
		onCommitted?.();
		return {plan, findings: [...plan.findings, ...kernelFindings, ...registryProblem], kernelLines: lines, record};
	} catch (error) {
		await undo();
		throw guard.aborted() ? new InterruptedError() : error;
	} finally {
		guard.done();
	}
}
