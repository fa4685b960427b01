import {lstatSync, mkdirSync} from 'node:fs';
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
import {locateOffline} from '../io/locate.js';
import {guardFlow} from '../interrupt.js';
import {describeOp, type Experiment, type Step} from '../lab/experiment.js';
import {fingerprint} from '../lab/fingerprint.js';
import {performOp, type OpResult} from '../lab/ops.js';
import {seedLayers, type SeededLayer} from '../lab/seed.js';
import {check, delta, type UpperChange, type UpperState, type Verdict} from '../lab/verdicts.js';
import {withRegistry, type Deps} from './deps.js';
import {commitFlow} from './commit.js';
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

/** The lab's overlay: which lowers and options are active, whether it is mounted, what it holds. */
class LabStack {
	readonly layers: readonly SeededLayer[];
	private active: readonly SeededLayer[];
	private options: readonly string[];
	mounted = false;
	strategy: Strategy | 'refused' | undefined;

	private readonly exp: Experiment;
	private readonly dirs: {lowers: string; upper: string; work: string; merged: string};
	private readonly ns: 'trusted' | 'user';
	private readonly deps: Deps;

	constructor(
		exp: Experiment,
		dirs: {lowers: string; upper: string; work: string; merged: string},
		ns: 'trusted' | 'user',
		deps: Deps,
	) {
		this.exp = exp;
		this.dirs = dirs;
		this.ns = ns;
		this.deps = deps;
		this.layers = seedLayers(exp, dirs.lowers);
		this.active = this.layers;
		this.options = exp.options;
	}

	/** The experiment's options, with userxattr when it runs in a user namespace. */
	withNs(o: readonly string[]): string[] {
		return this.ns === 'user' && !o.includes('userxattr') ? [...o, 'userxattr'] : [...o];
	}

	async mount(): Promise<void> {
		const outcome = await mountStack(
			{
				lowers: this.active.map((l) => ({path: l.dir, dataOnly: false})),
				...(this.exp.upper ? {upper: this.dirs.upper, work: this.dirs.work} : {}),
				merged: this.dirs.merged,
				options: this.withNs(this.options).map(parseOptionArg),
			},
			{dryRun: false},
			this.deps,
		);
		this.strategy = outcome.plan.strategy;
		this.mounted = true;
	}

	/** An `umount` step: a failure is the step's outcome. */
	async umount(): Promise<void> {
		const r = await this.deps.exec.umount(this.dirs.merged, false);
		if (!r.ok) throw new OvlError('OVL_UMOUNT_FAILED', r.output.trim(), 'see the kernel log');
		this.mounted = false;
	}

	/** Clean-up: unmount, detaching (umount -l) if it is busy or `lazy`, so removing the temp dir never walks into it. */
	async detach(lazy: boolean): Promise<void> {
		const r = await this.deps.exec.umount(this.dirs.merged, lazy);
		if (!r.ok && !lazy) await this.deps.exec.umount(this.dirs.merged, true);
		this.mounted = false;
	}

	/** A `mount` step: other options or fewer lowers, a fresh upper if asked. */
	async remount(op: Extract<Step['op'], {op: 'mount'}>): Promise<void> {
		if (this.mounted)
			throw new OvlError('OVL_LAB_MOUNTED', 'the overlay is still mounted', 'add an umount step before mount');
		if (op.options) this.options = [...op.options];
		if (op.lowers !== undefined)
			this.active = this.layers.slice(0, Math.max(1, Math.min(this.layers.length, op.lowers)));
		if (op.fresh) {
			fse.removeSync(this.dirs.upper);
			fse.removeSync(this.dirs.work);
		}
		await this.mount();
	}

	/** A `commit` step: ovl commit of the upper into the active lower (unmounted first), verified. */
	async commit(): Promise<void> {
		if (this.mounted) await this.umount();
		const located = await locateOffline(
			this.dirs.upper,
			this.active.map((l) => l.dir),
			this.dirs.work,
			this.ns === 'user',
		);
		await commitFlow(located, {dryRun: false, keepUpper: false}, this.deps);
	}

	layerDir(name: string): string {
		const l = this.layers.find((x) => x.name === name);
		if (!l) throw new OvlError('OVL_LAB_NO_LAYER', `no layer ${name}`, 'check lower-write');
		return l.dir;
	}

	private lowerRefs(): LayerRef[] {
		return this.active.map((l, i) => ({layer: i + 1, path: l.dir, dataOnly: false}));
	}

	/** Every upper entry's kind and the stat fields a step's delta compares. */
	async observe(): Promise<UpperState> {
		const out: UpperState = new Map();
		if (!this.exp.upper || lstatSync(this.dirs.upper, {throwIfNoEntry: false}) === undefined) return out;
		const {scan, entries} = await observeUpper({upper: this.dirs.upper, lowers: this.lowerRefs(), ns: this.ns});
		scan.entries.forEach((raw, i) => {
			const kind = entries[i]?.kind ?? 'anomaly';
			out.set(raw.path, {kind, size: raw.stat.size, mtimeMs: raw.stat.mtimeMs, perm: raw.stat.perm});
		});
		return out;
	}

	async diff(): Promise<{op: string; path: string}[]> {
		const observed = await observeUpper({upper: this.dirs.upper, lowers: this.lowerRefs(), ns: this.ns, forDiff: true});
		return changeSet(observed).changes.map((c) => ({op: c.op, path: c.path}));
	}

	lowerPrints(): string {
		return this.layers.map((l) => fingerprint(l.dir)).join(',');
	}
}

type Outcome = {result?: OpResult; errno?: string; error?: string; durationMs: number};

/** Performs one step's operation, timed; an error is an outcome (what the step expects), not a throw. */
async function perform(step: Step, lab: LabStack, merged: string): Promise<Outcome> {
	const t0 = process.hrtime.bigint();
	const took = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
	try {
		const op = step.op;
		if (op.op === 'umount') {
			await lab.umount();
			return {durationMs: took()};
		}
		if (op.op === 'mount') {
			await lab.remount(op);
			return {durationMs: took()};
		}
		if (op.op === 'commit') {
			await lab.commit();
			return {durationMs: took()};
		}
		if (!lab.mounted && op.op !== 'lower-write')
			throw new OvlError('OVL_LAB_NOT_MOUNTED', 'the overlay is not mounted', 'add a mount step');
		const result = performOp(op, merged, (name) => lab.layerDir(name));
		return {result, durationMs: took()};
	} catch (e) {
		const err = e as NodeJS.ErrnoException;
		const errno = err.code !== undefined && /^E[A-Z0-9]+$/.test(err.code) ? err.code : undefined;
		const error = err instanceof OvlError ? `${err.code}: ${err.message}` : err.message;
		return {...(errno ? {errno} : {}), error, durationMs: took()};
	}
}

/** Timing comparisons may name a later step: judged once every duration is known. */
function withTimingVerdicts(results: readonly StepResult[], steps: readonly Step[]): StepResult[] {
	const durations = new Map(results.map((r) => [r.id, r.durationMs]));
	return results.map((r, i) => {
		const s = steps[i]?.expect?.slowerThan;
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
	// Ctrl-C: stop after the current step; the finally block unmounts and removes everything, and
	// the signal handler waits for that before exiting 130.
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
	let lab: LabStack | undefined;
	try {
		guard.check();
		lab = new LabStack(exp, dirs, options.userns ? 'user' : 'trusted', deps);
		mkdirSync(dirs.merged);
		await lab.mount();
		let baseline = lab.lowerPrints();
		let upperBefore = await lab.observe();
		const results: StepResult[] = [];
		for (const [index, step] of exp.steps.entries()) {
			if (guard.aborted()) break;
			const outcome = await perform(step, lab, dirs.merged);
			const {result, errno, error, durationMs} = outcome;
			if (step.op.op === 'lower-write' && error === undefined) baseline = lab.lowerPrints();
			const upperAfter = await lab.observe();
			const upperDelta = delta(upperBefore, upperAfter);
			upperBefore = upperAfter;
			const current: LabStack = lab;
			const verdicts = check(step, {
				errno,
				error,
				result,
				upperDelta,
				upperAfter,
				lowerSame: () => current.lowerPrints() === baseline,
				merged: dirs.merged,
				mounted: lab.mounted,
				diff: step.expect?.diff ? await current.diff() : undefined,
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
		const steps = withTimingVerdicts(results, exp.steps);
		const mount = (await toolVersion('mount')) ?? '';
		return {
			schema: 'ovl.lab/v1',
			experiment: exp.name,
			description: exp.description,
			kernel: os.release(),
			utilLinux: /util-linux [\d.]+/.exec(mount)?.[0] ?? 'util-linux (unknown version)',
			userNamespace: options.userns,
			options: lab.withNs(exp.options),
			...(lab.strategy ? {strategy: lab.strategy} : {}),
			root,
			kept: options.keep,
			startedAt: new Date(started).toISOString(),
			durationMs: deps.now().getTime() - started,
			passed: steps.every((r) => r.ok),
			steps,
		};
	} finally {
		if (!options.keep || guard.aborted()) {
			// Interrupted mid-step, files may still be open: detach at once (umount -l).
			if (lab?.mounted) await lab.detach(guard.aborted()).catch(() => undefined);
			fse.removeSync(root);
		}
		guard.done();
	}
}
