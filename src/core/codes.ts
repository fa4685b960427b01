import {exitCodes, type ExitCode} from './exit-codes.js';
import type {Severity} from './types.js';

/**
 What one code means. `severity`: as a finding (a code that is only ever thrown is an error).
 `exit`: what ovl exits with when this code is why it stops: a validation error stops the mount
 with 2; an inspect/diff error finding exits 1 under --strict; a kernel log line becomes the code
 of a failed mount (1), whatever its severity; a thrown error has its own exit code; a warning or
 info that never stops a command has 0. A code with several (a validation code the kernel also
 logs, OVL_NEEDS_ROOT among other errors) has the usual one. `forceable: false`: an error --force
 does not override.
 */
export type CodeInfo = {
	readonly severity: Severity;
	readonly exit: ExitCode;
	readonly summary: string;
	readonly forceable?: boolean;
};

/** Every code ovl reports (README "Codes" is this table; test/unit/codes.test.ts keeps them equal). */
export const codes = {
	// mount: validation before mounting (src/core/validate.ts, options.ts, plan.ts), stack input, verify, umount
	OVL_NEEDS_ROOT: {
		severity: 'error',
		exit: exitCodes.privilege,
		summary: "mounting needs root: CAP_SYS_ADMIN in the mount namespace's user namespace",
		forceable: false,
	},
	OVL_NO_LOWER: {severity: 'error', exit: exitCodes.usage, summary: 'no lower layer given'},
	OVL_ONLY_DATA_LAYERS: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'every lower is data-only; the kernel needs at least one regular lower',
	},
	OVL_TOO_FEW_LOWERS: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a read-only overlay (no upper) needs at least 2 regular lowers',
	},
	OVL_TOO_MANY_LOWERS: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: "more than 500 lower layers, the kernel's limit",
	},
	OVL_DATA_ONLY_NOT_BOTTOM: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a data-only layer sits above a regular one; data-only layers go at the bottom',
	},
	OVL_MISSING_WORK: {severity: 'error', exit: exitCodes.usage, summary: 'an upper layer without a work dir'},
	OVL_OPTION_USELESS: {
		severity: 'info',
		exit: exitCodes.ok,
		summary: 'a work dir, index, volatile or uuid that the kernel ignores without an upper layer',
	},
	OVL_NEEDS_USERXATTR: {
		severity: 'warning',
		exit: exitCodes.failure,
		summary: 'in a user namespace without userxattr: trusted.* xattrs cannot be written (the kernel refuses)',
	},
	OVL_PATH_TOO_LONG: {severity: 'error', exit: exitCodes.usage, summary: 'a layer path of 4096 bytes or more'},
	OVL_LAYER_MISSING: {severity: 'error', exit: exitCodes.usage, summary: 'a lower layer does not exist'},
	OVL_PARENT_MISSING: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'upper, work or the mount point is missing and so is its parent (ovl creates only the last one)',
	},
	OVL_WILL_CREATE: {
		severity: 'info',
		exit: exitCodes.ok,
		summary: 'upper, work or the mount point does not exist yet; ovl mount creates it',
	},
	OVL_LAYER_NOT_DIR: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a layer, the mount point or a path ovl needs as a directory is something else',
	},
	OVL_WORK_UPPER_NESTED: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'upper and work are the same directory, or one is inside the other',
	},
	OVL_LAYER_DUPLICATE: {severity: 'error', exit: exitCodes.usage, summary: 'one directory is used for two layers'},
	OVL_LAYER_OVERLAP: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'one layer is inside another (the kernel refuses it, or fails lookups with ELOOP)',
	},
	OVL_UPPER_ON_OVERLAY: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'upper or work is on an overlay filesystem',
	},
	OVL_UPPER_READONLY: {severity: 'error', exit: exitCodes.usage, summary: 'upper or work is on a read-only mount'},
	OVL_UPPER_FS_UNSUITABLE: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'upper or work is on NFS, CIFS, 9p or FUSE, which usually lack d_type, whiteouts or trusted xattrs',
	},
	OVL_USERXATTR_TMPFS: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'userxattr with the upper on tmpfs before Linux 6.6 (no user.* xattrs: removing a lower dir fails)',
	},
	OVL_WORK_NOT_SAME_MOUNT: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'work is not on the same mount as upper',
	},
	OVL_WORK_INCOMPAT: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'work/work/incompat/ is present (a volatile mount was not synced): the kernel refuses to mount',
	},
	OVL_WORK_NOT_EMPTY: {
		severity: 'info',
		exit: exitCodes.ok,
		summary: 'the work dir holds other entries, which the kernel ignores',
	},
	OVL_MERGED_IS_LAYER: {severity: 'error', exit: exitCodes.usage, summary: 'the mount point is one of the layers'},
	OVL_MERGED_INSIDE_LAYER: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the mount point is inside a layer (a warning when that layer is a lower)',
	},
	OVL_LAYER_INSIDE_MERGED: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'a layer is inside the mount point and will be hidden by the mount',
	},
	OVL_MERGED_NOT_EMPTY: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the mount point is not empty: the mount would hide its entries',
	},
	OVL_ALREADY_MOUNTED: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'an overlay is already mounted on the mount point',
	},
	OVL_UPPER_IN_USE: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'upper or work is already the upper or work dir of a live overlay (two writers corrupt it)',
		forceable: false,
	},
	OVL_UPPER_IS_LOWER_ELSEWHERE: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'upper or work is a lower layer of a live overlay',
	},
	OVL_LOWER_IS_UPPER_ELSEWHERE: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'a lower is the upper of a live overlay, so it can change under this mount',
	},
	OVL_OPTION_LAYER_KEY: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'lowerdir, upperdir, workdir, lowerdir+ or datadir+ given as an option',
		forceable: false,
	},
	OVL_OPTION_DUPLICATE: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'an option given more than once; the last one wins',
	},
	OVL_OPTION_BAD_VALUE: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'an option value the kernel does not take, or a value on a flag',
		forceable: false,
	},
	OVL_OPTION_UNKNOWN: {severity: 'error', exit: exitCodes.usage, summary: 'an option overlayfs does not know'},
	OVL_OPTION_CONFLICT: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'options the kernel refuses together (metacopy, redirect_dir, index, nfs_export, userxattr)',
	},
	OVL_KERNEL_TOO_OLD: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the kernel is too old for a feature asked for (userxattr 5.11, data-only layers 6.5, metacopy 4.19)',
	},
	OVL_OPTIONS_TOO_LONG: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: "no way of passing the layers fits mount(2)'s PAGE_SIZE-1 bytes of options",
		forceable: false,
	},
	OVL_INVALID: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the plan was refused without an error finding (the fallback code of a validation error)',
	},
	OVL_LOWERDIR_SYNTAX: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: '--lowerdir is not a valid kernel-style layer list',
	},
	OVL_STACK_FILE_MISSING: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'no stack file (ovl.yaml, or the --stack file) where ovl mount looked',
	},
	OVL_STACK_FILE_INVALID: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the stack file is not valid YAML or not a valid stack (file:line given)',
	},
	OVL_PATH_ESCAPES: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a layer name, seed path or stack file path leaves its directory',
	},
	OVL_MOUNT_FAILED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'mount(8) failed and the kernel log gave no reason (or could not be read)',
	},
	OVL_VERIFY_NOT_FOUND: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'mount(8) reported success, but no overlay is mounted on the mount point',
	},
	OVL_VERIFY_MISMATCH: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'the kernel recorded other layers than ovl passed; the mount was undone',
	},
	OVL_MOUNTED_READ_ONLY: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'the overlay came up read-only although it has an upper; the mount was undone',
	},
	OVL_NOT_MOUNTED: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'nothing is mounted there, or the path does not exist',
	},
	OVL_NOT_OVERLAY: {severity: 'error', exit: exitCodes.usage, summary: 'the mount there is not an overlay'},
	OVL_MOUNT_BUSY: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'umount failed: the mount is busy (ovl names the processes holding it)',
	},
	OVL_UMOUNT_FAILED: {severity: 'error', exit: exitCodes.failure, summary: 'umount(8) failed for another reason'},

	// kernel log: overlay lines logged during a mount (src/core/kernel-log.ts); the validation codes above are reused
	OVL_MISSING_LAYER_OPTION: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'kernel: missing workdir or lowerdir',
	},
	OVL_LAYER_UNRESOLVED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'kernel: a layer path could not be resolved (for another reason than ENOENT)',
	},
	OVL_FS_UNSUPPORTED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: "kernel: a layer's filesystem cannot be an overlay layer",
	},
	OVL_STACK_TOO_DEEP: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'kernel: maximum filesystem stacking depth exceeded',
	},
	OVL_DATA_ONLY_NEEDS_METACOPY: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'kernel: data-only lowers need metacopy=on (on this kernel)',
	},
	OVL_OPTION_INVALID: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'kernel: unknown parameter, or bad value for one',
	},
	OVL_UPPER_NO_DTYPE: {
		severity: 'warning',
		exit: exitCodes.failure,
		summary: 'kernel: the upper filesystem does not support d_type',
	},
	OVL_UPPER_DEGRADED: {
		severity: 'warning',
		exit: exitCodes.failure,
		summary: 'kernel: the upper filesystem lacks RENAME_WHITEOUT or tmpfile',
	},
	OVL_FEATURE_FALLBACK: {
		severity: 'warning',
		exit: exitCodes.failure,
		summary: 'kernel: a feature was turned off (an xattr could not be set on the upper, "falling back")',
	},
	OVL_INDEX_MISMATCH: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'kernel: the upper root or index dir does not match these lowers',
	},
	OVL_WORK_SETUP_FAILED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'kernel: a directory in the work dir could not be created; mounting read-only',
	},
	OVL_VOLATILE_ERROR: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'kernel: volatile mount refused, the upper has an unseen error',
	},
	OVL_KERNEL_MESSAGE: {
		severity: 'info',
		exit: exitCodes.failure,
		summary: 'kernel: an overlay log line no rule maps to a code',
	},

	// inspect and diff: findings over the upper (src/core/report.ts, src/io/inspect.ts) and what stops them
	OVL_NO_UPPER: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the overlay has no upper layer: nothing to inspect, diff or export',
	},
	OVL_RELATIVE_LAYERS: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the kernel recorded relative layer paths and --root does not say relative to what',
	},
	OVL_ORPHAN_WHITEOUT: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'a whiteout hides nothing: no lower layer has that name',
	},
	OVL_DANGLING_REDIRECT: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'a renamed dir redirects to an origin no lower layer has',
	},
	OVL_DUPLICATE_REDIRECT: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'two dirs redirect to one origin',
	},
	OVL_XWHITEOUT_IN_UPPER: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'an xattr whiteout in the upper, where the kernel does not honour it',
	},
	OVL_METACOPY_NO_DATA: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'a metadata-only copy whose data no lower layer holds: reading it fails',
	},
	OVL_ANOMALY: {severity: 'warning', exit: exitCodes.ok, summary: 'an upper entry no rule explains'},
	OVL_LOWER_CHANGED: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'a lower layer changed after the overlay was mounted',
	},
	OVL_UPPER_SHARED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'the upper is also the upper of another mounted overlay',
	},
	OVL_UPPER_LOW_SPACE: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'under 5% of the blocks of the upper filesystem are free',
	},
	OVL_UPPER_LOW_INODES: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'under 5% of the inodes of the upper filesystem are free',
	},
	OVL_XATTR_UNREADABLE: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: "an entry's xattrs could not be read (EIO, EACCES, a non-UTF-8 name without the native helper)",
	},
	OVL_SCAN_PROBLEM: {severity: 'warning', exit: exitCodes.ok, summary: 'the upper changed while ovl read it'},

	// prepare: layout, seeds, layer tarballs (src/commands/prepare.ts, src/core/layout.ts, src/docker/layer-*.ts)
	OVL_STACK_EXISTS: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'ovl.yaml exists with a different stack (--force rewrites it)',
	},
	OVL_STACK_MOUNTED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'seeding would change a layer of a mounted overlay',
	},
	OVL_PATH_NOT_UTF8: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a layer or seed name that is not UTF-8, which ovl.yaml cannot hold',
	},
	OVL_SEED_INVALID: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the seed file is not valid YAML or not layer: {path: contents} (file:line given)',
	},
	OVL_SEED_UNKNOWN_LAYER: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a seed or --put names no layer of the stack',
	},
	OVL_SEED_PATH_INVALID: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a seed path does not name a file (a trailing "/", "." or ".." parts)',
	},
	OVL_CANNOT_CREATE: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'a directory of the layout could not be created',
	},
	OVL_LAYER_NOT_EMPTY: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the layer a tarball goes to holds something ovl did not import',
	},
	OVL_TAR_UNSAFE: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a tarball entry would leave its layer ("..", absolute, a link out, below a symlink)',
	},
	OVL_TAR_INVALID: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'not a whole layer tarball, plain or gzip (truncated, a bad checksum, sparse or multi-volume entries)',
	},
	OVL_TAR_UNSUPPORTED: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a zstd-, xz- or bzip2-compressed tarball: decompress it first',
	},
	OVL_TAR_CHANGED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'the tarball changed while it was imported',
	},
	OVL_NEEDS_NATIVE: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'a name that is not UTF-8 needs the native helper, which is not built',
	},

	// docker and podman stores (src/commands/docker.ts, src/docker/layers.ts)
	OVL_DOCKER_NO_DATA_ROOT: {severity: 'error', exit: exitCodes.usage, summary: "Docker's data-root does not exist"},
	OVL_DOCKER_NOT_FOUND: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'no container or image with that id, name or tag',
	},
	OVL_DOCKER_NO_LAYER: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: "the container's or image's overlay2 layers are not on disk",
	},

	// export (src/commands/export.ts, src/io/export-*.ts)
	OVL_EXPORT_INSIDE: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the archive would be written inside the overlay or its layers',
	},
	OVL_EXPORT_CHANGED: {severity: 'error', exit: exitCodes.failure, summary: 'the upper changed while it was exported'},
	OVL_EXPORT_NO_DATA: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'a metacopy file whose data no lower layer holds',
	},
	OVL_EXPORT_UNREADABLE: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'a malformed metacopy file, or xattrs that cannot be read',
	},
	// commit: applying an upper to its lower (src/flows/commit.ts)
	OVL_COMMIT_NO_UPPER: {severity: 'error', exit: exitCodes.usage, summary: 'the overlay has no upper layer to commit'},
	OVL_COMMIT_PENDING: {
		severity: 'warning',
		exit: exitCodes.failure,
		summary: 'a commit of this upper stopped part-way: finish it with ovl commit --resume, or --abort it',
	},
	OVL_COMMIT_NOTHING_PENDING: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: '--resume or --abort, but no commit of this upper is pending',
	},
	OVL_COMMIT_APPLIED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: '--abort of a commit that was already verified: only --resume can finish it',
	},
	OVL_COMMIT_ABORTING: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: '--resume of a commit whose rollback started: finish it with --abort',
	},
	OVL_COMMIT_ABORT_UNVERIFIED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'after --abort part of the target is not as the journal recorded it before the commit',
	},
	OVL_COMMIT_UNREADABLE: {severity: 'error', exit: exitCodes.failure, summary: 'part of the upper could not be read'},
	OVL_COMMIT_REFUSED: {severity: 'error', exit: exitCodes.failure, summary: 'upper entries ovl cannot apply exactly'},
	OVL_COMMIT_TARGET_OVERLAPS: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: "--into names one of the stack's own layers, or a directory inside or above one",
	},
	OVL_COMMIT_JOURNAL_INVALID: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'a commit journal ovl cannot read',
	},
	OVL_COMMIT_TARGET_LIVE: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the commit target is a layer of a mounted overlay',
	},
	OVL_COMMIT_VIEW: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'the merged view could not be mounted to record it',
	},
	OVL_COMMIT_UNVERIFIED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'after the commit the target differs from the recorded merged view',
	},
	// try: a command over overlays of the directories it may change (src/flows/try.ts)
	OVL_TRY_NESTED_MOUNT: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a directory given to ovl try has mounts below it, which its overlay would not cover',
	},
	OVL_TRY_KEEP_EXISTS: {severity: 'error', exit: exitCodes.usage, summary: 'the --keep directory already exists'},
	OVL_TRY_SESSION_UNSAFE: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a kept ovl try session that is not owned by you, that others may write, or that is malformed',
	},

	// lab (src/commands/lab.ts, src/lab/); a step's error fails that step, so `ovl lab run` exits 1
	OVL_LAB_UNKNOWN: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'neither a built-in experiment nor a file',
	},
	OVL_LAB_INVALID: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the experiment file is not valid (file:line given)',
	},
	OVL_OUTPUT_UNWRITABLE: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'the --markdown report cannot be written there',
	},
	OVL_LAB_PATH_ESCAPES: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'an experiment path leaves the experiment directory',
	},
	OVL_LAB_SYMLINK: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'an experiment path goes through a symbolic link',
	},
	OVL_LAB_NO_LAYER: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'a lower-write step names no layer of the experiment',
	},
	OVL_LAB_MOUNTED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'a mount step while the overlay is still mounted',
	},
	OVL_LAB_NOT_MOUNTED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'a step that needs the overlay mounted ran while it was not',
	},

	// registry and lock (src/io/registry.ts, lock.ts)
	OVL_REGISTRY_UNWRITABLE: {
		severity: 'warning',
		exit: exitCodes.ok,
		summary: 'the mount worked but could not be recorded in the registry directory',
	},
	OVL_LOCKED: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'another ovl held the lock on this mount point, upper or work for 30 s',
	},

	// doctor (src/io/doctor-probe.ts)
	OVL_DOCTOR_CLEANUP: {
		severity: 'error',
		exit: exitCodes.failure,
		summary: 'doctor --path could not unmount its test mount',
	},

	// generic: flags, signals, input files, paths written beneath a root, errnos (src/io/beneath.ts)
	OVL_USAGE: {severity: 'error', exit: exitCodes.usage, summary: 'bad flags or arguments'},
	OVL_INTERRUPTED: {
		severity: 'error',
		exit: exitCodes.interrupted,
		summary: 'a signal stopped the command; what it had begun was undone',
	},
	OVL_FILE_MISSING: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'an input file (seed, experiment, tarball) does not exist',
	},
	OVL_FILE_TOO_LARGE: {severity: 'error', exit: exitCodes.usage, summary: 'a file is larger than ovl reads there'},
	OVL_NOT_REGULAR_FILE: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a directory, FIFO, socket or device where a regular file belongs',
	},
	OVL_PATH_INVALID: {severity: 'error', exit: exitCodes.usage, summary: 'a name that is not one path component'},
	OVL_PATH_SYMLINK: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a symbolic link where ovl writes or walks; it never follows one',
	},
	OVL_PATH_HARDLINKED: {
		severity: 'error',
		exit: exitCodes.usage,
		summary: 'a file to rewrite has other hard links',
	},
	OVL_PATH_MISSING: {severity: 'error', exit: exitCodes.usage, summary: 'a path does not exist'},
	OVL_NO_SPACE: {severity: 'error', exit: exitCodes.failure, summary: 'ENOSPC or EDQUOT: no space (or quota) left'},
	OVL_READ_ONLY_FS: {severity: 'error', exit: exitCodes.failure, summary: 'EROFS: the filesystem is read-only'},
	OVL_PERMISSION: {severity: 'error', exit: exitCodes.failure, summary: 'EACCES or EPERM'},
	OVL_NAME_TOO_LONG: {severity: 'error', exit: exitCodes.failure, summary: 'ENAMETOOLONG'},
	OVL_PATH_IS_DIR: {severity: 'error', exit: exitCodes.failure, summary: 'EISDIR: a directory is in the way'},
	OVL_PATH_EXISTS: {severity: 'error', exit: exitCodes.failure, summary: 'EEXIST: something else has that name'},
	OVL_TOO_MANY_LINKS: {severity: 'error', exit: exitCodes.failure, summary: 'EMLINK: too many links'},
	OVL_IO_ERROR: {severity: 'error', exit: exitCodes.failure, summary: 'any other errno'},
} as const satisfies Readonly<Record<string, CodeInfo>>;

export type Code = keyof typeof codes;

export const isCode = (s: string): s is Code => Object.hasOwn(codes, s);

/** A code known only as a `string`: the catalogued code, or an Error naming the stray one. */
export function asCode(s: string): Code {
	if (!isCode(s)) throw new Error(`${s} is not a catalogued code (src/core/codes.ts)`);
	return s;
}
