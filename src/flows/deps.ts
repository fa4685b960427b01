import type {MountInfoEntry, MountPlan} from '../core/types.js';
import type {ToolResult} from '../io/exec.js';
import {effectiveUid, readMountinfo} from '../io/proc.js';
import {defaultRegistryDir, openRegistry, type Registry} from '../io/registry.js';

/**
 What a flow needs from the world, passed in instead of read from globals: the lab gives its
 own registry in a temp dir, tests give a fake terminal and clock, doctor and lab a mount(8)
 that behaves like the real one because it is the real one.
 */
export type Deps = {
	readonly registry: Registry;
	readonly now: () => Date;
	readonly euid: number;
	readonly terminal: {readonly rows: number; readonly columns: number};
	readonly exec: {
		readonly mount: (plan: MountPlan) => Promise<ToolResult>;
		readonly umount: (target: string, lazy: boolean) => Promise<ToolResult>;
	};
	readonly mountinfo: () => Promise<MountInfoEntry[]>;
};

/** The real process: env, euid, the terminal on stdout, mount(8) and /proc. */
export function processDeps(env: NodeJS.ProcessEnv = process.env): Deps {
	return {
		registry: openRegistry(defaultRegistryDir(env)),
		now: () => new Date(),
		euid: effectiveUid(),
		terminal: {rows: process.stdout.rows || 40, columns: process.stdout.columns || 100},
		// execa is loaded when a command first runs mount(8)/umount(8), not at start-up (~100 ms).
		exec: {
			mount: async (plan) => (await import('../io/exec.js')).runMount(plan),
			umount: async (target, lazy) => (await import('../io/umount.js')).runUmount(target, lazy),
		},
		mountinfo: () => readMountinfo(),
	};
}

/** The same world with another registry (the lab keeps its mounts' records in its temp dir). */
export const withRegistry = (deps: Deps, dir: string): Deps => ({...deps, registry: openRegistry(dir)});
