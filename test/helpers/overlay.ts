import fse from 'fs-extra';
import path from 'node:path';
import {execa} from 'execa';

/** Mounts an overlay directly with mount(8) (lowers bottom→top), for tests that study the kernel. */
export async function mountOverlay(o: {
	lowers: string[];
	upper?: string;
	work?: string;
	merged: string;
	options?: string[];
}): Promise<void> {
	await fse.ensureDir(o.merged);
	if (o.upper) await fse.ensureDir(o.upper);
	if (o.work) await fse.ensureDir(o.work);
	const opts = [`lowerdir=${[...o.lowers].reverse().join(':')}`];
	if (o.upper && o.work) opts.push(`upperdir=${o.upper}`, `workdir=${o.work}`);
	opts.push(...(o.options ?? []));
	await execa('mount', ['-t', 'overlay', 'overlay', '-o', opts.join(','), o.merged]);
}

export async function umount(p: string): Promise<void> {
	await execa('umount', [p]);
}

/** Creates files (content strings) and dirs (trailing '/') below root. */
export async function makeTree(root: string, spec: Record<string, string>): Promise<void> {
	await fse.ensureDir(root);
	for (const [rel, content] of Object.entries(spec)) {
		const p = path.join(root, rel);
		if (rel.endsWith('/')) await fse.ensureDir(p);
		else await fse.outputFile(p, content);
	}
}
