import {lstatSync, mkdirSync} from 'node:fs';
import path from 'node:path';
import {setAttributeSync} from '@napi-rs/xattr';
import {execa} from 'execa';
import * as tar from 'tar';
import {OvlError} from '../core/errors.js';
import {safeJoin} from '../lab/ops.js';

// OCI/Docker layer tarballs: `.wh.<name>` deletes <name> from the layers below, `.wh..wh..opq`
// makes its directory opaque (image-spec layer.md). On import they become the kernel's forms:
// a 0/0 character device, and overlay.opaque="y" (trusted, or user with userxattr).

const opaqueMarker = '.wh..wh..opq';

export type TarCheck = {readonly whiteouts: string[]; readonly opaques: string[]; readonly entries: number};

function refuse(file: string, entry: string, why: string): never {
	throw new OvlError('OVL_TAR_UNSAFE', `${path.basename(file)}: entry "${entry}" ${why}; nothing was extracted`, 'layer tarballs may only hold paths inside the layer (no "..", no absolute paths, no links out)', {exitCode: 2});
}

/** Reads the whole archive once before anything is written: every entry must stay inside the layer. */
export async function checkLayerTar(file: string): Promise<TarCheck> {
	const whiteouts: string[] = [];
	const opaques: string[] = [];
	let entries = 0;
	let failure: unknown;
	await tar.t({
		file,
		onReadEntry: (e) => {
			if (failure) return;
			try {
				entries++;
				const raw = e.path;
				if (raw.includes('\0')) refuse(file, raw, 'has a NUL byte');
				if (path.posix.isAbsolute(raw)) refuse(file, raw, 'is an absolute path');
				const norm = path.posix.normalize(raw.replace(/^(\.\/)+/, ''));
				if (norm === '..' || norm.startsWith('../') || raw.split('/').includes('..')) refuse(file, raw, 'climbs out with ".."');
				const base = path.posix.basename(norm);
				if (e.type === 'Link' && e.linkpath) {
					const target = path.posix.normalize(e.linkpath);
					if (path.posix.isAbsolute(e.linkpath) || target === '..' || target.startsWith('../')) refuse(file, raw, `is a hard link to ${e.linkpath}, outside the layer`);
				}
				if (e.type === 'SymbolicLink' && e.linkpath && !path.posix.isAbsolute(e.linkpath)) {
					// Absolute targets are resolved inside the container at run time; relative ones must not climb out of the layer.
					const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(norm), e.linkpath));
					if (resolved === '..' || resolved.startsWith('../')) refuse(file, raw, `is a symlink to ${e.linkpath}, which points out of the layer`);
				}
				if (base.startsWith('.wh.')) {
					if (base === opaqueMarker) opaques.push(path.posix.dirname(norm));
					else if (base.startsWith('.wh..wh.') || base === '.wh.' || base === '.wh..' || base === '.wh...') refuse(file, raw, 'is not a valid whiteout name');
					else whiteouts.push(path.posix.join(path.posix.dirname(norm), base.slice(4)));
				}
			} catch (err) {
				failure = err;
			}
			e.resume();
		},
	});
	if (failure) throw failure;
	return {whiteouts, opaques, entries};
}

/** Unpacks one layer tarball (plain or gzip) into `dir`, converting whiteouts; `dir` is created. */
export async function importLayerTar(file: string, dir: string, ns: 'trusted' | 'user'): Promise<TarCheck> {
	const check = await checkLayerTar(file);
	mkdirSync(dir, {recursive: true});
	await tar.x({
		file,
		cwd: dir,
		strict: true,
		preservePaths: false,
		filter: (p) => !path.posix.basename(p).startsWith('.wh.'),
	});
	for (const d of check.opaques) {
		const target = d === '.' ? dir : safeJoin(dir, d, true);
		mkdirSync(target, {recursive: true});
		setAttributeSync(target, `${ns}.overlay.opaque`, 'y');
	}
	for (const w of check.whiteouts) {
		const target = safeJoin(dir, w, false);
		mkdirSync(path.dirname(target), {recursive: true});
		if (lstatSync(target, {throwIfNoEntry: false})) refuse(file, w, 'is both whited out and present in the same layer');
		const r = await execa('mknod', [target, 'c', '0', '0'], {reject: false});
		if (r.exitCode !== 0) throw new OvlError('OVL_WHITEOUT_FAILED', `cannot create the whiteout ${w}: ${String(r.stderr).trim()}`, 'creating 0/0 character devices needs root (or Linux 5.8+ in a user namespace)');
	}
	return check;
}
