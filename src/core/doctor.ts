import {atLeast} from './facts.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'info';
export type Check = {
	readonly name: string;
	readonly status: CheckStatus;
	readonly detail: string;
	readonly hint?: string;
};

export type HostReport = {
	readonly release: string;
	readonly version: readonly [number, number];
	readonly overlayListed: boolean;
	readonly moduleLoaded: boolean;
	readonly params: Readonly<Record<string, string>>;
	readonly utilLinux: string | undefined;
	readonly euid: number;
	readonly inUserNamespace: boolean;
	readonly maxUserNamespaces: number | undefined;
	readonly unprivilegedUsernsClone: string | undefined;
	readonly pageSize: number;
	readonly kmsgReadable: boolean;
	/** The C helper (native/ovl.c): loaded, or why not. */
	readonly native: {readonly loaded: boolean; readonly reason: string};
	/** The tree scanner inspect, diff and export use, and why that one. */
	readonly scanner: {readonly name: 'native' | 'js'; readonly reason: string};
	/** As a user: whether `unshare --user --map-root-user --mount` works (the rootless route), or why not. */
	readonly userns?: {readonly usable: boolean; readonly reason?: string};
};

/** Results of a real test mount in a scratch dir on the filesystem the user asked about. */
export type PathProbe = {
	readonly dir: string;
	readonly fsType: string;
	readonly trustedXattr: string | undefined; // undefined = works, else errno
	readonly userXattr: string | undefined;
	readonly mounted: boolean;
	readonly mountError?: string;
	readonly usedUserxattr: boolean;
	readonly kernelLines: readonly string[];
	readonly whiteout?: boolean;
	readonly renameWhiteout?: boolean;
	readonly opaque?: boolean;
	readonly copyUp?: boolean;
	readonly redirectDir?: 'redirect' | 'EXDEV' | string;
	/** Which route the test mount took: as root on the host, or in a user namespace with userxattr. */
	readonly route?: 'root' | 'rootless';
	/** Whether the prober could read /dev/kmsg (never inside a user namespace): no kernel lines then means "not shown", not "none". */
	readonly kmsgReadable?: boolean;
};

/** The two ways to get an overlay mounted, and what doctor found out about each. */
export type Route = {
	readonly route: 'root' | 'rootless';
	readonly status: 'works' | 'fails' | 'needs sudo' | 'available' | 'unavailable' | 'not tested';
	readonly detail: string;
	readonly hint?: string;
};

const yes = (v: string | undefined): boolean => v === 'Y' || v === 'y' || v === '1';

export function hostChecks(h: HostReport): Check[] {
	const out: Check[] = [];
	out.push({name: 'kernel', status: 'info', detail: h.release});
	out.push(
		h.overlayListed
			? {
					name: 'overlay filesystem',
					status: 'ok',
					detail: `available${h.moduleLoaded ? ' (module loaded)' : ' (built in)'}`,
				}
			: {
					name: 'overlay filesystem',
					status: 'warn',
					detail: 'not in /proc/filesystems',
					hint: 'modprobe overlay (the first mount may load it automatically)',
				},
	);
	const p = h.params;
	if (Object.keys(p).length > 0) {
		out.push({
			name: 'defaults',
			status: 'info',
			detail: [
				`redirect_dir=${yes(p['redirect_dir']) ? 'on' : yes(p['redirect_always_follow']) ? 'follow' : 'nofollow'}`,
				...['index', 'metacopy', 'xino_auto', 'nfs_export'].map((k) => `${k}=${yes(p[k]) ? 'on' : 'off'}`),
				`redirect_max=${p['redirect_max'] ?? '?'}`,
			].join(' '),
		});
		if (yes(p['index']))
			out.push({
				name: 'index default',
				status: 'warn',
				detail: 'index=on by default: a stale mount makes its upper exclusive (EBUSY)',
				hint: 'ovl mount passes index=off unless you set it',
			});
	}
	const v = h.version;
	out.push({
		name: 'features by version',
		status: 'info',
		detail: [
			`userxattr ${atLeast(v, 5, 11) ? 'yes' : 'no (5.11+)'}`,
			`data-only layers ${atLeast(v, 6, 5) ? 'yes' : 'no (6.5+)'}`,
			`lowerdir+ ${atLeast(v, 6, 8) ? 'yes' : 'no (6.8+)'}`,
			`layers by fd ${atLeast(v, 6, 13) ? 'yes' : 'no (6.13+)'}`,
		].join(', '),
	});
	out.push({
		name: 'native helper',
		status: h.native.loaded ? 'info' : 'warn',
		detail: h.native.loaded
			? `loaded (${h.native.reason}): exact-byte xattrs, mknodat, flock`
			: `not in use: ${h.native.reason}; the pure-JS fallback refuses names that are not UTF-8 where only the helper can act`,
		...(h.native.loaded ? {} : {hint: 'install a C compiler (build-essential) and python3, then npm install again'}),
	});
	out.push({
		name: 'scanner',
		status: h.scanner.name === 'native' ? 'info' : 'warn',
		detail:
			h.scanner.name === 'native'
				? `native (${h.scanner.reason})`
				: `pure JS (${h.scanner.reason}): inspect and diff work, about 2× slower on large uppers`,
	});
	out.push({
		name: 'mount(8)',
		status: h.utilLinux ? 'info' : 'fail',
		detail: h.utilLinux ?? 'not found',
		...(h.utilLinux ? {} : {hint: 'install util-linux (mount)'}),
	});
	out.push({
		name: 'option budget',
		status: 'info',
		detail: `${h.pageSize - 1} bytes per mount(2) call (PAGE_SIZE ${h.pageSize})`,
	});
	if (h.euid === 0 && !h.inUserNamespace)
		out.push({name: 'privileges', status: 'ok', detail: 'root in the initial user namespace'});
	else if (h.euid === 0)
		out.push({
			name: 'privileges',
			status: 'warn',
			detail: 'root inside a user namespace',
			hint: atLeast(v, 5, 11)
				? 'mount with -o userxattr'
				: 'this kernel cannot mount overlays in a user namespace without distro patches',
		});
	else {
		const userns = (h.maxUserNamespaces ?? 0) > 0 && h.unprivilegedUsernsClone !== '0';
		out.push({
			name: 'privileges',
			status: userns ? 'warn' : 'fail',
			detail: `uid ${h.euid}: not root${userns ? '; user namespaces are available' : '; user namespaces are disabled'}`,
			hint: userns
				? 'ovl mount needs sudo; without it, ovl shell and ovl lab mount in a user namespace with userxattr (the rootless route below)'
				: 'use sudo',
		});
	}
	out.push({
		name: 'kernel log',
		status: h.kmsgReadable ? 'ok' : 'warn',
		detail: h.kmsgReadable ? "/dev/kmsg readable: mount failures show the kernel's reason" : '/dev/kmsg not readable',
		...(h.kmsgReadable
			? {}
			: {
					hint: "a failed mount's reason is not shown here: read it as root with `sudo dmesg | grep overlay` (or allow it: sysctl kernel.dmesg_restrict=0)",
				}),
	});
	return out;
}

export function pathChecks(p: PathProbe): Check[] {
	const out: Check[] = [
		{
			name: 'filesystem',
			status: ['nfs', 'nfs4', 'cifs', 'overlay'].includes(p.fsType) ? 'fail' : 'info',
			detail: `${p.dir} is on ${p.fsType}`,
		},
	];
	// EPERM is who is asking (trusted.* needs CAP_SYS_ADMIN in the initial user namespace), not the filesystem.
	const denied = p.trustedXattr === 'EPERM' || p.trustedXattr === 'EACCES';
	out.push(
		p.trustedXattr === undefined
			? {name: 'trusted xattrs', status: 'ok', detail: 'supported'}
			: denied
				? {
						name: 'trusted xattrs',
						status: 'info',
						detail: `not settable without root (${p.trustedXattr}: trusted.* needs CAP_SYS_ADMIN); a root mount uses them, a rootless one uses user.* (userxattr)`,
					}
				: {
						name: 'trusted xattrs',
						status: p.usedUserxattr ? 'info' : 'fail',
						detail: `not available (${p.trustedXattr})`,
						hint: 'mount with -o userxattr, or use another filesystem',
					},
	);
	out.push(
		p.userXattr === undefined
			? {name: 'user xattrs', status: 'ok', detail: 'supported'}
			: {name: 'user xattrs', status: p.usedUserxattr ? 'fail' : 'warn', detail: `not available (${p.userXattr})`},
	);
	if (!p.mounted) {
		out.push({
			name: 'test mount',
			status: 'fail',
			detail: `${p.route === 'rootless' ? 'in a user namespace: ' : ''}${p.mountError ?? 'failed'}`,
			hint:
				p.kernelLines.length > 0
					? 'see the kernel lines above'
					: p.kmsgReadable === false
						? 'the kernel log is not readable here, so its reason is not shown: read it as root with `sudo dmesg | grep overlay`'
						: 'the kernel logged nothing about overlay; ovl mount --verbose shows what mount(8) said',
		});
		return out;
	}
	out.push({
		name: 'test mount',
		status: 'ok',
		detail: `mounted${p.route === 'rootless' ? ' in a user namespace' : ''}${p.usedUserxattr ? ' with userxattr' : ''}`,
	});
	const bool = (name: string, v: boolean | undefined, okText: string, badText: string, hint: string): void => {
		if (v !== undefined)
			out.push(v ? {name, status: 'ok', detail: okText} : {name, status: 'fail', detail: badText, hint});
	};
	bool(
		'whiteouts',
		p.whiteout,
		'rm of a lower file left a 0/0 char device in upper',
		'no whiteout appeared',
		'the upper filesystem cannot hold whiteouts',
	);
	bool(
		'RENAME_WHITEOUT',
		p.renameWhiteout,
		'rename of a lower file left a whiteout',
		'rename left no whiteout',
		'the upper filesystem lacks RENAME_WHITEOUT',
	);
	bool(
		'opaque dirs',
		p.opaque,
		'rm -rf + mkdir made an opaque dir',
		'no opaque xattr',
		'the upper filesystem cannot store overlay xattrs',
	);
	bool(
		'copy-up',
		p.copyUp,
		'writing a lower file copied it up',
		'no copy-up seen',
		'unexpected: check the kernel lines',
	);
	if (p.redirectDir !== undefined)
		out.push({
			name: 'dir rename',
			status: 'info',
			detail:
				p.redirectDir === 'EXDEV' ? 'EXDEV (redirect_dir off: mv copies directories)' : `redirect (${p.redirectDir})`,
		});
	const dtype = p.kernelLines.some((l) => /d_type/.test(l));
	out.push({
		name: 'd_type',
		status: dtype ? 'fail' : 'ok',
		detail: dtype ? 'the kernel says the upper fs lacks d_type' : 'no complaint from the kernel',
		...(dtype ? {hint: 'xfs: mkfs.xfs -n ftype=1; ext4: tune2fs -O filetype'} : {}),
	});
	return out;
}

/**
 Both routes, as this user on this host: a root mount (ovl mount, needs sudo as a user) and the
 rootless one (a user namespace with userxattr: ovl shell, ovl lab). The probe is the test mount
 --path made, on the route it took.
 */
export function routes(h: HostReport, p: PathProbe | undefined): Route[] {
	const hostRoot = h.euid === 0 && !h.inUserNamespace;
	const tested = (route: 'root' | 'rootless'): Route | undefined => {
		if (p === undefined || (p.route ?? (p.usedUserxattr ? 'rootless' : 'root')) !== route) return undefined;
		return p.mounted
			? {route, status: 'works', detail: `a test mount in ${p.dir} (${p.fsType}) worked`}
			: {route, status: 'fails', detail: `a test mount in ${p.dir} failed: ${p.mountError ?? 'unknown reason'}`};
	};
	const root: Route =
		tested('root') ??
		(hostRoot
			? {route: 'root', status: 'available', detail: 'you are root; --path DIR tests a filesystem'}
			: {
					route: 'root',
					status: 'needs sudo',
					detail: `uid ${h.euid}${h.euid === 0 ? ' in a user namespace' : ''} cannot mount as root; not tested`,
					hint: 'sudo ovl mount; sudo ovl doctor --path DIR tests this route',
				});
	const rootless: Route =
		tested('rootless') ??
		(hostRoot
			? {
					route: 'rootless',
					status: 'not tested',
					detail: 'doctor ran as root, which does not take this route',
					hint: 'run ovl doctor --path DIR as the user who will mount',
				}
			: h.userns === undefined
				? {route: 'rootless', status: 'not tested', detail: 'no user namespace was tried'}
				: h.userns.usable
					? {
							route: 'rootless',
							status: 'available',
							detail: 'a user namespace can be made; no test mount yet',
							hint: 'ovl doctor --path DIR tests a filesystem on this route',
						}
					: {
							route: 'rootless',
							status: 'unavailable',
							detail: `no user namespace: ${h.userns.reason ?? 'unshare failed'}`,
							hint: 'user namespaces are off (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, or an LSM rule): use sudo',
						});
	return [root, rootless];
}

const routeStatus = {
	works: 'ok',
	fails: 'fail',
	'needs sudo': 'info',
	available: 'ok',
	unavailable: 'warn',
	'not tested': 'info',
} as const;

const routeLabel = {root: '(ovl mount as root)', rootless: '(user namespace + userxattr: ovl shell, ovl lab)'} as const;

/** The routes as checks: `root mount` and `rootless`. */
export function routeChecks(rs: readonly Route[]): Check[] {
	return rs.map((r) => ({
		name: r.route === 'root' ? 'root mount' : 'rootless',
		status: routeStatus[r.status],
		detail: `${routeLabel[r.route]} ${r.status}${r.status === 'fails' ? ' because' : ':'} ${r.detail}`,
		...(r.hint === undefined || r.status === 'works' ? {} : {hint: r.hint}),
	}));
}

export function verdict(checks: readonly Check[]): 'ok' | 'degraded' | 'unusable' {
	if (checks.some((c) => c.status === 'fail'))
		return checks.some((c) => c.name === 'test mount' && c.status === 'fail') ||
			checks.some((c) => c.name === 'overlay filesystem' && c.status === 'fail')
			? 'unusable'
			: 'degraded';
	return checks.some((c) => c.status === 'warn') ? 'degraded' : 'ok';
}
