import {decodePath, encodePath, printablePath} from './bytes.js';
import {OvlError} from './errors.js';
import {exitCodes} from './exit-codes.js';
import {parseLowerdir, unescapeLayerPath} from './lowerdir.js';
import type {LowerLayer, MountInfoEntry, MountOption, OverlayMount} from './types.js';

// The kernel escapes space, tab, newline and backslash (and ',' in option values) as \ooo octal.
export function unescapeOctal(s: string): string {
	if (!s.includes('\\')) return s;
	const bytes: number[] = [];
	const raw = encodePath(s);
	for (let i = 0; i < raw.length; i++) {
		const b = raw[i] as number;
		if (b === 0x5c && i + 3 < raw.length && isOctal(raw[i + 1]) && isOctal(raw[i + 2]) && isOctal(raw[i + 3])) {
			bytes.push(parseInt(String.fromCharCode(raw[i + 1]!, raw[i + 2]!, raw[i + 3]!), 8));
			i += 3;
		} else {
			bytes.push(b);
		}
	}
	return decodePath(Buffer.from(bytes));
}

function isOctal(b: number | undefined): boolean {
	return b !== undefined && b >= 0x30 && b <= 0x37;
}

/**
 Parses /proc/<pid>/mountinfo text. Fields are split on single spaces (an empty source field
 shows as two spaces on old kernels), optional fields end at the lone `-`.
 */
export function parseMountinfo(text: string): MountInfoEntry[] {
	const entries: MountInfoEntry[] = [];
	for (const line of text.split('\n')) {
		if (line.trim() === '') continue;
		const entry = parseMountinfoLine(line);
		if (entry) entries.push(entry);
	}
	return entries;
}

export function parseMountinfoLine(line: string): MountInfoEntry | undefined {
	const fields = line.split(' ');
	const sep = fields.indexOf('-', 6);
	if (fields.length < 10 || sep < 0 || fields.length < sep + 4) return undefined;
	const [mountId, parentId, majorMinor, root, mountPoint, mountOptions] = fields;
	return {
		mountId: Number(mountId),
		parentId: Number(parentId),
		majorMinor: majorMinor ?? '',
		root: unescapeOctal(root ?? ''),
		mountPoint: unescapeOctal(mountPoint ?? ''),
		mountOptions: (mountOptions ?? '').split(','),
		optionalFields: fields.slice(6, sep),
		fsType: unescapeOctal(fields[sep + 1] ?? ''),
		source: unescapeOctal(fields[sep + 2] ?? ''),
		// Option values are octal-escaped per option, so split on the raw commas first.
		superOptions: fields
			.slice(sep + 3)
			.join(' ')
			.split(',')
			.map(unescapeOctal),
	};
}

/** Splits `key=value` super options; the value keeps ovl/kernel backslash escapes. */
export function splitOption(option: string): MountOption {
	const eq = option.indexOf('=');
	return eq < 0 ? {key: option} : {key: option.slice(0, eq), value: option.slice(eq + 1)};
}

/** Decodes an overlay mountinfo entry into layers and options. Returns undefined for other fs types. */
export function decodeOverlay(entry: MountInfoEntry): OverlayMount | undefined {
	if (entry.fsType !== 'overlay') return undefined;
	let lowers: LowerLayer[] = [];
	const plusLowers: LowerLayer[] = [];
	let upper: string | undefined;
	let work: string | undefined;
	let userxattr = false;
	const options: MountOption[] = [];
	for (const raw of entry.superOptions) {
		const opt = splitOption(raw);
		switch (opt.key) {
			case 'lowerdir': {
				const parsed = parseLowerdir(opt.value ?? '');
				lowers = parsed.ok ? parsed.layers : [{path: opt.value ?? '', dataOnly: false}];
				break;
			}
			// lowerdir+/datadir+ values are not unescaped by the kernel (ovl_mount_dir_noesc).
			case 'lowerdir+':
				plusLowers.push({path: opt.value ?? '', dataOnly: false});
				break;
			case 'datadir+':
				plusLowers.push({path: opt.value ?? '', dataOnly: true});
				break;
			case 'upperdir':
				upper = unescapeLayerPath(opt.value ?? '');
				break;
			case 'workdir':
				work = unescapeLayerPath(opt.value ?? '');
				break;
			case 'rw':
			case 'ro':
				break;
			default:
				if (opt.key === 'userxattr') userxattr = true;
				options.push(opt);
		}
	}
	if (lowers.length === 0) lowers = plusLowers;
	return {
		entry,
		layers: {lowers, ...(upper === undefined ? {} : {upper}), ...(work === undefined ? {} : {work})},
		options,
		readOnly: entry.superOptions.includes('ro') || entry.mountOptions.includes('ro'),
		xattrNamespace: userxattr ? 'user' : 'trusted',
	};
}

export function overlayMounts(entries: readonly MountInfoEntry[]): OverlayMount[] {
	return entries.flatMap((e) => {
		const o = decodeOverlay(e);
		return o ? [o] : [];
	});
}

/** The mount that is visible at `mountPoint`: the last one stacked there. */
export function topMountAt(entries: readonly MountInfoEntry[], mountPoint: string): MountInfoEntry | undefined {
	return entries.findLast((e) => e.mountPoint === mountPoint);
}

/** The mount that contains an absolute, canonical path: the longest matching mount point. */
export function mountContaining(entries: readonly MountInfoEntry[], absPath: string): MountInfoEntry | undefined {
	const top = topByMountPoint(entries);
	// The path, then each parent up to '/': the first that is a mount point is the longest match.
	for (let p = absPath || '/'; ;) {
		const hit = top.get(p);
		if (hit) return hit;
		if (p === '/') return undefined;
		const cut = p.lastIndexOf('/');
		p = cut <= 0 ? '/' : p.slice(0, cut);
	}
}

// A 500-layer mount asks for each layer: one index per mountinfo read, not a scan of it per path.
const indexes = new WeakMap<readonly MountInfoEntry[], Map<string, MountInfoEntry>>();

/** Each mount point's visible mount: later entries are stacked on top and win. */
function topByMountPoint(entries: readonly MountInfoEntry[]): Map<string, MountInfoEntry> {
	let index = indexes.get(entries);
	if (!index) {
		index = new Map();
		for (const e of entries) index.set(e.mountPoint, e);
		indexes.set(entries, index);
	}
	return index;
}

/** Nothing is mounted on `target`: say so, and when it lies inside an overlay, which one. */
export function notMounted(target: string, entries: readonly MountInfoEntry[]): OvlError {
	const around = mountContaining(entries, target);
	const inside = around && around.fsType === 'overlay' && around.mountPoint !== target ? around : undefined;
	return new OvlError(
		'OVL_NOT_MOUNTED',
		inside
			? `nothing is mounted on ${printablePath(target)}; it is inside the overlay on ${printablePath(inside.mountPoint)}`
			: `nothing is mounted on ${printablePath(target)}`,
		inside
			? `give the mount point: ${printablePath(inside.mountPoint)}`
			: 'ovl ls lists the overlay mounts on this host',
		{exitCode: exitCodes.usage},
	);
}
