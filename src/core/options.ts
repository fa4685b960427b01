import {atLeast} from './facts.js';
import {finding} from './finding.js';
import type {Code} from './codes.js';
import type {Finding, MountOption} from './types.js';

// The overlay parameters of fs/overlayfs/params.c (ovl_parameter_spec), with their values.
const valued: Readonly<Record<string, readonly string[]>> = {
	redirect_dir: ['on', 'follow', 'nofollow', 'off'],
	index: ['on', 'off'],
	uuid: ['on', 'off', 'null', 'auto'],
	nfs_export: ['on', 'off'],
	xino: ['on', 'off', 'auto'],
	metacopy: ['on', 'off'],
	verity: ['off', 'on', 'require'],
	fsync: ['volatile', 'auto', 'strict'],
};
const flags = new Set(['userxattr', 'volatile', 'default_permissions', 'override_creds', 'nooverride_creds']);
// Generic VFS flags mount(8) turns into MS_* bits; safe to pass through.
const vfsFlags = new Set([
	'ro',
	'rw',
	'nosuid',
	'suid',
	'nodev',
	'dev',
	'noexec',
	'exec',
	'noatime',
	'atime',
	'relatime',
	'norelatime',
	'strictatime',
	'nodiratime',
	'diratime',
	'lazytime',
	'nolazytime',
	'sync',
	'async',
	'dirsync',
	'nosymfollow',
	'silent',
	'loud',
]);
const layerKeys = new Set(['lowerdir', 'upperdir', 'workdir', 'lowerdir+', 'datadir+']);

/** Parses `k=v` / `k` (from `--option`). */
export function parseOptionArg(arg: string): MountOption {
	const eq = arg.indexOf('=');
	return eq < 0 ? {key: arg} : {key: arg.slice(0, eq), value: arg.slice(eq + 1)};
}

export function renderOption(o: MountOption): string {
	return o.value === undefined ? o.key : `${o.key}=${o.value}`;
}

/** The last value set for a key (mount(2) lets later options override earlier ones). */
export function optionValue(options: readonly MountOption[], key: string): string | undefined {
	return options.findLast((o) => o.key === key)?.value;
}

export const hasFlag = (options: readonly MountOption[], key: string): boolean => options.some((o) => o.key === key);

/** What is wrong with one option on its own: an unknown key, a bad value, a value on a flag. */
export function optionProblem(o: MountOption): {code: Code; message: string; hint: string} | undefined {
	const allowed = valued[o.key];
	if (allowed) {
		if (o.value !== undefined && allowed.includes(o.value)) return undefined;
		const got = o.value === undefined ? 'no value' : `"${o.value}"`;
		return {
			code: 'OVL_OPTION_BAD_VALUE',
			message: `option "${o.key}" needs one of: ${allowed.join(', ')} (got ${got})`,
			hint: `write it as ${o.key}=${allowed[0]}`,
		};
	}
	if (flags.has(o.key) || vfsFlags.has(o.key))
		return o.value === undefined
			? undefined
			: {
					code: 'OVL_OPTION_BAD_VALUE',
					message: `option "${o.key}" is a flag and takes no value`,
					hint: `write it as just ${o.key}`,
				};
	return {
		code: 'OVL_OPTION_UNKNOWN',
		message: `unknown overlay option "${o.key}" (the kernel would log "Unknown parameter")`,
		hint: `known options: ${[...Object.keys(valued), ...flags].join(', ')}`,
	};
}

/**
 Checks each option on its own and against the others, as the kernel would (conflicts are
 EINVAL with "conflicting options: …" in the kernel log), plus version gates.
 */
export function validateOptions(
	options: readonly MountOption[],
	context: {hasUpper: boolean; version: readonly [number, number]; hasDataOnly: boolean},
): Finding[] {
	const out: Finding[] = [];
	const seen = new Set<string>();
	for (const o of options) {
		if (layerKeys.has(o.key)) {
			out.push(
				finding(
					'OVL_OPTION_LAYER_KEY',
					'error',
					`"${o.key}" cannot be given as an option`,
					'name layers with --lower/--lowerdir/--upper/--work or in the stack file, so ovl can order, check and escape them',
				),
			);
			continue;
		}
		if (seen.has(o.key))
			out.push(
				finding(
					'OVL_OPTION_DUPLICATE',
					'warning',
					`option "${o.key}" is given more than once; the last one wins`,
					'remove the duplicates',
				),
			);
		seen.add(o.key);
		const problem = optionProblem(o);
		if (problem) out.push(finding(problem.code, 'error', `${o.at ? `${o.at}: ` : ''}${problem.message}`, problem.hint));
	}
	out.push(...conflicts(options), ...gates(options, context));
	return out;
}

function conflicts(options: readonly MountOption[]): Finding[] {
	const out: Finding[] = [];
	const redirect = optionValue(options, 'redirect_dir');
	const metacopy = optionValue(options, 'metacopy');
	const index = optionValue(options, 'index');
	const nfs = optionValue(options, 'nfs_export');
	const userxattr = hasFlag(options, 'userxattr');
	const conflict = (what: string, hint: string): void => {
		out.push(
			finding(
				'OVL_OPTION_CONFLICT',
				'error',
				`conflicting options: ${what} (the kernel refuses this with EINVAL)`,
				hint,
			),
		);
	};
	// fs/overlayfs/params.c ovl_fs_params_verify, verified on 6.18 (reference §4).
	if (metacopy === 'on' && redirect !== undefined && redirect !== 'on')
		conflict(
			`metacopy=on,redirect_dir=${redirect}`,
			'metacopy needs redirect_dir=on; drop redirect_dir (metacopy turns it on) or set it to on',
		);
	if (nfs === 'on' && index === 'off') conflict('nfs_export=on,index=off', 'nfs_export needs index=on; drop index=off');
	if (nfs === 'on' && metacopy === 'on') conflict('nfs_export=on,metacopy=on', 'choose one of nfs_export and metacopy');
	if (userxattr && (redirect === 'on' || redirect === 'follow'))
		conflict(
			`userxattr,redirect_dir=${redirect}`,
			'with userxattr the kernel only allows redirect_dir=nofollow (or off)',
		);
	if (userxattr && metacopy === 'on')
		conflict(
			'userxattr,metacopy=on',
			'metacopy cannot be used with user.* xattrs: it would let unprivileged users redirect to any lower file',
		);
	return out;
}

function gates(
	options: readonly MountOption[],
	c: {hasUpper: boolean; version: readonly [number, number]; hasDataOnly: boolean},
): Finding[] {
	const out: Finding[] = [];
	const v = c.version;
	const known = v[0] > 0;
	if (known && hasFlag(options, 'userxattr') && !atLeast(v, 5, 11)) {
		out.push(
			finding(
				'OVL_KERNEL_TOO_OLD',
				'error',
				`userxattr needs Linux 5.11 or later; this kernel is ${v.join('.')}`,
				'mount as root without userxattr, or use a newer kernel',
			),
		);
	}
	if (known && c.hasDataOnly && !atLeast(v, 6, 5)) {
		out.push(
			finding(
				'OVL_KERNEL_TOO_OLD',
				'error',
				`data-only lower layers (::) need Linux 6.5 or later; this kernel is ${v.join('.')}`,
				'make the data-only layers regular lowers, or use a newer kernel',
			),
		);
	}
	if (known && optionValue(options, 'metacopy') === 'on' && !atLeast(v, 4, 19)) {
		out.push(
			finding(
				'OVL_KERNEL_TOO_OLD',
				'error',
				`metacopy needs Linux 4.19 or later; this kernel is ${v.join('.')}`,
				'drop metacopy=on',
			),
		);
	}
	if (!c.hasUpper) {
		for (const key of ['index', 'volatile', 'uuid'] as const) {
			const set = key === 'volatile' ? hasFlag(options, key) : optionValue(options, key) === 'on';
			if (set)
				out.push(
					finding(
						'OVL_OPTION_USELESS',
						'info',
						`"${key}${key === 'volatile' ? '' : '=on'}" does nothing without an upper layer; the kernel ignores it`,
						'drop it, or add --upper and --work',
					),
				);
		}
	}
	return out;
}

/**
 Options ovl adds unless the user chose otherwise: index=off where the kernel has the parameter,
 as Docker and containerd do, so a stale mount never makes the upper exclusive (EBUSY) and copied
 layers never fail with ESTALE.
 */
export function withDefaults(
	options: readonly MountOption[],
	context: {hasUpper: boolean; hasIndexParam: boolean},
): MountOption[] {
	const out = [...options];
	const nfsOn = optionValue(options, 'nfs_export') === 'on';
	if (context.hasUpper && context.hasIndexParam && !options.some((o) => o.key === 'index') && !nfsOn) {
		out.push({key: 'index', value: 'off'});
	}
	return out;
}
