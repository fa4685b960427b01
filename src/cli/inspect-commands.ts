import type {Argv} from 'yargs';
import {layerArgs, layerOptions, strings, type Commands, type Global, examples} from './shared.js';

/** inspect, diff, export: what an upper holds. */
export const inspectCommands: Commands = (y: Argv<Global>, run) =>
	y
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
					.epilogue(
						examples(
							[
								['$0 inspect demo/merged', 'what the upper layer holds, and why'],
								[
									'$0 inspect --upper demo/upper --lower demo/lower1 --lower demo/lower2 --json',
									'offline, for scripts',
								],
								[
									'$0 inspect /var/lib/docker/overlay2/<id>/merged --kind whiteout,copy-up',
									"a container's deletions and copies",
								],
								['$0 inspect demo/merged --plain | less', 'text, not the full-screen view'],
							],
							'On a terminal inspect opens a full-screen explorer (q quits, ? lists the keys): the merged tree, ' +
								'upper entries plus what the lowers serve (dimmed, with the serving lower); l switches to the upper ' +
								'only. --plain, --json or a pipe print text instead.',
						),
					),
			async (argv) =>
				run(argv, async (c) =>
					(await import('../commands/inspect.js')).inspectCommand(
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
					.epilogue(examples([['$0 diff demo/merged', 'what changed, compared with the lower layers']])),
			async (argv) =>
				run(argv, async (c) =>
					(await import('../commands/inspect.js')).diffCommand(
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
					.epilogue(
						examples([
							[
								'$0 export demo/merged -o changes.tar',
								'the upper as a layer: whiteouts as .wh., opaque dirs as .wh..wh..opq',
							],
							[
								'$0 export --upper u --lower l1 --lower l2 -o - | docker import - mine:1',
								'offline, straight into an engine',
							],
						]),
					),
			async (argv) =>
				run(argv, async (c) =>
					(await import('../commands/export.js')).exportCommand(
						{...layerArgs(argv), output: String(argv.output), gzip: argv.gzip, stdout: process.stdout},
						c,
					),
				),
		)
		.command(
			'commit [merged]',
			'apply the upper to its lower (or --into DIR) exactly, verified against the merged view, then empty it',
			(y) =>
				layerOptions(y)
					.positional('merged', {type: 'string', describe: 'mount point (unmounted first) or stack dir'})
					.option('into', {
						type: 'string',
						describe: 'apply to DIR (which holds what the lowers show) instead of the lower',
					})
					.option('paths', {type: 'string', array: true, describe: 'commit only these overlay paths (and below)'})
					.option('dry-run', {
						type: 'boolean',
						default: false,
						describe: 'print the plan, one line per action; change nothing',
					})
					.option('keep-upper', {type: 'boolean', default: false, describe: 'leave the upper as it is afterwards'})
					.option('resume', {
						type: 'boolean',
						default: false,
						describe: 'finish a commit that stopped (its journal is beside the upper)',
					})
					.option('abort', {
						type: 'boolean',
						default: false,
						describe: 'roll back a commit that stopped, to the target as it was before it',
					})
					.epilogue(
						examples([
							['$0 commit demo --dry-run', 'what committing the stack in demo/ would do'],
							['$0 commit demo/merged', 'unmount, apply the upper to the lower, verify, empty the upper'],
							[
								'$0 commit --upper u --lower l --work w --into /srv/site',
								'apply to the tree the lower was copied from',
							],
							['$0 commit demo --resume', 'finish a commit a crash or a full disk stopped'],
							['$0 commit demo --abort', 'or roll it back: the lower as it was, the upper kept'],
						]),
					),
			async (argv) =>
				run(argv, async (c) =>
					(await import('../commands/commit.js')).commitCommand(
						{
							...layerArgs(argv),
							into: argv.into,
							paths: strings(argv.paths),
							dryRun: argv['dry-run'],
							keepUpper: argv['keep-upper'],
							resume: argv.resume,
							abort: argv.abort,
						},
						c,
					),
				),
		);
