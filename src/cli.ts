import yargs, {type Argv} from 'yargs';
import {processContext, type Context} from './context.js';
import {OvlError, UsageError} from './core/errors.js';
import {fsError} from './io/beneath.js';
import {exitCodes} from './core/exit-codes.js';
import {formatFindings} from './ui/findings.js';
import {createRequire} from 'node:module';

type Global = {json: boolean; plain: boolean; verbose: boolean; color: boolean | undefined};

const epilogue = `Exit codes: 0 ok · 1 operation failed · 2 usage or validation error · 4 needs root · 130 interrupted
Environment: NO_COLOR, FORCE_COLOR, CI (plain output), OVL_RUN_DIR (mount registry, default /run/ovl)`;

function contextFrom(argv: Global): Context {
	return processContext({
		json: argv.json,
		plain: argv.plain,
		verbose: argv.verbose,
		...(argv.color === undefined ? {} : {color: argv.color}),
	});
}

function layerOptions<T>(y: Argv<T>) {
	return y
		.positional('merged', {type: 'string', describe: 'mount point of the overlay'})
		.option('upper', {type: 'string', describe: 'offline: the upper layer'})
		.option('lower', {type: 'string', describe: 'offline: a lower layer, bottom → top (repeat)'})
		.option('work', {type: 'string', describe: 'offline: the work dir (for its findings)'})
		.option('userxattr', {type: 'boolean', default: false, describe: 'offline: the layers use user.overlay.* xattrs'})
		.option('root', {type: 'string', describe: 'resolve relative layer paths recorded by the kernel against DIR'});
}

function layerArgs(argv: {
	merged?: string | undefined;
	upper?: string | undefined;
	lower?: unknown;
	work?: string | undefined;
	userxattr: boolean;
	root?: string | undefined;
}) {
	return {
		merged: argv.merged,
		upper: argv.upper,
		lowers: strings(argv.lower),
		work: argv.work,
		userxattr: argv.userxattr,
		root: argv.root,
	};
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

/** Builds and runs the yargs CLI. Commands load lazily, so --version and completion stay light. */
export async function runCli(args: string[]): Promise<number> {
	let ctx: Context | undefined;
	// The command's exit code, returned once yargs is done (not through process.exitCode).
	let exit: number = exitCodes.ok;
	const run = async (argv: Global, action: (c: Context) => Promise<number | void>): Promise<void> => {
		ctx = contextFrom(argv);
		const code = await action(ctx);
		if (typeof code === 'number') exit = code;
	};
	const version = (createRequire(import.meta.url)('../package.json') as {version: string}).version;
	const cli: Argv<Global> = yargs(args)
		.scriptName('ovl')
		.usage(
			'$0 <command> [options]\n\nMake kernel overlayfs legible and safe: prepare layers, validate and mount them, see what the kernel did.',
		)
		.option('json', {type: 'boolean', default: false, describe: 'one JSON document on stdout'})
		.option('plain', {type: 'boolean', default: false, describe: 'plain text even on a terminal'})
		.option('verbose', {type: 'boolean', default: false, describe: 'show mount(8) output and argv'})
		.option('color', {type: 'boolean', describe: 'force colour on or off (NO_COLOR is honoured)'})
		.command(
			'prepare <dir>',
			'lay out lower/upper/work/merged directories and write <dir>/ovl.yaml',
			(y) =>
				y
					.positional('dir', {
						type: 'string',
						demandOption: true,
						describe: 'directory to lay out (created if missing)',
					})
					.option('lower', {
						type: 'string',
						describe: 'lower layer name, bottom → top; repeat it (default: lower1 lower2)',
					})
					.option('upper', {type: 'string', default: 'upper', describe: 'upper layer name'})
					.option('work', {type: 'string', default: 'work', describe: 'work dir name'})
					.option('merged', {type: 'string', default: 'merged', describe: 'mount point name'})
					.option('read-only', {type: 'boolean', default: false, describe: 'no upper/work: a read-only stack'})
					.option('option', {alias: 'o', type: 'string', describe: 'mount option k=v for the stack file (repeat)'})
					.option('put', {type: 'string', describe: 'seed a file: LAYER/PATH=TEXT, \\n for newline (repeat)'})
					.option('seed', {type: 'string', describe: 'YAML file mapping layer → {path: contents}'})
					.option('force', {type: 'boolean', default: false, describe: 'rewrite an existing, different ovl.yaml'})
					.option('layer-tar', {
						type: 'string',
						describe:
							'an OCI/Docker layer tarball (plain or gzip), bottom → top; repeat it. .wh. files become whiteouts',
					})
					.example(
						'$0 prepare img --layer-tar base.tar.gz --layer-tar app.tar',
						'image layers as lowers, whiteouts converted',
					)
					.example(
						"$0 prepare demo --put lower1/a='docker\\noverlay\\n' --put lower1/b=x --put lower2/b='filesystem\\n'",
						'the classic two-lower experiment',
					)
					.example('$0 prepare img --lower base --lower app --lower config', 'three lowers, bottom → top'),
			async (argv) =>
				run(argv, async (c) =>
					(await import('./commands/prepare.js')).prepareCommand(
						{
							dir: String(argv.dir),
							lowers: strings(argv.lower),
							upper: argv.readOnly ? undefined : argv.upper,
							work: argv.readOnly ? undefined : argv.work,
							merged: argv.merged,
							options: strings(argv.option),
							puts: strings(argv.put),
							seedFile: argv.seed,
							force: argv.force,
							layerTars: strings(argv.layerTar),
						},
						c,
					),
				),
		)
		.command(
			'mount [dir] [merged]',
			'validate a stack and mount it with mount -t overlay',
			(y) =>
				y
					.positional('dir', {
						type: 'string',
						describe: 'directory holding ovl.yaml (or the mount point when layers come from flags)',
					})
					.positional('merged', {type: 'string', describe: 'mount point (overrides the stack file)'})
					.option('stack', {type: 'string', describe: 'stack file to read instead of <dir>/ovl.yaml'})
					.option('lower', {type: 'string', describe: 'lower layer, bottom → top (repeat)'})
					.option('lowerdir', {type: 'string', describe: 'kernel-style TOP:…:BOTTOM list (\\: escapes, :: data-only)'})
					.option('upper', {type: 'string', describe: 'upper (writable) layer'})
					.option('work', {type: 'string', describe: 'work dir, on the same mount as the upper'})
					.option('option', {alias: 'o', type: 'string', describe: 'mount option k=v or flag (repeat)'})
					.option('dry-run', {type: 'boolean', default: false, describe: 'print the plan and findings; mount nothing'})
					.option('force', {
						type: 'boolean',
						default: false,
						describe:
							'turn validation errors into warnings and let the kernel decide (option-string safety still applies)',
					})
					.example('$0 mount demo', 'mount the stack in demo/ovl.yaml on demo/merged')
					.example('$0 mount --lower base --lower app --upper up --work wk /mnt/x', 'layers from flags, bottom → top')
					.example('$0 mount --lowerdir app:base /mnt/ro --dry-run', 'kernel order (top first), read-only'),
			async (argv) =>
				run(argv, async (c) =>
					(await import('./commands/mount.js')).mountCommand(
						{
							dir: argv.dir,
							merged: argv.merged,
							stack: argv.stack,
							lowers: strings(argv.lower),
							lowerdir: argv.lowerdir,
							upper: argv.upper,
							work: argv.work,
							options: strings(argv.option),
							dryRun: argv.dryRun,
							force: argv.force,
						},
						c,
					),
				),
		)
		.command(
			'umount <merged>',
			'unmount an overlay (only if it is one); names what keeps it busy',
			(y) =>
				y
					.positional('merged', {type: 'string', demandOption: true})
					.option('lazy', {
						type: 'boolean',
						default: false,
						describe: 'detach now, clean up when no longer busy (umount -l)',
					})
					.example('$0 umount demo/merged', ''),
			async (argv) =>
				run(argv, async (c) =>
					(await import('./commands/umount.js')).umountCommand({merged: String(argv.merged), lazy: argv.lazy}, c),
				),
		)
		.command(
			'shell [dir]',
			'mount a stack for one shell (or -- CMD): private to it, unmounted when it exits; works without root',
			(y) =>
				y
					.positional('dir', {
						type: 'string',
						describe: 'directory holding ovl.yaml, default . (or the mount point when layers come from flags)',
					})
					.option('stack', {type: 'string', describe: 'stack file to read instead of <dir>/ovl.yaml'})
					.option('lower', {type: 'string', describe: 'lower layer, bottom → top (repeat)'})
					.option('lowerdir', {type: 'string', describe: 'kernel-style TOP:…:BOTTOM list (\\: escapes, :: data-only)'})
					.option('upper', {type: 'string', describe: 'upper (writable) layer'})
					.option('work', {type: 'string', describe: 'work dir, on the same mount as the upper'})
					.option('option', {alias: 'o', type: 'string', describe: 'mount option k=v or flag (repeat)'})
					.option('in-namespace', {type: 'string', hidden: true})
					.example('$0 shell demo', '$SHELL in demo/merged; exit the shell to unmount')
					.example("$0 shell demo -- sh -c 'echo hi > f'", 'one command; ovl exits with its exit code'),
			async (argv) =>
				run(argv, async (c) => {
					const end = args.indexOf('--');
					return (await import('./commands/shell.js')).shellCommand(
						{
							dir: argv.dir,
							merged: undefined,
							stack: argv.stack,
							lowers: strings(argv.lower),
							lowerdir: argv.lowerdir,
							upper: argv.upper,
							work: argv.work,
							options: strings(argv.option),
							command: end < 0 ? [] : args.slice(end + 1),
							inNamespace: argv.inNamespace,
						},
						c,
						args,
					);
				}),
		)
		.command(
			'ls',
			'list every overlay mount on this host, decoded',
			(y) => y.example('$0 ls --json', 'for scripts'),
			async (argv) => run(argv, async (c) => (await import('./commands/ls.js')).lsCommand(c)),
		)
		.command(
			'doctor',
			'what this kernel and host support; with --path, a real test mount there',
			(y) =>
				y
					.option('path', {
						type: 'string',
						describe: 'directory whose filesystem would hold upper/work; a temp dir is made there and removed',
					})
					.example('$0 doctor --path /var/lib/overlays', ''),
			async (argv) =>
				run(argv, async (c) => (await import('./commands/doctor.js')).doctorCommand({path: argv.path}, c)),
		)
		.command(
			'inspect [merged]',
			'classify every upper entry of an overlay and explain it (full-screen on a terminal; --plain: text)',
			(y) =>
				layerOptions(y)
					.option('kind', {
						type: 'string',
						describe: `only these kinds, comma-separated (${'whiteout,xwhiteout,opaque-dir,redirect-dir,merge-dir,copy-up,metacopy,new,anomaly'})`,
					})
					.option('strict', {type: 'boolean', default: false, describe: 'exit 1 when a finding is an error'})
					.example('$0 inspect demo/merged', 'what the upper layer holds, and why')
					.example(
						'$0 inspect --upper demo/upper --lower demo/lower1 --lower demo/lower2 --json',
						'offline, for scripts',
					)
					.example(
						'$0 inspect /var/lib/docker/overlay2/<id>/merged --kind whiteout,copy-up',
						"a container's deletions and copies",
					)
					.example('$0 inspect demo/merged --plain | less', 'text, not the full-screen view')
					.epilogue(
						'On a terminal inspect opens a full-screen explorer (q quits, ? lists the keys): the merged tree, upper entries plus what the lowers serve (dimmed, with the serving lower); l switches to the upper only. --plain, --json or a pipe print text instead.',
					),
			async (argv) =>
				run(argv, async (c) =>
					(await import('./commands/inspect.js')).inspectCommand(
						{...layerArgs(argv), kinds: strings(argv.kind), strict: argv.strict},
						c,
					),
				),
		)
		.command(
			'diff [merged]',
			'Added / Changed / Deleted / Renamed paths, like docker diff, computed from the layers',
			(y) =>
				layerOptions(y)
					.option('all', {
						type: 'boolean',
						default: false,
						describe: 'list every path below added, deleted and renamed directories',
					})
					.option('content', {
						type: 'boolean',
						default: false,
						describe: 'read copied-up files to tell data changes from touch (hashes contents)',
					})
					.option('strict', {type: 'boolean', default: false, describe: 'exit 1 when a finding is an error'})
					.example('$0 diff demo/merged', 'what changed, compared with the lower layers'),
			async (argv) =>
				run(argv, async (c) =>
					(await import('./commands/inspect.js')).diffCommand(
						{...layerArgs(argv), all: argv.all, strict: argv.strict, content: argv.content},
						c,
					),
				),
		)
		.command(
			'export [merged]',
			"an overlay's upper as an OCI/Docker layer tarball (what docker commit makes of a container)",
			(y) =>
				layerOptions(y)
					.option('output', {
						alias: 'o',
						type: 'string',
						demandOption: true,
						describe: 'the archive to write (- for stdout; a .gz name compresses)',
					})
					.option('gzip', {type: 'boolean', default: false, describe: 'gzip the archive'})
					.example(
						'$0 export demo/merged -o changes.tar',
						'the upper as a layer: whiteouts as .wh., opaque dirs as .wh..wh..opq',
					)
					.example(
						'$0 export --upper u --lower l1 --lower l2 -o - | docker import - mine:1',
						'offline, straight into an engine',
					),
			async (argv) =>
				run(argv, async (c) =>
					(await import('./commands/export.js')).exportCommand(
						{...layerArgs(argv), output: String(argv.output), gzip: argv.gzip, stdout: process.stdout},
						c,
					),
				),
		)
		.command(
			'lab',
			'reproducible overlay experiments: ovl lab list | show NAME | run FILE|NAME',
			(y) =>
				y
					.command(
						'list',
						'the built-in experiments',
						(z) => z,
						async (argv) => run(argv as unknown as Global, async (c) => (await import('./commands/lab.js')).labList(c)),
					)
					.command(
						'show <name>',
						'print a built-in experiment as YAML, to copy and edit',
						(z) => z.positional('name', {type: 'string', demandOption: true}),
						async (argv) =>
							run(argv as unknown as Global, async (c) =>
								(await import('./commands/lab.js')).labShow(String(argv.name), c),
							),
					)
					.command(
						'run <target>',
						'run an experiment file or a built-in, and report what the kernel did',
						(z) =>
							z
								.positional('target', {
									type: 'string',
									demandOption: true,
									describe: 'a built-in name (ovl lab list) or a YAML file',
								})
								.option('keep', {
									type: 'boolean',
									default: false,
									describe: 'leave the layers (and the mount) in place and say where',
								})
								.option('markdown', {type: 'string', describe: 'also write a shareable Markdown report to FILE'})
								.option('in-userns', {type: 'boolean', default: false, hidden: true})
								.example('$0 lab run blog', 'the classic two-lower experiment')
								.example('$0 lab run copy-up-cost --markdown cost.md', 'time copy-ups and keep a report'),
						async (argv) =>
							run(argv as unknown as Global, async (c) =>
								(await import('./commands/lab.js')).labRun(
									{
										target: String(argv.target),
										keep: Boolean(argv.keep),
										markdown: argv.markdown as string | undefined,
										inUserns: Boolean(argv.inUserns),
									},
									c,
									args.filter((a) => a !== '--in-userns'),
								),
							),
					)
					.demandCommand(1, 'ovl lab list | show NAME | run FILE|NAME')
					.example('$0 lab run blog', 'run the built-in blog experiment'),
			() => undefined,
		)
		.command(
			'docker',
			"Docker's overlays: ovl docker driver | ls | inspect <container|image>",
			(y) =>
				y
					.option('data-root', {
						type: 'string',
						describe: 'Docker data-root (default: docker info, daemon.json, /var/lib/docker)',
					})
					.command(
						'driver',
						'the active storage driver and what every driver directory holds',
						(z) => z.example('$0 docker driver', ''),
						async (argv) =>
							run(argv as unknown as Global, async (c) =>
								(await import('./commands/docker.js')).dockerDriver(
									{dataRoot: argv['data-root'] as string | undefined},
									c,
								),
							),
					)
					.command(
						'ls',
						'containers and image layers on disk, with their overlay directories',
						(z) => z.example('$0 docker ls --json', ''),
						async (argv) =>
							run(argv as unknown as Global, async (c) =>
								(await import('./commands/docker.js')).dockerLs({dataRoot: argv['data-root'] as string | undefined}, c),
							),
					)
					.command(
						'inspect <ref>',
						'ovl inspect for a container (its layer over the image) or an image (its top layer over the rest)',
						(z) =>
							z
								.positional('ref', {
									type: 'string',
									demandOption: true,
									describe: 'container id, name, image id or tag',
								})
								.option('strict', {type: 'boolean', default: false})
								.example('$0 docker inspect web', 'what the container changed, layer by layer'),
						async (argv) =>
							run(argv as unknown as Global, async (c) =>
								(await import('./commands/docker.js')).dockerInspectCommand(
									{
										ref: String(argv.ref),
										dataRoot: argv['data-root'] as string | undefined,
										strict: Boolean(argv.strict),
									},
									c,
								),
							),
					)
					.demandCommand(1, 'ovl docker driver | ls | inspect REF'),
			() => undefined,
		)
		.middleware((argv) => refuseEmptyValues(argv as Record<string, unknown>, args))
		.completion('completion', 'print a bash/zsh completion script')
		.demandCommand(1, 'name a command; see ovl --help')
		.recommendCommands()
		.strict()
		.version(version)
		.help()
		.alias('h', 'help')
		.epilogue(epilogue)
		.wrap(Math.min(110, process.stdout.columns || 100))
		.fail((msg, err) => {
			throw err ?? new UsageError(msg, 'see ovl --help, or ovl <command> --help');
		}) as unknown as Argv<Global>;
	skipHelpCache(cli);
	try {
		await cli.parseAsync();
		return exit;
	} catch (caught) {
		// An errno nobody mapped (ENOSPC, EIO, EROFS…) is still a clear, coded message, not a trace.
		const error =
			caught instanceof OvlError
				? caught
				: isErrno(caught)
					? fsError(caught, caught.path ?? caught.syscall ?? '')
					: undefined;
		if (!error) throw caught;
		const c = ctx ?? processContext({json: args.includes('--json')});
		reportError(error, c);
		return error.exitCode;
	}
}

/**
 yargs renders the full help text before every command handler, only to print it should the
 handler fail; ours never do that (failures are OvlErrors, rendered by reportError). The render
 measures every word's width and costs ~30 ms of CPU per run, on every command. Internal API: if yargs
 changes it, this quietly does nothing.
 */
function skipHelpCache(cli: Argv<Global>): void {
	const internal = (
		cli as unknown as {getInternalMethods?: () => {getUsageInstance?: () => {cacheHelpMessage?: () => void}}}
	).getInternalMethods?.();
	const usage = internal?.getUsageInstance?.();
	if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

const valued = [
	'output',
	'lower',
	'upper',
	'work',
	'merged',
	'lowerdir',
	'stack',
	'seed',
	'layer-tar',
	'put',
	'option',
	'root',
	'data-root',
	'markdown',
	'path',
	'kind',
];

/**
 yargs reads `--work --force` as an empty --work plus --force, and `--work -o` likewise: a value
 that starts with "-" must be written --work=-o (or ./-o). An empty value is never meant.
 */
function refuseEmptyValues(argv: Record<string, unknown>, raw: readonly string[]): void {
	const end = raw.indexOf('--');
	const words = end < 0 ? raw : raw.slice(0, end);
	const short = raw[0] === 'export' ? 'output' : 'option';
	words.forEach((word, i) => {
		const key = word === '-o' ? short : word.startsWith('--') ? word.slice(2) : undefined;
		if (key === undefined || !valued.includes(key)) return;
		const next = words[i + 1];
		if (next !== undefined && !(next.startsWith('-') && next !== '-')) return;
		throw new UsageError(
			next === undefined ? `${word} needs a value` : `${word} needs a value; "${next}" looks like an option`,
			`a value that starts with "-" is written ${word === '-o' ? `--${short}` : word}=${next ?? '-name'} (or ./${next ?? '-name'} for a path)`,
			'OVL_USAGE',
		);
	});
	for (const key of valued) {
		const v = argv[key];
		if ((Array.isArray(v) ? v : [v]).some((x) => x === ''))
			throw new UsageError(`--${key} needs a value, not an empty string`, `give --${key} a name`, 'OVL_USAGE');
	}
}

function isErrno(e: unknown): e is NodeJS.ErrnoException {
	return (
		e instanceof Error &&
		typeof (e as NodeJS.ErrnoException).code === 'string' &&
		/^E[A-Z0-9]+$/.test((e as NodeJS.ErrnoException).code as string) &&
		typeof (e as NodeJS.ErrnoException).syscall === 'string'
	);
}

function reportError(error: OvlError, ctx: Context): void {
	if (ctx.mode === 'json')
		ctx.out(
			`${JSON.stringify({error: {code: error.code, message: error.message, hint: error.hint, exitCode: error.exitCode, findings: error.findings}}, null, 2)}\n`,
		);
	const s = ctx.style;
	const shown = error.findings.filter((f) => f.message !== error.message);
	if (shown.length > 0) ctx.err(formatFindings(shown, s));
	if (ctx.verbose && 'toolOutput' in error)
		ctx.err(s.dim(`mount(8) said: ${String((error as {toolOutput: string}).toolOutput)}\n`));
	ctx.err(`${s.red('✗')} ${s.bold(error.code)}: ${error.message}\n  ${s.dim('hint:')} ${error.hint}\n`);
}
