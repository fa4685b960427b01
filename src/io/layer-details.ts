import path from 'node:path';
import type {LayerInfo} from '../core/report.js';
import type {LayerDetail} from '../ui/model.js';
import {statLite} from './lower-dirs.js';
import {lstatPath} from './walk-fs.js';

/** What every layer holds at one overlay path (top first), read when the explorer selects it. */
export function layerDetails(layers: readonly LayerInfo[], overlayPath: string, origin?: string): LayerDetail[] {
	const out: LayerDetail[] = [];
	for (const l of layers) {
		for (const [p, via] of [
			[overlayPath, undefined],
			...(origin && origin !== overlayPath && l.role !== 'upper' ? [[origin, 'origin']] : []),
		] as [string, string | undefined][]) {
			const full = path.join(l.path, p);
			const st = lstatPath(full);
			if (!st && via) continue;
			out.push({role: l.role, layer: l.layer, path: full, ...(via ? {via} : {}), ...(st ? {stat: statLite(st)} : {})});
		}
	}
	return out;
}
