import {createHash, randomBytes} from 'node:crypto';
import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {chainIds} from '../../src/docker/store.js';

const hex = (): string => randomBytes(32).toString('hex');
// moby: overlayutils.GenerateID(26) — base32 upper-case letters and digits.
const linkId = (): string =>
	randomBytes(16)
		.toString('hex')
		.toUpperCase()
		.replace(/[^A-Z2-7]/g, 'Q')
		.slice(0, 26)
		.padEnd(26, 'Z');

function tree(root: string, files: Record<string, string>): void {
	mkdirSync(root, {recursive: true});
	for (const [rel, content] of Object.entries(files)) {
		mkdirSync(path.dirname(path.join(root, rel)), {recursive: true});
		writeFileSync(path.join(root, rel), content);
	}
}

export type BuiltRoot = {
	root: string;
	home: string;
	containerId: string;
	mountId: string;
	imageId: string;
	layerIds: string[];
	links: string[];
	initLink: string;
	diffIds: string[];
};

/**
 A Docker data-root laid out exactly as moby's overlay2 driver does: 64-hex cache ids, 26-char
 link ids with relative l/ symlinks, `lower` files top first, `committed` markers in parents,
 an -init layer, the container layer, layerdb (cache-id, diff, parent, size, mounts), imagedb,
 repositories.json and containers/<id>/config.v2.json.
 */
export function buildDockerRoot(
	root: string,
	image: {tag: string; layers: {files: Record<string, string>; createdBy: string}[]},
	container: {name: string},
): BuiltRoot {
	const home = path.join(root, 'overlay2');
	mkdirSync(path.join(home, 'l'), {recursive: true});
	const layerIds: string[] = [];
	const links: string[] = [];
	const makeLayer = (
		id: string,
		files: Record<string, string>,
		parentIndex: number | undefined,
		extraLower?: string,
	): string => {
		const dir = path.join(home, id);
		tree(path.join(dir, 'diff'), files);
		const link = linkId();
		writeFileSync(path.join(dir, 'link'), link);
		symlinkSync(`../${id}/diff`, path.join(home, 'l', link));
		const parentLowers: string[] = [];
		if (extraLower) parentLowers.push(extraLower);
		else if (parentIndex !== undefined) for (let i = parentIndex; i >= 0; i--) parentLowers.push(`l/${links[i]}`);
		if (parentLowers.length > 0) {
			writeFileSync(path.join(dir, 'lower'), parentLowers.join(':'));
			mkdirSync(path.join(dir, 'work'));
		}
		return link;
	};
	for (const [i, layer] of image.layers.entries()) {
		const id = hex();
		layerIds.push(id);
		links.push(makeLayer(id, layer.files, i === 0 ? undefined : i - 1));
		if (i > 0) writeFileSync(path.join(home, layerIds[i - 1] as string, 'committed'), '');
	}
	const diffIds = image.layers.map(() => `sha256:${hex()}`);
	const chains = chainIds(diffIds);
	const db = path.join(root, 'image', 'overlay2', 'layerdb', 'sha256');
	chains.forEach((chain, i) => {
		const d = path.join(db, chain.slice(7));
		mkdirSync(d, {recursive: true});
		writeFileSync(path.join(d, 'cache-id'), layerIds[i] as string);
		writeFileSync(path.join(d, 'diff'), diffIds[i] as string);
		writeFileSync(path.join(d, 'size'), '1234');
		if (i > 0) writeFileSync(path.join(d, 'parent'), chains[i - 1] as string);
	});
	const config = {
		architecture: 'amd64',
		os: 'linux',
		rootfs: {type: 'layers', diff_ids: diffIds},
		history: image.layers.flatMap((l) => [
			{created_by: l.createdBy},
			{created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true},
		]),
	};
	const configText = JSON.stringify(config);
	const imageHex = createHash('sha256').update(configText).digest('hex');
	mkdirSync(path.join(root, 'image', 'overlay2', 'imagedb', 'content', 'sha256'), {recursive: true});
	writeFileSync(path.join(root, 'image', 'overlay2', 'imagedb', 'content', 'sha256', imageHex), configText);
	writeFileSync(
		path.join(root, 'image', 'overlay2', 'repositories.json'),
		JSON.stringify({Repositories: {[image.tag.split(':')[0] as string]: {[image.tag]: `sha256:${imageHex}`}}}),
	);
	// The container: <mount>-init (hostname, resolv.conf) over the image, then the container layer.
	const mountId = hex();
	const topLowers = links
		.map((l) => `l/${l}`)
		.reverse()
		.join(':');
	const initLink = makeLayer(
		`${mountId}-init`,
		{'etc/hostname': '', 'etc/resolv.conf': '', '.dockerenv': ''},
		undefined,
		topLowers,
	);
	makeLayer(mountId, {}, undefined, `l/${initLink}:${topLowers}`);
	mkdirSync(path.join(home, mountId, 'merged'));
	writeFileSync(path.join(home, `${mountId}-init`, 'committed'), '');
	const containerId = hex();
	const mounts = path.join(root, 'image', 'overlay2', 'layerdb', 'mounts', containerId);
	mkdirSync(mounts, {recursive: true});
	writeFileSync(path.join(mounts, 'mount-id'), mountId);
	writeFileSync(path.join(mounts, 'init-id'), `${mountId}-init`);
	writeFileSync(path.join(mounts, 'parent'), chains.at(-1) as string);
	mkdirSync(path.join(root, 'containers', containerId), {recursive: true});
	writeFileSync(
		path.join(root, 'containers', containerId, 'config.v2.json'),
		JSON.stringify({
			ID: containerId,
			Name: `/${container.name}`,
			Image: `sha256:${imageHex}`,
			Config: {Image: image.tag},
			State: {Running: false},
			Driver: 'overlay2',
		}),
	);
	return {root, home, containerId, mountId, imageId: `sha256:${imageHex}`, layerIds, links, initLink, diffIds};
}
