import type {MountInfoEntry, OverlayMount} from './types.js';

/** What ovl knows about one path before mounting (gathered by io/probe, never by the core). */
export type PathFacts = {
	/** Absolute path as the user gave it (resolved against the stack dir or cwd). */
	readonly path: string;
	readonly exists: boolean;
	readonly isDirectory: boolean;
	/** Canonical path (symlinks resolved); set when it exists. */
	readonly realPath?: string;
	/** The mount containing realPath. */
	readonly mount?: MountInfoEntry;
	/** For a missing path: its parent is missing too (ovl only creates the last component). */
	readonly parentMissing?: boolean;
	/** Top-level names (work dir only). */
	readonly entries?: readonly string[];
	/** Names inside work/work/incompat (work dir only): the kernel refuses to mount when any exist. */
	readonly incompat?: readonly string[];
};

export type KernelFacts = {
	readonly release: string;
	/** [major, minor] parsed from the release, e.g. [6, 18]. */
	readonly version: readonly [number, number];
	readonly overlayListed: boolean;
	/** /sys/module/overlay/parameters/*, e.g. {index: 'N', redirect_dir: 'N'}. */
	readonly params: Readonly<Record<string, string>>;
	readonly pageSize: number;
};

export type HostFacts = {
	readonly euid: number;
	/** Not the initial user namespace (uid_map is not the identity over the full range). */
	readonly inUserNamespace: boolean;
	/** Overlay mounts on the host, with layer paths made absolute where ovl could resolve them. */
	readonly overlays: readonly OverlayMount[];
	readonly mountinfo: readonly MountInfoEntry[];
};

export type StackFacts = {
	readonly lowers: readonly PathFacts[];
	readonly upper?: PathFacts;
	readonly work?: PathFacts;
	readonly merged: PathFacts;
	readonly kernel: KernelFacts;
	readonly host: HostFacts;
};

export function atLeast(version: readonly [number, number], major: number, minor: number): boolean {
	return version[0] > major || (version[0] === major && version[1] >= minor);
}

export function parseKernelVersion(release: string): [number, number] {
	const m = /^(\d+)\.(\d+)/.exec(release);
	return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}
