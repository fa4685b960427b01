import {copyFileSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import {afterEach, beforeEach, describe, expect, test} from 'vitest';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';

// `vagrant validate` checks the Vagrantfile and the default provider's block (libvirt when the
// vagrant-libvirt plugin is installed) without a box or a daemon. CI installs both (OVL_REQUIRE_VAGRANT=1).
const vagrantDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../vagrant');
const hasVagrant = (await execa('vagrant', ['--version'], {reject: false}).catch(() => ({exitCode: 1}))).exitCode === 0;
const required = process.env['OVL_REQUIRE_VAGRANT'] === '1';

let home = '';
const validate = (cwd: string, env: Record<string, string> = {}) =>
	execa('vagrant', ['validate'], {
		cwd,
		reject: false,
		env: {VAGRANT_HOME: home, VAGRANT_CHECKPOINT_DISABLE: '1', ...env},
	});

describe.runIf(hasVagrant || required)('vagrant/Vagrantfile', () => {
	beforeEach(async () => {
		home = await makeScratch('ovl-vagrant-home-');
	});
	afterEach(async () => cleanScratch(home));

	test('vagrant is installed (CI installs it)', () => {
		expect(hasVagrant).toBe(true);
	});
	test('validates, with the libvirt provider block checked', async () => {
		const r = await validate(vagrantDir);
		expect(r.exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
		expect(String(r.stdout)).toContain('Vagrantfile validated successfully');
		const qemu = await validate(vagrantDir, {OVL_LIBVIRT_DRIVER: 'qemu', OVL_BOX: 'local/bookworm-ovl'});
		expect(qemu.exitCode, String(qemu.stderr)).toBe(0);
		// What npm run test:vagrant sets: its own pool, an isolated network, a console log, offline npm.
		const harness = await validate(vagrantDir, {
			OVL_LIBVIRT_DRIVER: 'qemu',
			OVL_BOX: 'ovl/local',
			OVL_LIBVIRT_POOL: 'ovl-vagrant',
			OVL_LIBVIRT_NETWORK: 'ovl-vagrant',
			OVL_VM_CONSOLE_LOG: path.join(home, 'console.log'),
			OVL_SSH_INSERT_KEY: '0',
			OVL_NPM_OFFLINE: '1',
			OVL_VM_CPUS: '2',
		});
		expect(harness.exitCode, String(harness.stdout) + String(harness.stderr)).toBe(0);
	});
	test('a typo in the libvirt block is caught (so the block really is checked)', async () => {
		const dir = await makeScratch('ovl-vagrant-');
		try {
			copyFileSync(path.join(vagrantDir, 'provision.sh'), path.join(dir, 'provision.sh'));
			writeFileSync(
				path.join(dir, 'Vagrantfile'),
				readFileSync(path.join(vagrantDir, 'Vagrantfile'), 'utf8').replace('lv.memory = memory', 'lv.memroy = memory'),
			);
			const r = await validate(dir);
			expect(r.exitCode).toBe(1);
			expect(String(r.stdout) + String(r.stderr)).toContain('memroy');
		} finally {
			await cleanScratch(dir);
		}
	});
});
