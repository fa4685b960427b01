import {createHash} from 'node:crypto';
import {lstatSync, readFileSync, readdirSync, readlinkSync} from 'node:fs';
import path from 'node:path';
import {listXattrs, readXattr} from '../../src/io/xattr.js';

type Node = {type: string; perm: number; uid: number; gid: number; size: number; mtimeMs: number; extra: string};

/** Every path of a tree with what a person (or docker diff) would compare; never follows links. */
export async function walkView(root: string): Promise<Map<string, Node>> {
	const out = new Map<string, Node>();
	const walk = async (dir: string, rel: string): Promise<void> => {
		for (const name of readdirSync(dir).sort()) {
			const p = path.join(dir, name);
			const r = `${rel}/${name}`;
			const st = lstatSync(p);
			const type = st.isDirectory()
				? 'dir'
				: st.isSymbolicLink()
					? 'symlink'
					: st.isFile()
						? 'file'
						: st.isFIFO()
							? 'fifo'
							: 'other';
			let extra = '';
			if (type === 'file') extra = createHash('sha1').update(readFileSync(p)).digest('hex');
			if (type === 'symlink') extra = readlinkSync(p);
			const xs = (await listXattrs(p)).filter((x) => !x.includes('.overlay.')).sort();
			for (const x of xs) extra += `|${x}=${(await readXattr(p, x))?.toString('hex') ?? ''}`;
			out.set(r, {
				type,
				perm: st.mode & 0o7777,
				uid: st.uid,
				gid: st.gid,
				size: type === 'dir' ? 0 : st.size,
				mtimeMs: st.mtimeMs,
				extra,
			});
			if (type === 'dir') await walk(p, r);
		}
	};
	await walk(root, '');
	return out;
}

/** "A /x", "D /y", "C /z": what differs between two views. */
export function truthDiff(before: Map<string, Node>, after: Map<string, Node>): string[] {
	const out: string[] = [];
	for (const [p, a] of after) {
		const b = before.get(p);
		if (!b) out.push(`A ${p}`);
		else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`C ${p}`);
	}
	for (const p of before.keys()) if (!after.has(p)) out.push(`D ${p}`);
	return out.sort();
}
