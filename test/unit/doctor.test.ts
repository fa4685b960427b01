import {describe, expect, test} from 'vitest';
import {
	hostChecks,
	pathChecks,
	routeChecks,
	routes,
	verdict,
	type HostReport,
	type PathProbe,
} from '../../src/core/doctor.js';

/** Overrides; an undefined value drops the field (exactOptionalPropertyTypes). */
type Over<T> = {[K in keyof T]?: T[K] | undefined};
const drop = <T extends object>(o: T): T =>
	Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const host = (over: Over<HostReport> = {}): HostReport =>
	drop({
		release: '6.18.44',
		version: [6, 18],
		overlayListed: true,
		moduleLoaded: true,
		params: {index: 'N'},
		utilLinux: 'mount from util-linux 2.38.1',
		euid: 1000,
		inUserNamespace: false,
		maxUserNamespaces: 1000,
		unprivilegedUsernsClone: undefined,
		pageSize: 4096,
		kmsgReadable: false,
		native: {loaded: true, reason: 'build/Release/ovl_native.node'},
		scanner: {name: 'native', reason: 'native/scan.c, off the main thread'},
		userns: {usable: true},
		...over,
	} as HostReport);

// What a user's test mount in a user namespace looks like (the inner doctor's probe).
const rootlessProbe = (over: Over<PathProbe> = {}): PathProbe =>
	drop({
		dir: '/tmp',
		fsType: 'ext4',
		trustedXattr: 'EPERM',
		userXattr: undefined,
		mounted: true,
		usedUserxattr: true,
		kernelLines: [],
		whiteout: true,
		renameWhiteout: true,
		opaque: true,
		copyUp: true,
		redirectDir: 'EXDEV',
		route: 'rootless',
		kmsgReadable: false,
		...over,
	} as PathProbe);

const judge = (h: HostReport, p?: PathProbe) => {
	const checks = [...hostChecks(h), ...(p ? pathChecks(p) : [])];
	const rs = routes(h, p);
	checks.push(...routeChecks(rs));
	return {checks, rs, verdict: verdict(checks)};
};
const text = (checks: readonly {detail: string; hint?: string}[]): string =>
	checks.map((c) => `${c.detail} ${c.hint ?? ''}`).join('\n');

describe('doctor reports both routes', () => {
	test('a user whose rootless test mount worked: not unusable; trusted.* EPERM is not the filesystem', () => {
		const {checks, rs, verdict: v} = judge(host(), rootlessProbe());
		expect(v).not.toBe('unusable');
		expect(rs).toEqual([
			expect.objectContaining({route: 'root', status: 'needs sudo'}),
			expect.objectContaining({route: 'rootless', status: 'works'}),
		]);
		const trusted = checks.find((c) => c.name === 'trusted xattrs');
		expect(trusted?.status).toBe('info');
		expect(text(checks)).not.toContain('another filesystem');
		expect(checks.find((c) => c.name === 'rootless')?.detail).toMatch(/user namespace \+ userxattr.*works/);
		expect(checks.find((c) => c.name === 'root mount')?.detail).toContain('needs sudo');
	});

	test('a failed rootless mount with an unreadable kernel log says how to read it, never "see the kernel lines above"', () => {
		const {
			checks,
			rs,
			verdict: v,
		} = judge(host(), rootlessProbe({mounted: false, mountError: 'mount(8) failed (EINVAL)', whiteout: undefined}));
		expect(v).toBe('unusable');
		expect(rs[1]).toMatchObject({route: 'rootless', status: 'fails'});
		expect(checks.find((c) => c.name === 'rootless')?.detail).toContain('fails because a test mount in /tmp failed');
		const mount = checks.find((c) => c.name === 'test mount');
		expect(mount?.hint).toContain('sudo dmesg');
		expect(text(checks)).not.toContain('see the kernel lines above');
	});

	test('kernel lines shown: the hint points at them', () => {
		const {checks} = judge(host({euid: 0, kmsgReadable: true}), {
			...rootlessProbe({route: 'root', usedUserxattr: false, trustedXattr: undefined, kmsgReadable: true}),
			mounted: false,
			kernelLines: ['overlayfs: failed to resolve lowerdir'],
		});
		expect(checks.find((c) => c.name === 'test mount')?.hint).toBe('see the kernel lines above');
	});

	test('a filesystem without trusted xattrs (not a permission) is still its defect', () => {
		const {checks} = judge(
			host({euid: 0, kmsgReadable: true, userns: undefined}),
			rootlessProbe({route: 'root', usedUserxattr: false, trustedXattr: 'EOPNOTSUPP'}),
		);
		expect(checks.find((c) => c.name === 'trusted xattrs')).toMatchObject({status: 'fail'});
	});

	test('plain doctor as a user: root needs sudo, rootless available; with namespaces off, unavailable', () => {
		const ok = judge(host());
		expect(ok.rs.map((r) => r.status)).toEqual(['needs sudo', 'available']);
		expect(ok.verdict).toBe('degraded');
		expect(ok.checks.find((c) => c.name === 'kernel log')?.hint).toContain('sudo dmesg');
		const off = judge(host({userns: {usable: false, reason: 'unshare: unshare failed: Operation not permitted'}}));
		expect(off.rs[1]).toMatchObject({status: 'unavailable'});
		expect(off.checks.find((c) => c.name === 'rootless')?.detail).toContain('Operation not permitted');
	});

	test('root on the host: root route works after its test mount; rootless not tested', () => {
		const {rs, verdict: v} = judge(
			host({euid: 0, kmsgReadable: true, userns: undefined}),
			rootlessProbe({route: 'root', usedUserxattr: false, trustedXattr: undefined, kmsgReadable: true}),
		);
		expect(rs.map((r) => r.status)).toEqual(['works', 'not tested']);
		expect(v).toBe('ok');
	});
});
