// Domain types shared by the core, the I/O edges and the renderers. Plain data only.

import type {Code} from './codes.js';

export type Severity = 'error' | 'warning' | 'info';

/** One thing ovl or the kernel found wrong (or worth knowing) about a stack or a mount. */
export type Finding = {
	readonly code: Code;
	readonly severity: Severity;
	readonly message: string;
	readonly hint: string;
	readonly path?: string;
};

/** A lower layer as the user declares it. */
export type LowerLayer = {
	readonly path: string;
	/** Data-only layer (`::` in lowerdir, kernel 6.5+): only reachable through metacopy redirects. */
	readonly dataOnly: boolean;
};

/** A mount option: `key=value`, or a bare flag when value is undefined. */
export type MountOption = {
	readonly key: string;
	readonly value?: string;
	/** Where a stack file gave it ("ovl.yaml:7"), so a finding about it can say so. */
	readonly at?: string;
};

/**
 Lowers are listed bottom→top, the way people think about layers (like a Dockerfile).
 Only `kernelLowerOrder` turns them into the kernel's top-first `lowerdir=`.
 */
export type Stack = {
	readonly lowers: readonly LowerLayer[];
	readonly upper?: string;
	readonly work?: string;
	readonly merged: string;
	readonly options: readonly MountOption[];
};

export type Strategy = 'absolute' | 'relative' | 'fd';

/** How the option string will be passed, and what it costs against the page budget. */
export type MountPlan = {
	readonly stack: Stack;
	readonly strategy: Strategy | 'refused';
	/** The full `-o` value passed to mount(8). */
	readonly options: string;
	/** Working directory for mount(8) (the common ancestor for `relative`, /proc/self/fd for `fd`). */
	readonly cwd?: string;
	/** Layer paths opened as file descriptors, in the order they become fd 3, 4, … (strategy `fd`). */
	readonly fdPaths: readonly string[];
	readonly argv: readonly string[];
	readonly optionBytes: number;
	/** PAGE_SIZE-1: mount(2) silently truncates the data page beyond this. */
	readonly budget: number;
	readonly findings: readonly Finding[];
	/** Why each cheaper strategy was not used. */
	readonly notes: readonly string[];
};

export type OverlayLayers = {
	/** Top-first, as the kernel lists them; data-only layers last. */
	readonly lowers: readonly LowerLayer[];
	readonly upper?: string;
	readonly work?: string;
};

/** One line of /proc/<pid>/mountinfo. */
export type MountInfoEntry = {
	readonly mountId: number;
	readonly parentId: number;
	readonly majorMinor: string;
	readonly root: string;
	readonly mountPoint: string;
	readonly mountOptions: readonly string[];
	readonly optionalFields: readonly string[];
	readonly fsType: string;
	readonly source: string;
	readonly superOptions: readonly string[];
};

/** An overlay mount decoded from mountinfo. */
export type OverlayMount = {
	readonly entry: MountInfoEntry;
	/** Layers as recorded by the kernel (possibly relative: Docker's `l/…`, ovl's `fd` strategy). */
	readonly layers: OverlayLayers;
	/** Options other than lowerdir/upperdir/workdir, in mountinfo order. */
	readonly options: readonly MountOption[];
	readonly readOnly: boolean;
	readonly xattrNamespace: 'trusted' | 'user';
};
