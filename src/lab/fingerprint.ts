import {createHash} from 'node:crypto';
import {lstatSync, readdirSync} from 'node:fs';
import path from 'node:path';

/**
 A cheap digest of a tree's metadata (type, mode, owner, size, mtime, ctime, inode), never
 following links. Any write or attribute change moves ctime, so equal digests mean untouched,
 without reading 600 MiB of copy-up-cost data.
 */
export function fingerprint(root: string): string {
	const h = createHash('sha256');
	const walk = (dir: string): void => {
		for (const name of readdirSync(dir).sort()) {
			const p = path.join(dir, name);
			const st = lstatSync(p, {bigint: true});
			h.update(
				`${path.relative(root, p)}\0${st.mode}\0${st.uid}:${st.gid}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\0${st.ino}\n`,
			);
			if (st.isDirectory()) walk(p);
		}
	};
	walk(root);
	return h.digest('hex');
}
