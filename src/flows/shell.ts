import {mkdtemp, readFile, readdir, readlink, rm} from 'node:fs/promises';
import {existsSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {printablePath} from '../core/bytes.js';
import {OvlError, PrivilegeError, UsageError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import type {Finding, Stack} from '../core/types.js';
import {onInterrupt} from '../interrupt.js';
import {lockPaths, type Held} from '../io/lock.js';
import {isInUserNamespace, ownMountNs} from '../io/proc.js';
import {defaultRegistryDir} from '../io/registry.js';
import {withRegistry, type Deps} from './deps.js';
import {mountStack} from './mount.js';

// `ovl shell`: the overlay lives in a mount namespace of its own (as a user, inside a user
// namespace too), so it is private to the shell and cannot outlive it: when the last process in
// that namespace exits, the kernel drops the mount, whatever happened to ovl. ovl still unmounts
// it itself when the shell exits, so the upper is left as a clean umount leaves it.

/** The signals ovl passes on to the shell (and, outside the namespace, to the ovl inside it). */
const passedOn = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** How ovl enters the private namespace: as root a mount namespace, as a user a user + mount namespace. */
export function namespaceFlags(euid: number): string[] {
	return euid === 0 ? ['--mount', '--propagation', 'private'] : ['--user', '--map-root-user', '--mount'];
}

/**
 While a child runs, ovl's SIGINT/SIGTERM/SIGHUP go to `onSignal` instead of ovl's own
 interrupt handler (which would exit 130 while the child still holds the overlay). Returns the
 function that gives them back.
 */
function takeSignals(onSignal: (signal: NodeJS.Signals) => void): () => void {
	const saved = new Map(passedOn.map((s) => [s, process.listeners(s)] as const));
	// Add before removing, give back before taking away: at no listeners Node closes its signal
	// watcher, and a signal caught but not yet dispatched by that watcher is lost.
	for (const s of passedOn) {
		process.on(s, onSignal);
		for (const l of saved.get(s) ?? []) process.removeListener(s, l);
	}
	return () => {
		for (const s of passedOn) {
			for (const l of saved.get(s) ?? []) process.on(s, l);
			process.removeListener(s, onSignal);
		}
	};
}

/**
 Runs `file args` with the terminal, passing ovl's signals on to it. A child that outlives the
 signal (an interactive shell ignores SIGINT and SIGTERM) gets SIGHUP after `graceMs`, then SIGKILL.
 */
async function runPassingSignals(
	file: string,
	args: readonly string[],
	options: {cwd?: string; env?: NodeJS.ProcessEnv; graceMs: number; onSignal?: (s: NodeJS.Signals) => void},
): Promise<{exitCode: number; signal?: NodeJS.Signals; received?: NodeJS.Signals; spawnError?: string}> {
	let received: NodeJS.Signals | undefined;
	const timers: NodeJS.Timeout[] = [];
	const child = execa(file, [...args], {
		stdio: 'inherit',
		reject: false,
		...(options.cwd === undefined ? {} : {cwd: options.cwd}),
		...(options.env === undefined ? {} : {env: options.env, extendEnv: false}),
	});
	const send = (s: NodeJS.Signals): void => {
		if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
			try {
				process.kill(child.pid, s);
			} catch {
				// already gone
			}
		}
	};
	const give = takeSignals((s) => {
		send(s);
		if (received === undefined) {
			received = s;
			options.onSignal?.(s);
			timers.push(setTimeout(() => send('SIGHUP'), options.graceMs));
			timers.push(setTimeout(() => send('SIGKILL'), 2 * options.graceMs));
		}
	});
	try {
		const r = await child;
		const signal = r.signal as NodeJS.Signals | undefined;
		const spawnError = r.exitCode === undefined && signal === undefined ? (r.code ?? r.shortMessage) : undefined;
		const exitCode =
			r.exitCode ?? (signal === undefined ? 127 : 128 + (os.constants.signals[signal] ?? exitCodes.failure));
		return {
			exitCode,
			...(signal === undefined ? {} : {signal}),
			...(received === undefined ? {} : {received}),
			...(spawnError === undefined ? {} : {spawnError}),
		};
	} finally {
		for (const t of timers) clearTimeout(t);
		give();
	}
}

/**
 Outside the namespace: checks that unshare(1) can make it, then runs this same command again
 inside it (`--in-namespace` before any `--`), passing signals on; returns its exit code.
 */
export async function enterPrivateNamespace(args: readonly string[], euid: number): Promise<number> {
	const flags = namespaceFlags(euid);
	const probe = await execa('unshare', [...flags, 'true'], {reject: false, all: true, stdin: 'ignore'});
	if (probe.exitCode !== 0) {
		const why = String(probe.all ?? '').trim() || probe.code || probe.shortMessage;
		if (euid === 0)
			throw new OvlError(
				'OVL_MOUNT_FAILED',
				`cannot make a private mount namespace: ${why}`,
				'ovl shell needs unshare(1) from util-linux; ovl mount mounts without one',
			);
		throw new PrivilegeError(
			`ovl shell cannot make a user namespace here: ${why}`,
			'user namespaces are off (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, or an AppArmor/SELinux rule): run sudo ovl shell, or sudo ovl mount; `ovl doctor` shows both routes',
		);
	}
	const mountNs = (await ownMountNs()) ?? 'unknown';
	const end = args.indexOf('--');
	const inner =
		end < 0
			? [...args, `--in-namespace=${mountNs}`]
			: [...args.slice(0, end), `--in-namespace=${mountNs}`, ...args.slice(end)];
	const self = [process.argv[1] ?? 'ovl', ...inner];
	// unshare execs ovl (no --fork), so the child's pid is the inner ovl: signals reach it directly.
	const r = await runPassingSignals('unshare', [...flags, process.execPath, ...self], {graceMs: 20_000});
	return r.exitCode;
}

export type ShellSession = {
	/** The stack as mounted (userxattr added in a user namespace). */
	readonly stack: Stack;
	readonly command: readonly string[];
	readonly userns: boolean;
	/** "uid 1000 is root here", from /proc/self/uid_map; undefined outside a user namespace. */
	readonly mappedUid: number | undefined;
	readonly findings: readonly Finding[];
};

export type ShellResult = {
	readonly session: ShellSession;
	readonly exitCode: number;
	readonly signal?: NodeJS.Signals;
	/** The signal ovl received and passed on. */
	readonly received?: NodeJS.Signals;
	readonly spawnError?: string;
	/** How the overlay went away: umount, umount -l (something still used it), or it could not be unmounted (the namespace drops it on exit). */
	readonly unmount: 'umount' | 'lazy' | 'failed';
	readonly unmountOutput: string;
};

export type ShellFlowOptions = {
	/** The argument the outer ovl gave: its own mount namespace, which this one must not be. */
	readonly outerNamespace: string;
	readonly command: readonly string[];
	readonly env: NodeJS.ProcessEnv;
	readonly onMounted: (session: ShellSession) => void;
	readonly onSignal?: (signal: NodeJS.Signals) => void;
	/** How long a child may ignore a passed-on signal before SIGHUP, then SIGKILL. */
	readonly graceMs?: number;
};

const hasUserxattr = (stack: Stack): boolean => stack.options.some((o) => o.key === 'userxattr');

async function mappedUid(): Promise<number | undefined> {
	const map = await readFile('/proc/self/uid_map', 'utf8').catch(() => '');
	const [inside, outside] = map.trim().split(/\s+/).map(Number);
	return inside === 0 && outside !== undefined && Number.isFinite(outside) && outside !== 0 ? outside : undefined;
}

/**
 Where sessions on one stack exclude each other (and, as root, `ovl mount` of the same paths,
 which waits on the same lock): the shared registry's locks, or as a user $XDG_RUNTIME_DIR/ovl.
 A private namespace hides the mount from other ovl processes' validation: this lock is what
 stops two overlays writing one upper.
 */
function sessionLockDir(env: NodeJS.ProcessEnv, userns: boolean): string | undefined {
	if (!userns) return path.join(defaultRegistryDir(env), 'locks');
	const runtime = env['XDG_RUNTIME_DIR'];
	return runtime ? path.join(runtime, 'ovl', 'locks') : undefined;
}

/**
 Inside the namespace: mount the stack (a registry in a temp dir: the record describes a mount
 no other namespace sees), run the command in the merged dir, unmount when it exits.
 */
export async function shellFlow(input: Stack, o: ShellFlowOptions, deps: Deps): Promise<ShellResult> {
	const here = await ownMountNs();
	if (here === undefined || here === o.outerNamespace)
		throw new UsageError(
			'--in-namespace is internal: this ovl is not in a mount namespace of its own',
			'run ovl shell without it',
		);
	const userns = deps.euid !== 0 || (await isInUserNamespace());
	const stack: Stack =
		userns && !hasUserxattr(input) ? {...input, options: [...input.options, {key: 'userxattr'}]} : input;
	const shell = o.env['SHELL'];
	const command = o.command.length > 0 ? o.command : [shell !== undefined && shell !== '' ? shell : '/bin/sh'];
	const keys = [stack.merged, ...[stack.upper, stack.work].filter((p): p is string => p !== undefined)];
	const lockDir = sessionLockDir(o.env, userns);
	const lock: Held = lockDir === undefined ? {release: () => undefined} : await lockPaths(lockDir, keys, 0);
	const registryDir = await mkdtemp(path.join(os.tmpdir(), 'ovl-shell-'));
	const forget = onInterrupt(async () => rm(registryDir, {recursive: true, force: true}));
	try {
		const sessionDeps = withRegistry(deps, registryDir);
		const outcome = await mountStack(stack, {dryRun: false}, sessionDeps);
		const session: ShellSession = {
			stack,
			command,
			userns,
			mappedUid: userns ? await mappedUid() : undefined,
			findings: outcome.findings,
		};
		o.onMounted(session);
		const [file = '/bin/sh', ...args] = command;
		const run = await runPassingSignals(file, args, {
			cwd: stack.merged,
			graceMs: o.graceMs ?? 3000,
			...(o.onSignal === undefined ? {} : {onSignal: o.onSignal}),
		});
		// Signals during the unmount are ignored: it is short, and stopping it half-way helps nobody.
		const give = takeSignals(() => undefined);
		try {
			// After a signal the session is over: what the command left running in this namespace
			// (a background job ignoring the signal) goes too, so nothing keeps the mount alive.
			if (run.received !== undefined) await endNamespace(here);
			const off = await unmountOurs(stack.merged, sessionDeps);
			await sessionDeps.registry.remove(stack.merged).catch(() => undefined);
			return {
				session,
				exitCode: run.exitCode,
				...(run.signal === undefined ? {} : {signal: run.signal}),
				...(run.received === undefined ? {} : {received: run.received}),
				...(run.spawnError === undefined ? {} : {spawnError: run.spawnError}),
				unmount: off.how,
				unmountOutput: off.output,
			};
		} finally {
			give();
		}
	} finally {
		forget();
		lock.release();
		await rm(registryDir, {recursive: true, force: true});
	}
}

/**
 Runs a session's command in the current directory (looked up again, so it resolves through
 overlays mounted on it since ovl started), passing signals on; afterwards whatever the command
 left running in this namespace is killed, so nothing keeps writing or holds the mounts.
 */
export async function runInSession(
	command: readonly string[],
	ns: string,
): Promise<{exitCode: number; signal?: NodeJS.Signals; received?: NodeJS.Signals; spawnError?: string}> {
	const [file = '/bin/sh', ...args] = command;
	const run = await runPassingSignals(file, args, {cwd: process.cwd(), graceMs: 3000});
	await endNamespace(ns);
	return run;
}

/** SIGKILLs every other process in mount namespace `ns` (only this session's own processes are in it). */
async function endNamespace(ns: string): Promise<void> {
	const pids = (await readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number);
	const left: number[] = [];
	for (const pid of pids) {
		if (pid === process.pid) continue;
		if ((await readlink(`/proc/${pid}/ns/mnt`).catch(() => undefined)) !== ns) continue;
		try {
			process.kill(pid, 'SIGKILL');
			left.push(pid);
		} catch {
			// gone, or not ours
		}
	}
	// Give the kernel a moment to release their cwd and open files.
	for (let i = 0; i < 20 && left.some((pid) => existsSync(`/proc/${pid}/ns`)); i++)
		await new Promise((r) => setTimeout(r, 25));
}

async function unmountOurs(merged: string, deps: Deps): Promise<{how: ShellResult['unmount']; output: string}> {
	const mounted = async (): Promise<boolean> =>
		(await deps.mountinfo()).some((e) => e.mountPoint === merged && e.fsType === 'overlay');
	const first = await deps.exec.umount(merged, false);
	if (first.ok && !(await mounted())) return {how: 'umount', output: ''};
	const lazy = await deps.exec.umount(merged, true);
	if (lazy.ok && !(await mounted())) return {how: 'lazy', output: first.output};
	return {how: 'failed', output: `${first.output}\n${lazy.output}`.trim()};
}

/** For messages: the merged dir and the layers, short. */
export function describeStack(stack: Stack): string {
	const lowers = stack.lowers.length === 1 ? '1 lower' : `${stack.lowers.length} lowers`;
	const upper =
		stack.upper === undefined ? `${lowers}, read-only` : `upper ${printablePath(stack.upper)} over ${lowers}`;
	return `${printablePath(stack.merged)} (${upper})`;
}
