import {createHash} from 'node:crypto';
import {lstat, readFile, readdir, readlink} from 'node:fs/promises';
import path from 'node:path';
import {listXattrs, readXattr} from '../../src/io/xattr.js';

/**
 A digest of a tree: every entry's type, mode, owner, size, mtime, contents, link target, rdev
 and xattrs, never following symlinks. Equal digests ⇒ nothing in the tree changed.
 */
export async function hashTree(root: string): Promise<string> {
	const h = createHash('sha256');
	const walk = async (dir: string): Promise<void> => {
		const names = (await readdir(dir)).sort();
		for (const name of names) {
			const p = path.join(dir, name);
			const st = await lstat(p);
			h.update(`${path.relative(root, p)}\0${st.mode}\0${st.uid}:${st.gid}\0${st.size}\0${st.mtimeMs}\0${st.rdev}\0`);
			for (const x of (await listXattrs(p)).sort())
				h.update(`${x}=${(await readXattr(p, x))?.toString('hex') ?? ''}\0`);
			if (st.isSymbolicLink()) h.update(await readlink(p));
			else if (st.isFile()) h.update(await readFile(p));
			else if (st.isDirectory()) await walk(p);
		}
	};
	await walk(root);
	return h.digest('hex');
}
