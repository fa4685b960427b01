import {finding} from './finding.js';
import type {Code} from './codes.js';
import type {Finding, Severity} from './types.js';

type Rule = {readonly re: RegExp; readonly code: Code; readonly severity: Severity; readonly hint: string};

// Verbatim kernel messages (reference §4, seen on 6.18) mapped to a code and what to do.
const rules: readonly Rule[] = [
	{
		re: /workdir and upperdir must reside under the same mount/,
		code: 'OVL_WORK_NOT_SAME_MOUNT',
		severity: 'error',
		hint: 'create the work dir next to the upper dir, on the same mount',
	},
	{
		re: /workdir and upperdir must be separate subtrees/,
		code: 'OVL_WORK_UPPER_NESTED',
		severity: 'error',
		hint: 'make upper and work siblings',
	},
	{
		re: /missing '(workdir|lowerdir)'/,
		code: 'OVL_MISSING_LAYER_OPTION',
		severity: 'error',
		hint: 'give every layer the stack needs',
	},
	{
		re: /failed to resolve '.*': -2/,
		code: 'OVL_LAYER_MISSING',
		severity: 'error',
		hint: 'the path does not exist as the kernel saw it: check the layer paths',
	},
	{
		re: /failed to resolve/,
		code: 'OVL_LAYER_UNRESOLVED',
		severity: 'error',
		hint: 'check that every layer path exists and is reachable',
	},
	{re: /is not a directory/, code: 'OVL_LAYER_NOT_DIR', severity: 'error', hint: 'every layer must be a directory'},
	{
		re: /not supported as upperdir/,
		code: 'OVL_UPPER_ON_OVERLAY',
		severity: 'error',
		hint: 'put upper and work on a real local filesystem, not on an overlay',
	},
	{
		re: /filesystem on .* not supported/,
		code: 'OVL_FS_UNSUPPORTED',
		severity: 'error',
		hint: 'this filesystem cannot be an overlay layer (automount or special dentries)',
	},
	{
		re: /is read-only|upper fs is r\/o/,
		code: 'OVL_UPPER_READONLY',
		severity: 'error',
		hint: 'remount the upper filesystem read-write',
	},
	{
		re: /too many lower directories/,
		code: 'OVL_TOO_MANY_LOWERS',
		severity: 'error',
		hint: 'use at most 500 lower layers',
	},
	{
		re: /maximum fs stacking depth exceeded/,
		code: 'OVL_STACK_TOO_DEEP',
		severity: 'error',
		hint: 'an overlay may sit on at most one other overlay; use a non-overlay lower',
	},
	{
		re: /overlapping .* path|overlapping layers/,
		code: 'OVL_LAYER_OVERLAP',
		severity: 'error',
		hint: 'layers must not contain each other',
	},
	{re: /conflicting .* path/, code: 'OVL_LAYER_DUPLICATE', severity: 'error', hint: 'use each directory once'},
	{
		re: /conflicting options/,
		code: 'OVL_OPTION_CONFLICT',
		severity: 'error',
		hint: 'drop one of the conflicting options',
	},
	{
		re: /incompat feature '.*' cannot be mounted/,
		code: 'OVL_WORK_INCOMPAT',
		severity: 'error',
		hint: 'a volatile mount was not synced: throw away upper and work, or remove work/work/incompat if you accept the risk',
	},
	{
		re: /is in-use as upperdir\/workdir of another mount, mount with/,
		code: 'OVL_UPPER_IN_USE',
		severity: 'error',
		hint: 'unmount the other overlay first (ovl ls shows it)',
	},
	{
		re: /is in-use as upperdir\/workdir of another mount/,
		code: 'OVL_UPPER_IN_USE',
		severity: 'warning',
		hint: 'two overlays share a layer: unmount one of them',
	},
	{
		re: /at least 2 lowerdir are needed/,
		code: 'OVL_TOO_FEW_LOWERS',
		severity: 'error',
		hint: 'add a lower layer, or an upper and work dir',
	},
	{
		re: /lower data-only dirs require metacopy support/,
		code: 'OVL_DATA_ONLY_NEEDS_METACOPY',
		severity: 'error',
		hint: 'add -o metacopy=on (measured: Debian 6.12 requires it, 6.18 does not)',
	},
	{
		re: /at least one non-data lowerdir is required/,
		code: 'OVL_ONLY_DATA_LAYERS',
		severity: 'error',
		hint: 'make the top lower a regular layer',
	},
	{
		re: /regular lower layers cannot follow data/,
		code: 'OVL_DATA_ONLY_NOT_BOTTOM',
		severity: 'error',
		hint: 'data-only layers go at the bottom',
	},
	{
		re: /requires permission to access trusted xattrs|try mounting with 'userxattr'/,
		code: 'OVL_NEEDS_USERXATTR',
		severity: 'error',
		hint: 'add -o userxattr (in a user namespace trusted.* xattrs are off limits)',
	},
	{
		re: /Unknown parameter|Bad value for/,
		code: 'OVL_OPTION_INVALID',
		severity: 'error',
		hint: 'check the option name and value (ovl mount --dry-run lists what is passed)',
	},
	{
		re: /upper fs needs to support d_type/,
		code: 'OVL_UPPER_NO_DTYPE',
		severity: 'warning',
		hint: 'reformat the upper fs with d_type (xfs: mkfs.xfs -n ftype=1; ext4: tune2fs -O filetype)',
	},
	{
		re: /does not support RENAME_WHITEOUT|does not support tmpfile/,
		code: 'OVL_UPPER_DEGRADED',
		severity: 'warning',
		hint: 'the upper filesystem lacks a feature overlay uses; prefer ext4, xfs or tmpfs',
	},
	{
		re: /failed to set xattr on upper|falling back to/,
		code: 'OVL_FEATURE_FALLBACK',
		severity: 'warning',
		hint: 'the kernel turned a feature off; see `ovl doctor --path DIR`',
	},
	{
		re: /failed to verify upper root origin|failed to verify index dir|try deleting index dir/,
		code: 'OVL_INDEX_MISMATCH',
		severity: 'error',
		hint: 'the upper was indexed against other lowers: mount with -o index=off, or delete work/index',
	},
	{
		re: /failed to create directory .*mounting read-only/,
		code: 'OVL_WORK_SETUP_FAILED',
		severity: 'error',
		hint: 'the work dir could not be cleaned (immutable file?); use a fresh work dir',
	},
	{
		re: /Cannot mount volatile when upperdir has an unseen error/,
		code: 'OVL_VOLATILE_ERROR',
		severity: 'error',
		hint: 'sync the upper filesystem to clear the error',
	},
];

/** One kernel log message (already stripped of its syslog prefix) as a finding. */
export function kernelLineFinding(line: string): Finding {
	const rule = rules.find((r) => r.re.test(line));
	return rule
		? finding(rule.code, rule.severity, `kernel: ${line}`, rule.hint)
		: finding('OVL_KERNEL_MESSAGE', 'info', `kernel: ${line}`, 'see Documentation/filesystems/overlayfs.rst');
}

export const isOverlayLine = (message: string): boolean => /^overlay(fs)?: /.test(message);
