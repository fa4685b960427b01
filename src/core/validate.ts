import {atLeast, type PathFacts, type StackFacts} from './facts.js';
import {encodePath} from './bytes.js';
import {finding} from './finding.js';
import {hasFlag, validateOptions} from './options.js';
import {isSameOrInside} from './paths.js';
import type {Finding, Stack} from './types.js';

/** OVL_MAX_STACK in fs/overlayfs/params.h: lower layers, data-only ones included. */
export const maxLowerLayers = 500;

type Role = {readonly name: string; readonly kind: 'lower' | 'upper' | 'work'; readonly facts: PathFacts};

/** Every check the kernel makes (or silently skips) before a mount, as findings. Pure. */
/** PATH_MAX, with its NUL: kern_path() refuses a longer name with ENAMETOOLONG. */
const pathMax = 4096;

export function validateStack(stack: Stack, facts: StackFacts): Finding[] {
	const hasUpper = stack.upper !== undefined;
	const all = roles(facts);
	return [
		...privilege(facts),
		...shape(stack),
		...validateOptions(stack.options, {
			hasUpper,
			version: facts.kernel.version,
			hasDataOnly: stack.lowers.some((l) => l.dataOnly),
		}),
		...userNamespace(stack, facts),
		...existence(all),
		...overlaps(all),
		...upperAndWork(facts, hasFlag(stack.options, 'userxattr')),
		...mergedChecks(facts, all),
		...inUse(facts),
	];
}

function roles(facts: StackFacts): Role[] {
	const out: Role[] = facts.lowers.map((f, i) => ({name: `lower ${i + 1}`, kind: 'lower', facts: f}));
	if (facts.upper) out.push({name: 'upper', kind: 'upper', facts: facts.upper});
	if (facts.work) out.push({name: 'work', kind: 'work', facts: facts.work});
	return out;
}

function privilege(facts: StackFacts): Finding[] {
	if (facts.host.euid === 0) return [];
	return [
		finding(
			'OVL_NEEDS_ROOT',
			'error',
			"mounting an overlay needs root (CAP_SYS_ADMIN in the mount namespace's user namespace)",
			'run with sudo; without root, `ovl shell DIR` mounts the stack in a user namespace for one shell ' +
				'(unmounted when it exits). By hand: `unshare --user --map-root-user --mount` with -o userxattr, ' +
				'but that mount dies with that namespace',
		),
	];
}

function shape(stack: Stack): Finding[] {
	const out: Finding[] = [];
	const regular = stack.lowers.filter((l) => !l.dataOnly).length;
	if (stack.lowers.length === 0)
		out.push(
			finding('OVL_NO_LOWER', 'error', 'no lower layer given', 'add at least one --lower (two without an upper)'),
		);
	else if (regular === 0)
		out.push(
			finding(
				'OVL_ONLY_DATA_LAYERS',
				'error',
				'every lower layer is data-only; at least one regular lower layer is required',
				'make the top lower a regular layer',
			),
		);
	else if (stack.upper === undefined && regular < 2)
		out.push(
			finding(
				'OVL_TOO_FEW_LOWERS',
				'error',
				'a read-only overlay (no upper) needs at least 2 regular lower layers',
				'add another --lower, or add --upper and --work',
			),
		);
	if (stack.lowers.length > maxLowerLayers)
		out.push(
			finding(
				'OVL_TOO_MANY_LOWERS',
				'error',
				`${stack.lowers.length} lower layers; the kernel's limit is ${maxLowerLayers} (OVL_MAX_STACK)`,
				'squash some layers together (e.g. copy several lowers into one directory)',
			),
		);
	// Bottom→top: data-only layers must all come first (the kernel wants them after `::`, at the bottom).
	const firstRegular = stack.lowers.findIndex((l) => !l.dataOnly);
	const misplaced = stack.lowers.findIndex((l, i) => l.dataOnly && firstRegular >= 0 && i > firstRegular);
	if (misplaced >= 0)
		out.push(
			finding(
				'OVL_DATA_ONLY_NOT_BOTTOM',
				'error',
				`data-only layer ${stack.lowers[misplaced]?.path} sits above a regular layer`,
				'list data-only layers first (at the bottom of the stack)',
				stack.lowers[misplaced]?.path,
			),
		);
	if (stack.upper !== undefined && stack.work === undefined)
		out.push(
			finding(
				'OVL_MISSING_WORK',
				'error',
				'an upper layer needs a work directory (the kernel says "missing \'workdir\'")',
				'add --work DIR on the same mount as the upper, e.g. a sibling of it',
			),
		);
	if (stack.upper === undefined && stack.work !== undefined)
		out.push(
			finding(
				'OVL_OPTION_USELESS',
				'info',
				'a work directory without an upper layer is ignored by the kernel',
				'drop --work, or add --upper',
			),
		);
	return out;
}

function userNamespace(stack: Stack, facts: StackFacts): Finding[] {
	if (!facts.host.inUserNamespace || hasFlag(stack.options, 'userxattr') || stack.upper === undefined) return [];
	const hint = atLeast(facts.kernel.version, 5, 11)
		? 'add -o userxattr (user.overlay.* xattrs work in a user namespace)'
		: 'this kernel is older than 5.11 and has no userxattr; mount as real root';
	return [
		finding(
			'OVL_NEEDS_USERXATTR',
			'warning',
			'running in a user namespace: trusted.overlay.* xattrs cannot be written here',
			hint,
		),
	];
}

function existence(all: readonly Role[]): Finding[] {
	const out: Finding[] = [];
	for (const r of all) {
		const f = r.facts;
		// A UTF-16 unit is at most 3 bytes of UTF-8: only a long string needs encoding to be sure.
		if (f.path.length * 3 >= pathMax && encodePath(f.path).length >= pathMax) {
			out.push(
				finding(
					'OVL_PATH_TOO_LONG',
					'error',
					`${r.name} is ${encodePath(f.path).length} bytes long; the kernel takes paths of at most ${pathMax - 1} bytes`,
					'move the layer to a shorter path, or bind-mount it somewhere shorter',
					f.path,
				),
			);
			continue;
		}
		if (!f.exists) {
			if (r.kind === 'lower')
				out.push(
					finding(
						'OVL_LAYER_MISSING',
						'error',
						`${r.name} does not exist: ${f.path}`,
						'create it (ovl prepare does) or fix the path',
						f.path,
					),
				);
			else if (f.parentMissing)
				out.push(
					finding(
						'OVL_PARENT_MISSING',
						'error',
						`${r.name} ${f.path} does not exist, nor does its parent; ovl creates only the last component`,
						'create the parent directory first, or lay the stack out with ovl prepare',
						f.path,
					),
				);
			else
				out.push(
					finding(
						'OVL_WILL_CREATE',
						'info',
						`${r.name} ${f.path} does not exist; ovl will create it`,
						'nothing to do',
						f.path,
					),
				);
		} else if (!f.isDirectory) {
			out.push(
				finding(
					'OVL_LAYER_NOT_DIR',
					'error',
					`${r.name} is not a directory: ${f.path}`,
					'every layer must be a directory',
					f.path,
				),
			);
		}
	}
	return out;
}

const canonical = (f: PathFacts): string => f.realPath ?? f.path;

function overlaps(all: readonly Role[]): Finding[] {
	const out: Finding[] = [];
	const byPath = new Map<string, Role>();
	for (const r of all) {
		const p = canonical(r.facts);
		const other = byPath.get(p);
		if (other) {
			if (other.kind === 'upper' && r.kind === 'work')
				out.push(
					finding(
						'OVL_WORK_UPPER_NESTED',
						'error',
						`upper and work are the same directory: ${p}`,
						'upper and work must be separate subtrees: make them siblings, e.g. DIR/upper and DIR/work',
						p,
					),
				);
			else
				out.push(
					finding(
						'OVL_LAYER_DUPLICATE',
						'error',
						`${other.name} and ${r.name} are the same directory: ${p}`,
						'use each directory once (the kernel says "conflicting … path", ELOOP)',
						p,
					),
				);
		} else byPath.set(p, r);
	}
	// Walk each path's ancestors through the map: O(layers × depth), fine for 500 layers.
	for (const r of all) {
		const p = canonical(r.facts);
		for (let a = parent(p); a !== undefined; a = parent(a)) {
			const outer = byPath.get(a);
			if (!outer || outer === r) continue;
			out.push(nested(r, outer, p, a));
		}
	}
	return out;
}

function nested(inner: Role, outer: Role, innerPath: string, outerPath: string): Finding {
	const pair = new Set([inner.kind, outer.kind]);
	if (pair.has('upper') && pair.has('work') && pair.size === 2) {
		return finding(
			'OVL_WORK_UPPER_NESTED',
			'error',
			`${inner.name} (${innerPath}) is inside ${outer.name} (${outerPath})`,
			'upper and work must be separate subtrees: make them siblings, e.g. DIR/upper and DIR/work',
		);
	}
	const extra =
		inner.kind === 'upper' && outer.kind === 'lower'
			? ' The kernel mounts this, then fails lookups with ELOOP ("overlapping layers").'
			: ' The kernel refuses this with ELOOP ("overlapping … path").';
	return finding(
		'OVL_LAYER_OVERLAP',
		'error',
		`${inner.name} (${innerPath}) is inside ${outer.name} (${outerPath}).${extra}`,
		'layers must not contain each other: move them side by side',
		innerPath,
	);
}

function parent(p: string): string | undefined {
	if (p === '/') return undefined;
	const i = p.lastIndexOf('/');
	return i <= 0 ? '/' : p.slice(0, i);
}

function upperAndWork(facts: StackFacts, userxattr: boolean): Finding[] {
	const out: Finding[] = [];
	const {upper, work} = facts;
	for (const [name, f] of [
		['upper', upper],
		['work', work],
	] as const) {
		const m = f?.mount;
		if (!f || !m) continue;
		if (m.fsType === 'overlay')
			out.push(
				finding(
					'OVL_UPPER_ON_OVERLAY',
					'error',
					`${name} ${f.path} is on an overlay filesystem (mounted at ${m.mountPoint}); the kernel refuses it as upperdir`,
					'put upper and work on a real local filesystem (ext4, xfs, btrfs, tmpfs)',
					f.path,
				),
			);
		if (m.mountOptions.includes('ro') || m.superOptions.includes('ro'))
			out.push(
				finding(
					'OVL_UPPER_READONLY',
					'error',
					`${name} ${f.path} is on a read-only mount (${m.mountPoint})`,
					'remount it read-write, or choose a writable place',
					f.path,
				),
			);
		if (['nfs', 'nfs4', 'cifs', 'smb3', '9p', 'fuse'].includes(m.fsType) || m.fsType.startsWith('fuse.'))
			out.push(
				finding(
					'OVL_UPPER_FS_UNSUITABLE',
					'warning',
					`${name} is on ${m.fsType}, which usually lacks d_type, whiteouts or trusted xattrs`,
					'use a local filesystem; run `ovl doctor --path DIR` to test it',
					f.path,
				),
			);
	}
	// tmpfs gained user.* xattrs in 6.6; before that a userxattr overlay on tmpfs fails later, on
	// the first whiteout of a directory (EIO, "failed to set xattr on upper"). Seen on Debian 6.1.
	if (
		upper?.mount?.fsType === 'tmpfs' &&
		facts.kernel.version[0] > 0 &&
		!atLeast(facts.kernel.version, 6, 6) &&
		userxattr
	) {
		out.push(
			finding(
				'OVL_USERXATTR_TMPFS',
				'error',
				`upper ${upper.path} is on tmpfs, which has no user.* xattrs before Linux 6.6 ` +
					`(this is ${facts.kernel.version.join('.')}): removing a lower directory would fail with EIO`,
				'put upper and work on ext4 or xfs, drop userxattr (as real root), or use Linux 6.6+',
				upper.path,
			),
		);
	}
	if (upper?.mount && work?.mount && upper.mount.mountId !== work.mount.mountId) {
		const same = upper.mount.majorMinor === work.mount.majorMinor;
		out.push(
			finding(
				'OVL_WORK_NOT_SAME_MOUNT',
				'error',
				`work (${work.path}, mount ${work.mount.mountPoint}) is not on the same mount as upper ` +
					`(${upper.path}, mount ${upper.mount.mountPoint})` +
					(same ? '; same filesystem, but a different mount (bind mount) is not enough' : ''),
				'create the work dir next to the upper dir (ovl prepare does this)',
			),
		);
	}
	const incompat = work?.incompat ?? [];
	if (incompat.length > 0)
		out.push(
			finding(
				'OVL_WORK_INCOMPAT',
				'error',
				`work dir has work/incompat/${incompat.join(', ')}: the kernel refuses to mount ("overlay with incompat feature '${incompat[0]}' cannot be mounted")`,
				incompat.includes('volatile')
					? 'a volatile mount was not cleanly synced: the upper may be inconsistent. Throw away upper and ' +
							'work and start fresh, or delete work/work/incompat if you accept the risk'
					: 'remove work/work/incompat, or use a fresh work dir',
				work?.path,
			),
		);
	const junk = (work?.entries ?? []).filter((n) => n !== 'work' && n !== 'index');
	if (junk.length > 0)
		out.push(
			finding(
				'OVL_WORK_NOT_EMPTY',
				'info',
				`work dir holds ${junk.length} other entr${junk.length === 1 ? 'y' : 'ies'} (${junk.slice(0, 3).join(', ')}); the kernel ignores them`,
				'use an empty work dir to keep things clear',
				work?.path,
			),
		);
	return out;
}

function mergedChecks(facts: StackFacts, all: readonly Role[]): Finding[] {
	const out: Finding[] = [];
	const m = canonical(facts.merged);
	if (!facts.merged.exists && facts.merged.parentMissing)
		out.push(
			finding(
				'OVL_PARENT_MISSING',
				'error',
				`mount point ${facts.merged.path} does not exist, nor does its parent`,
				'create the parent directory first (ovl creates only the mount point itself)',
				facts.merged.path,
			),
		);
	if (facts.merged.exists && !facts.merged.isDirectory)
		out.push(
			finding(
				'OVL_LAYER_NOT_DIR',
				'error',
				`mount point is not a directory: ${facts.merged.path}`,
				'choose a directory',
				facts.merged.path,
			),
		);
	for (const r of all) {
		const p = canonical(r.facts);
		if (p === m)
			out.push(
				finding(
					'OVL_MERGED_IS_LAYER',
					'error',
					`the mount point is ${r.name} itself (${p}): mounting would hide that layer`,
					'use a separate, empty directory such as DIR/merged',
					p,
				),
			);
		else if (isSameOrInside(m, p))
			out.push(
				finding(
					'OVL_MERGED_INSIDE_LAYER',
					r.kind === 'lower' ? 'warning' : 'error',
					`the mount point is inside ${r.name} (${p})`,
					'put the mount point beside the layers, not inside one',
					m,
				),
			);
		else if (isSameOrInside(p, m))
			out.push(
				finding(
					'OVL_LAYER_INSIDE_MERGED',
					'warning',
					`${r.name} (${p}) is inside the mount point and will be hidden by the mount`,
					'keep layers outside the mount point',
					p,
				),
			);
	}
	// Mounting hides what the directory holds (/etc, a home): say so before it happens.
	const held = facts.merged.entries?.length ?? 0;
	if (facts.merged.exists && facts.merged.isDirectory && held > 0)
		out.push(
			finding(
				'OVL_MERGED_NOT_EMPTY',
				'error',
				`the mount point ${facts.merged.path} is not empty (${held} entr${held === 1 ? 'y' : 'ies'}); the mount would hide them until it is unmounted`,
				'mount on an empty directory such as DIR/merged; --force mounts over it anyway',
				facts.merged.path,
			),
		);
	const existing = facts.host.overlays.findLast((o) => o.entry.mountPoint === m);
	if (existing)
		out.push(
			finding(
				'OVL_ALREADY_MOUNTED',
				'error',
				`an overlay is already mounted on ${m}`,
				`unmount it first: ovl umount ${m}`,
				m,
			),
		);
	return out;
}

function inUse(facts: StackFacts): Finding[] {
	const out: Finding[] = [];
	const ours = {upper: facts.upper && canonical(facts.upper), work: facts.work && canonical(facts.work)};
	const lowers = new Set(facts.lowers.map(canonical));
	for (const o of facts.host.overlays) {
		const where = o.entry.mountPoint;
		for (const [name, p] of Object.entries(ours)) {
			if (p === undefined) continue;
			if (p === o.layers.upper || p === o.layers.work)
				out.push(
					finding(
						'OVL_UPPER_IN_USE',
						'error',
						`${name} ${p} is already the upper/work dir of the overlay on ${where}`,
						`two overlays writing one upper corrupt each other (the kernel only warns with index=off); unmount it first: ovl umount ${where}`,
						p,
					),
				);
			else if (o.layers.lowers.some((l) => l.path === p))
				out.push(
					finding(
						'OVL_UPPER_IS_LOWER_ELSEWHERE',
						'warning',
						`${name} ${p} is a lower layer of the overlay on ${where}`,
						"writing here changes a mounted lower: that overlay's behaviour becomes undefined",
					),
				);
		}
		if (o.layers.upper !== undefined && lowers.has(o.layers.upper))
			out.push(
				finding(
					'OVL_LOWER_IS_UPPER_ELSEWHERE',
					'warning',
					`lower ${o.layers.upper} is the upper of the overlay on ${where}, so it can change under this mount`,
					'mount a snapshot of it instead, or unmount the other overlay first',
				),
			);
	}
	return out;
}
