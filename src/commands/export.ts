import {closeSync, constants, createWriteStream, fsyncSync, openSync} from 'node:fs';
import {rename, unlink} from 'node:fs/promises';
import path from 'node:path';
import type {Writable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {createGzip} from 'node:zlib';
import type {Context} from '../context.js';
import {emit} from '../output.js';
import {fsPath, printablePath} from '../core/bytes.js';
import {OvlError, UsageError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {markComplete, onInterrupt} from '../interrupt.js';
import {fsError} from '../io/beneath.js';
import {realpathExact} from '../io/exact-fs.js';
import {writeExport} from '../io/export-layer.js';
import {planExport} from '../flows/export-plan.js';
import {locate, type LayerArgs} from './inspect.js';

export type ExportOptions = LayerArgs & {
	readonly output: string;
	readonly gzip: boolean;
	/** Where `-o -` writes: the process's stdout, as bytes. */
	readonly stdout: Writable & {isTTY?: boolean};
};

/** `ovl export`: an overlay's upper as an OCI/Docker layer tarball. */
export async function exportCommand(o: ExportOptions, ctx: Context): Promise<number> {
	const toStdout = o.output === '-';
	if (toStdout && o.stdout.isTTY)
		throw new UsageError(
			'refusing to write a tar archive to a terminal',
			'give -o FILE, or pipe it: ovl export … -o - | tar -tv',
		);
	if (toStdout && ctx.mode === 'json')
		throw new UsageError('--json and -o - would both write to stdout', 'give -o FILE with --json');
	const located = await locate(o, ctx);
	const {upper} = located;
	if (upper === undefined)
		throw new OvlError(
			'OVL_NO_UPPER',
			'this overlay has no upper layer (read-only): there are no changes to export',
			'ovl ls shows its lower layers',
			{exitCode: exitCodes.usage},
		);
	const gzip = o.gzip || (!toStdout && o.output.endsWith('.gz'));
	const target = toStdout ? undefined : path.resolve(ctx.cwd, o.output);
	if (target)
		await refuseInsideOverlay(target, [
			upper,
			...located.lowers.map((l) => l.path),
			...[located.work, o.merged].filter((p): p is string => p !== undefined),
		]);
	const plan = await planExport({...located, upper});

	const result = target
		? await writeFileAtomically(target, (out) => writeTo(plan.items, out, gzip))
		: await writeTo(plan.items, o.stdout, gzip, false);
	markComplete();
	const summary = {
		schema: 'ovl.export/v1',
		upper,
		lowers: located.lowers.map((l) => l.path),
		output: target ?? '-',
		gzip,
		...plan.counts,
		hardlinks: result.hardlinks,
		tarBytes: result.bytes,
		skipped: plan.skipped,
	};
	const c = plan.counts;
	const where = `${target ? printablePath(target) : 'stdout'}${gzip ? ' (gzip)' : ''}`;
	const counts = `${c.entries} entries, ${c.whiteouts} whiteout(s), ${c.opaques} opaque dir(s), ${result.hardlinks} hard link(s)`;
	const lines = [`exported ${printablePath(upper)} → ${where}: ${counts}; ${result.bytes} tar bytes\n`];
	if (c.renamedDirs > 0)
		lines.push(`  ${c.renamedDirs} renamed dir(s) written out whole (a layer cannot say "renamed")\n`);
	if (c.metacopies > 0) lines.push(`  ${c.metacopies} metacopy file(s) with their data from the lower that holds it\n`);
	const skipped = plan.skipped.map((s) => `${ctx.style.yellow('!')} skipped ${printablePath(s.path)}: ${s.why}\n`);
	// With the layer on stdout, the summary goes to stderr.
	const text = lines.join('');
	emit(ctx, {
		json: summary,
		plain: () => (toStdout ? {err: text + skipped.join('')} : {out: text, err: skipped.join('')}),
	});
	return exitCodes.ok;
}

async function writeTo(
	items: Parameters<typeof writeExport>[0],
	out: Writable,
	gzip: boolean,
	end = true,
): Promise<{bytes: number; hardlinks: number}> {
	if (!gzip) {
		const r = await writeExport(items, out);
		if (end)
			await new Promise<void>((resolve, reject) =>
				out.end((error?: Error | null) => (error ? reject(error) : resolve())),
			);
		return r;
	}
	// gzip's header carries no name and mtime 0 here: the same upper gives the same bytes.
	const z = createGzip();
	const piped = pipeline(z, out, {end});
	const r = await writeExport(items, z);
	z.end();
	await piped;
	return r;
}

/** Written under a temp name beside the target (O_EXCL, no links followed), renamed over it when whole. */
async function writeFileAtomically<T>(target: string, write: (out: Writable) => Promise<T>): Promise<T> {
	const tmp = path.join(path.dirname(target), `.${path.basename(target)}.ovl-export-${process.pid}`);
	let fd: number;
	try {
		fd = openSync(fsPath(tmp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
	} catch (error) {
		throw fsError(error, tmp);
	}
	const release = onInterrupt(async () => {
		await unlink(fsPath(tmp)).catch(() => undefined);
	});
	try {
		const out = createWriteStream('', {fd, autoClose: false});
		const result = await write(out);
		fsyncSync(fd);
		closeSync(fd);
		await rename(fsPath(tmp), fsPath(target)).catch((error: unknown) => {
			throw fsError(error, target);
		});
		return result;
	} catch (error) {
		try {
			closeSync(fd);
		} catch {
			// already closed
		}
		await unlink(fsPath(tmp)).catch(() => undefined);
		throw error instanceof OvlError ? error : fsError(error, target);
	} finally {
		release();
	}
}

/** The archive must not land in the tree it is made of (it would read itself, or write a lower). */
async function refuseInsideOverlay(target: string, roots: readonly string[]): Promise<void> {
	const dir = await realpathExact(path.dirname(target)).catch(() => {
		throw new OvlError(
			'OVL_PATH_MISSING',
			`${printablePath(path.dirname(target))} does not exist`,
			'create the directory first, or choose another output',
			{exitCode: exitCodes.usage},
		);
	});
	for (const r of roots) {
		const real = await realpathExact(r).catch(() => r);
		if (dir === real || dir.startsWith(`${real}/`))
			throw new UsageError(
				`${printablePath(target)} is inside ${printablePath(r)}, the overlay being exported`,
				'write the archive somewhere outside the overlay and its layers',
				'OVL_EXPORT_INSIDE',
			);
	}
}
