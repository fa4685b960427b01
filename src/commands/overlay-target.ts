import path from 'node:path';
import {topMountAt} from '../core/mountinfo.js';
import {stackFileName} from '../core/stack-name.js';
import type {MountInfoEntry} from '../core/types.js';
import {realpathExact as realpath, resolvePaths, type Resolved} from '../io/exact-fs.js';

/** Canonical form: realpath for what exists, realpath(parent)/name for what ovl will create. */
export async function canonicalPath(p: string): Promise<string> {
	try {
		return await realpath(p);
	} catch {
		const parent = await realpath(path.dirname(p)).catch(() => path.dirname(p));
		return path.join(parent, path.basename(p));
	}
}

/** canonicalPath of many paths, with what resolving each found: what exists resolved in one call (a 500-layer stack). */
export async function canonicalPaths(paths: readonly string[]): Promise<{paths: string[]; resolved: Resolved[]}> {
	const resolved = resolvePaths(paths);
	const canonical = await Promise.all(
		paths.map(async (p, i) => {
			const r = resolved[i];
			return r && 'real' in r ? r.real : canonicalPath(p);
		}),
	);
	return {paths: canonical, resolved};
}

/**
 The overlay a user means by a path: the mount point itself, or a stack dir (what `ovl mount DIR`
 took), whose ovl.yaml names the mount point. Returns the canonical path to act on.
 */
export async function overlayTarget(given: string, cwd: string, entries: readonly MountInfoEntry[]): Promise<string> {
	const target = await canonicalPath(path.resolve(cwd, given));
	if (topMountAt(entries, target)) return target;
	const file = path.join(target, stackFileName);
	try {
		const {readUserFile} = await import('../io/beneath.js');
		const text = readUserFile(file, 1 << 20, 'stack file').toString('utf8');
		// Only here does a stack file get parsed: umount and inspect of a mount point skip the YAML parser.
		const {parseStackFile, resolveStackFile} = await import('../core/stack-file.js');
		const merged = await canonicalPath(resolveStackFile(parseStackFile(text, file), target).merged);
		if (topMountAt(entries, merged)) return merged;
	} catch {
		// not a stack dir (or an unreadable stack file): the path is what the user meant
	}
	return target;
}
