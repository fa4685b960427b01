import type {StatLite} from '../core/entry.js';

/** One layer's view of a path, for the details pane (plain data). */
export type LayerDetail = {
	readonly role: 'upper' | 'lower' | 'data-only';
	readonly layer: number;
	readonly path: string;
	/** Set when this row is the path's redirect/metacopy origin rather than the path itself. */
	readonly via?: string;
	readonly stat?: StatLite;
};
