import type {FileType} from './entry.js';

/** A directory in one lower layer that takes part in a merge, top first. */
export type CtxDir = {readonly layer: number; readonly path: string};

export const sameCtx = (a: readonly CtxDir[], b: readonly CtxDir[]): boolean =>
	a.length === b.length && a.every((d, i) => d.layer === b[i]?.layer && d.path === b[i]?.path);

/** One name as the lower layers show it in a merge context: the topmost non-whiteout hit. */
export type LowerName = {readonly layer: number; readonly path: string; readonly type: FileType};

export function fileTypeOfMode(mode: number): FileType {
	switch (mode & 0o170000) {
		case 0o040000:
			return 'dir';
		case 0o120000:
			return 'symlink';
		case 0o010000:
			return 'fifo';
		case 0o140000:
			return 'socket';
		case 0o020000:
			return 'char';
		case 0o060000:
			return 'block';
		default:
			return 'file';
	}
}
