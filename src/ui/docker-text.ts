import type {DriverReport} from '../docker/driver.js';
import type {Printed} from '../output.js';
import {formatBytes} from './inspect-text.js';
import type {Style} from './style.js';

/** `ovl docker driver` for pipes: tab-separated rows; notes and warnings on stderr. */
export function driverPlain(r: DriverReport): Printed {
	const out: string[] = [];
	const err: string[] = [];
	out.push(`active\t${r.activeDriver ?? 'unknown'}\t${r.source}\ndata-root\t${r.dataRoot}\n`);
	if (!r.daemon.answered)
		err.push(
			`note\tthe daemon did not answer: ${r.daemon.reason ?? ''}; the driver comes from ${r.source === 'guess' ? 'what is on disk (a guess)' : 'daemon.json'}\n`,
		);
	for (const d of r.drivers)
		out.push(
			`driver\t${d.driver}\t${d.path}\t${d.bytes}\t${d.layers}\t${d.images}\t${d.containers}\t${d.active ? 'active' : 'inactive'}\n`,
		);
	for (const w of r.warnings) err.push(`warning\t${w}\n`);
	return {out: out.join(''), err: err.join('')};
}

/** `ovl docker driver` for a person. */
export function driverHuman(r: DriverReport, s: Style): Printed {
	const out: string[] = [];
	const err: string[] = [];
	out.push(
		`${s.bold('storage driver')}  ${r.activeDriver ?? 'unknown'} ${s.dim(`(from ${r.source}${r.serverVersion ? `, Docker ${r.serverVersion}` : ''})`)}\n`,
	);
	out.push(`${s.bold('data-root')}       ${r.dataRoot}\n`);
	if (!r.daemon.answered)
		out.push(
			`${s.bold('daemon')}          ${s.yellow('not reachable')}: ${r.daemon.reason ?? ''}; the driver above is ${r.source === 'guess' ? 'a guess from what is on disk' : 'what daemon.json sets'}\n`,
		);
	out.push(
		`${s.bold('daemon.json')}     ${r.daemonJson.path}: ${r.daemonJson.exists ? (r.daemonJson.error ? s.red(`invalid JSON (${r.daemonJson.error})`) : JSON.stringify(r.daemonJson.settings)) : 'absent'}\n`,
	);
	if (r.drivers.length === 0) out.push('no storage driver directories under the data-root\n');
	for (const d of r.drivers)
		out.push(
			`  ${d.active ? s.green('● active  ') : s.dim('○ inactive')} ${d.driver.padEnd(34)} ${formatBytes(d.bytes).padStart(10)}  ${d.layers} layer dirs, ${d.images} images, ${d.containers} containers\n`,
		);
	for (const w of r.warnings) err.push(`${s.yellow('! warning')} ${w}\n`);
	return {out: out.join(''), err: err.join('')};
}

type LsContainer = {
	readonly id: string;
	readonly name: string;
	readonly image: string;
	readonly running: boolean;
	readonly layers: number;
	readonly upper?: string | undefined;
};
type LsImage = {
	readonly id: string;
	readonly tags: readonly string[];
	readonly layers: readonly {cacheId?: string | undefined}[];
};

/** `ovl docker ls` for pipes: one tab-separated row per container and per image. */
export function dockerLsPlain(containers: readonly LsContainer[], images: readonly LsImage[]): string {
	const out: string[] = [];
	for (const c of containers)
		out.push(
			`container\t${c.id.slice(0, 12)}\t${c.name}\t${c.image}\t${c.running ? 'running' : 'stopped'}\t${c.layers}\t${c.upper ?? '-'}\n`,
		);
	for (const i of images)
		out.push(
			`image\t${i.id.slice(7, 19)}\t${i.tags.join(',') || '-'}\t${i.layers.length}\t${i.layers.map((l) => l.cacheId ?? '?').join(',')}\n`,
		);
	return out.join('');
}

/** `ovl docker ls` for a person. */
export function dockerLsHuman(containers: readonly LsContainer[], images: readonly LsImage[], s: Style): string {
	const out: string[] = [];
	out.push(`${s.bold(`containers (${containers.length})`)}\n`);
	for (const c of containers)
		out.push(
			`  ${c.id.slice(0, 12)}  ${c.name.padEnd(16)} ${c.image.padEnd(18)} ${c.running ? s.green('running') : s.dim('stopped')}  ${c.layers} layers  upper ${c.upper ?? '?'}\n`,
		);
	out.push(`${s.bold(`images (${images.length})`)}\n`);
	for (const i of images)
		out.push(
			`  ${i.id.slice(7, 19)}  ${(i.tags.join(', ') || '<none>').padEnd(24)} ${i.layers.length} layers: ${i.layers.map((l) => (l.cacheId ?? '?').slice(0, 12)).join(' ')}\n`,
		);
	return out.join('');
}
