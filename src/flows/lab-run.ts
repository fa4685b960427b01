import {closeSync, constants, lstatSync, mkdirSync, openSync, writeSync, linkSync} from 'node:fs';
import {mkdtemp} from 'node:fs/promises';
import fse from 'fs-extra';
import os from 'node:os';
import path from 'node:path';
import type {LayerRef} from '../core/entry.js';
import {OvlError} from '../core/errors.js';
import {parseOptionArg} from '../core/options.js';
import type {Strategy} from '../core/types.js';
import {fsError} from '../io/beneath.js';
import {toolVersion} from '../io/exec.js';
import {guardFlow} from '../interrupt.js';
import {describeOp, type Experiment, type FileSpec, type Step} from '../lab/experiment.js';
import {fingerprint} from '../lab/fingerprint.js';
import {performOp, safeJoin, type OpResult} from '../lab/ops.js';
import {check, delta, type UpperChange, type UpperState, type Verdict} from '../lab/verdicts.js';
import {withRegistry, type Deps} from './deps.js';
import {changeSet, observeUpper} from './inspect.js';
import {mountStack} from './mount.js';

export type {UpperChange, Verdict};

export type StepResult = {
	readonly id: string;
	readonly label: string;
	readonly op: string;
	readonly ok: boolean;
	readonly durationMs: number;
	readonly errno?: string;
	readonly result?: OpResult;
	readonly upperDelta: readonly UpperChange[];
	readonly verdicts: readonly Verdict[];
};

export type LabReport = {
	readonly schema: 'ovl.lab/v1';
	readonly experiment: string;
	readonly description: string;
	readonly kernel: string;
	readonly utilLinux: string;
	readonly userNamespace: boolean;
	readonly options: readonly string[];
	readonly strategy?: Strategy | 'refused';
	readonly root: string;
	readonly kept: boolean;
	readonly startedAt: string;
	readonly durationMs: number;
	readonly passed: boolean;
	readonly steps: readonly StepResult[];
};

function fill(p: string, spec: FileSpec): void {
	if (typeof spec === 'string') {
		const fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
		try {
			writeSync(fd, spec);
		} finally {
			closeSync(fd);
		}
		return;
	}
	// Real bytes, not a sparse file: copy-up skips holes, which would hide the cost being measured.
	const chunk = Buffer.alloc(Math.min(spec.size, 1 << 20), 0x61);
	const fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
	try {
		for (let left = spec.size; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
	} finally {
		closeSync(fd);
	}
}

/** Runs an experiment in a fresh temp dir and reports what the kernel really did. Always cleans up unless keep. */
export async function runExperiment(
	exp: Experiment,
	options: {
		keep: boolean;
		userns: boolean;
		onStep?: (r: StepResult, index: number) => void;
		onStart?: (root: string) => void;
	},
	world: Deps,
): Promise<LabReport> {
	const started = world.now().getTime();
	// Ctrl-C: stop after the current step; the runner's own finally block unmounts and removes
	// everything, and the signal handler waits for that before exiting 130.
	const guard = guardFlow();
	let root: string;
	try {
		root = await mkdtemp(path.join(os.tmpdir(), `ovl-lab-${exp.name.replace(/[^\w.-]/g, '_')}-`));
	} catch (error) {
		guard.done();
		throw fsError(error, os.tmpdir());
	}
	const dirs = {
		lowers: path.join(root, 'lowers'),
		upper: path.join(root, 'upper'),
		work: path.join(root, 'work'),
		merged: path.join(root, 'merged'),
	};
	// The lab's mounts are recorded (and locked) in its own temp dir, not the host's registry.
	const deps = withRegistry(world, path.join(root, 'run'));
	options.onStart?.(root);
	let mounted = false;
	const cleanup = async (lazy = false): Promise<void> => {
		if (mounted) {
			// Interrupted mid-step, files may still be open: detach at once (umount -l) so removing
			// the temp dir can never walk into the overlay.
			const r = await deps.exec.umount(dirs.merged, lazy);
			if (!r.ok && !lazy) await deps.exec.umount(dirs.merged, true);
			mounted = false;
		}
		fse.removeSync(root);
	};
	try {
		guard.check();
		// Layers: "repeat: N" makes N empty copies (name-1 … name-N), for depth experiments.
		const layers: {name: string; dir: string}[] = [];
		for (const spec of exp.lowers) {
			const names =
				spec.repeat === undefined ? [spec.name] : Array.from({length: spec.repeat}, (_, i) => `${spec.name}-${i + 1}`);
			for (const name of names) {
				const dir = path.join(dirs.lowers, name);
				fse.ensureDirSync(dir);
				for (const d of spec.dirs) fse.ensureDirSync(safeJoin(dir, d, false));
				for (const [f, content] of Object.entries(spec.files)) {
					fse.ensureDirSync(path.dirname(safeJoin(dir, f, false)));
					fill(safeJoin(dir, f, false), content);
				}
				for (const [link, target] of Object.entries(spec.links))
					linkSync(safeJoin(dir, target, false), safeJoin(dir, link, false));
				layers.push({name, dir});
			}
		}
		const layerDir = (name: string): string => {
			const l = layers.find((x) => x.name === name);
			if (!l) throw new OvlError('OVL_LAB_NO_LAYER', `no layer ${name}`, 'check lower-write');
			return l.dir;
		};
		const ns = options.userns ? 'user' : 'trusted';
		let active = layers;
		let mountOptions = [...exp.options];
		let strategy: Strategy | 'refused' | undefined;
		const withNs = (o: readonly string[]): string[] =>
			options.userns && !o.includes('userxattr') ? [...o, 'userxattr'] : [...o];
		const doMount = async (): Promise<void> => {
			const upper = exp.upper;
			const outcome = await mountStack(
				{
					lowers: active.map((l) => ({path: l.dir, dataOnly: false})),
					...(upper ? {upper: dirs.upper, work: dirs.work} : {}),
					merged: dirs.merged,
					options: withNs(mountOptions).map(parseOptionArg),
				},
				{dryRun: false},
				deps,
			);
			strategy = outcome.plan.strategy;
			mounted = true;
		};
		const lowerRefs = (): LayerRef[] => active.map((l, i) => ({layer: i + 1, path: l.dir, dataOnly: false}));
		const scanUpper = (): UpperState => {
			const out: UpperState = new Map();
			if (!exp.upper || lstatSync(dirs.upper, {throwIfNoEntry: false}) === undefined) return out;
			const {scan, entries} = observeUpper({upper: dirs.upper, lowers: lowerRefs(), ns});
			scan.entries.forEach((raw, i) => {
				const kind = entries[i]?.kind ?? 'anomaly';
				out.set(raw.path, {kind, size: raw.stat.size, mtimeMs: raw.stat.mtimeMs, perm: raw.stat.perm});
			});
			return out;
		};
		const lowerPrints = (): string => layers.map((l) => fingerprint(l.dir)).join(',');

		mkdirSync(dirs.merged);
		await doMount();
		let baseline = lowerPrints();
		let upperBefore = scanUpper();
		const results: StepResult[] = [];
		const durations = new Map<string, number>();
		for (const [index, step] of exp.steps.entries()) {
			if (guard.aborted()) break;
			let result: OpResult | undefined;
			let errno: string | undefined;
			let error: string | undefined;
			const t0 = process.hrtime.bigint();
			try {
				if (step.op.op === 'umount') {
					const r = await deps.exec.umount(dirs.merged, false);
					if (!r.ok) throw new OvlError('OVL_UMOUNT_FAILED', r.output.trim(), 'see the kernel log');
					mounted = false;
				} else if (step.op.op === 'mount') {
					if (mounted)
						throw new OvlError('OVL_LAB_MOUNTED', 'the overlay is still mounted', 'add an umount step before mount');
					if (step.op.options) mountOptions = [...step.op.options];
					if (step.op.lowers !== undefined)
						active = layers.slice(0, Math.max(1, Math.min(layers.length, step.op.lowers)));
					if (step.op.fresh) {
						fse.removeSync(dirs.upper);
						fse.removeSync(dirs.work);
					}
					await doMount();
				} else {
					if (!mounted && step.op.op !== 'lower-write')
						throw new OvlError('OVL_LAB_NOT_MOUNTED', 'the overlay is not mounted', 'add a mount step');
					result = performOp(step.op, dirs.merged, layerDir);
				}
			} catch (e) {
				const err = e as NodeJS.ErrnoException;
				errno = err.code !== undefined && /^E[A-Z0-9]+$/.test(err.code) ? err.code : undefined;
				error = err instanceof OvlError ? `${err.code}: ${err.message}` : err.message;
			}
			const durationMs = Number(process.hrtime.bigint() - t0) / 1e6;
			durations.set(step.id, durationMs);
			if (step.op.op === 'lower-write' && errno === undefined && error === undefined) baseline = lowerPrints();
			const upperAfter = scanUpper();
			const upperDelta = delta(upperBefore, upperAfter);
			upperBefore = upperAfter;
			const verdicts = check(step, {
				errno,
				error,
				result,
				upperDelta,
				upperAfter,
				lowerSame: () => lowerPrints() === baseline,
				merged: dirs.merged,
				mounted,
				diff: () =>
					changeSet(observeUpper({upper: dirs.upper, lowers: lowerRefs(), ns, forDiff: true})).changes.map((c) => ({
						op: c.op,
						path: c.path,
					})),
			});
			const r: StepResult = {
				id: step.id,
				label: step.label,
				op: describeOp(step.op),
				ok: verdicts.every((v) => v.ok),
				durationMs,
				...(errno ? {errno} : {}),
				...(result ? {result} : {}),
				upperDelta,
				verdicts,
			};
			results.push(r);
			options.onStep?.(r, index);
		}
		guard.check();
		// Timing comparisons may name a later step: judge them once every duration is known.
		const final = results.map((r, i) => {
			const s = (exp.steps[i] as Step).expect?.slowerThan;
			if (!s) return r;
			const other = durations.get(s.step) ?? 0;
			const ratio = other > 0 ? r.durationMs / other : Infinity;
			const v: Verdict = {
				expect: `slower than ${s.step} × ${s.factor}`,
				ok: r.durationMs > other * s.factor,
				detail: `${r.durationMs.toFixed(2)} ms vs ${other.toFixed(2)} ms (${Number.isFinite(ratio) ? ratio.toFixed(1) : '∞'}×)`,
			};
			return {...r, verdicts: [...r.verdicts, v], ok: r.ok && v.ok};
		});
		const report: LabReport = {
			schema: 'ovl.lab/v1',
			experiment: exp.name,
			description: exp.description,
			kernel: os.release(),
			utilLinux: /util-linux [\d.]+/.exec((await toolVersion('mount')) ?? '')?.[0] ?? 'util-linux (unknown version)',
			userNamespace: options.userns,
			options: withNs(exp.options),
			...(strategy ? {strategy} : {}),
			root,
			kept: options.keep,
			startedAt: new Date(started).toISOString(),
			durationMs: deps.now().getTime() - started,
			passed: final.every((r) => r.ok),
			steps: final,
		};
		return report;
	} finally {
		if (!options.keep || guard.aborted()) await cleanup(guard.aborted()).catch(() => undefined);
		guard.done();
	}
}
