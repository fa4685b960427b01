import {closeSync, constants, linkSync, openSync, writeSync} from 'node:fs';
import path from 'node:path';
import fse from 'fs-extra';
import type {Experiment, FileSpec} from './experiment.js';
import {safeJoin} from './ops.js';

export type SeededLayer = {readonly name: string; readonly dir: string};

/** Lays out an experiment's lowers in `lowersDir` (ovl's own temp tree): "repeat: N" makes name-1 … name-N. */
export function seedLayers(exp: Experiment, lowersDir: string): SeededLayer[] {
	const layers: SeededLayer[] = [];
	for (const spec of exp.lowers) {
		const names =
			spec.repeat === undefined ? [spec.name] : Array.from({length: spec.repeat}, (_, i) => `${spec.name}-${i + 1}`);
		for (const name of names) {
			const dir = path.join(lowersDir, name);
			fse.ensureDirSync(dir);
			for (const d of spec.dirs) fse.ensureDirSync(safeJoin(dir, d, false));
			for (const [f, content] of Object.entries(spec.files)) {
				fse.ensureDirSync(path.dirname(safeJoin(dir, f, false)));
				fill(safeJoin(dir, f, false), content);
			}
			for (const [link, target] of Object.entries(spec.links))
				linkSync(safeJoin(dir, target, false), safeJoin(dir, link, false));
			layers.push({name, dir});
		}
	}
	return layers;
}

const createFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

function fill(p: string, spec: FileSpec): void {
	const fd = openSync(p, createFlags, 0o644);
	try {
		if (typeof spec === 'string') {
			writeSync(fd, spec);
			return;
		}
		// Real bytes, not a sparse file: copy-up skips holes, which would hide the cost being measured.
		const chunk = Buffer.alloc(Math.min(spec.size, 1 << 20), 0x61);
		for (let left = spec.size; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
	} finally {
		closeSync(fd);
	}
}
