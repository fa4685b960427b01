import path from 'node:path';

/** True when `child` is `parent` itself or lies below it (both absolute and normalised). */
export function isSameOrInside(child: string, parent: string): boolean {
	if (child === parent) return true;
	const base = parent.endsWith('/') ? parent : `${parent}/`;
	return child.startsWith(base);
}

/** The deepest directory containing every path (all absolute). */
export function commonAncestor(paths: readonly string[]): string {
	if (paths.length === 0) return '/';
	let parts = (paths[0] ?? '/').split('/');
	for (const p of paths.slice(1)) {
		const other = p.split('/');
		let i = 0;
		while (i < parts.length && i < other.length && parts[i] === other[i]) i++;
		parts = parts.slice(0, i);
	}
	const joined = parts.join('/');
	return joined === '' ? '/' : joined;
}

/**
 Resolves a user-relative path inside `root`, refusing anything that would land outside it:
 absolute paths, `..` that climbs out, empty names. Pure: symlinks are checked by the caller.
 */
export function resolveInside(root: string, relative: string): string | undefined {
	if (relative === '' || relative.includes('\0') || path.isAbsolute(relative)) return undefined;
	const resolved = path.resolve(root, relative);
	if (resolved === root || !isSameOrInside(resolved, root)) return undefined;
	return resolved;
}

/** Where an overlay redirect xattr points: absolute from the layer root, or a sibling of the entry. */
export function resolveRedirect(entryPath: string, value: string): string {
	if (value.startsWith('/')) return value;
	const parent = entryPath.slice(0, entryPath.lastIndexOf('/'));
	return `${parent}/${value}`;
}

/** JS string order (UTF-16 code units), the order inspect's paths are listed in. */
export const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Whether `xs` are in byText order of `key` already (one pass). */
export function inOrder<T>(xs: readonly T[], key: (x: T) => string): boolean {
	for (let i = 1; i < xs.length; i++) if (key(xs[i - 1] as T) > key(xs[i] as T)) return false;
	return true;
}

/** Sorts `xs` by `key` in place unless already in order (scans meet names mostly sorted). Returns xs. */
export function sortedBy<T>(xs: T[], key: (x: T) => string): T[] {
	return inOrder(xs, key) ? xs : xs.sort((a, b) => byText(key(a), key(b)));
}
