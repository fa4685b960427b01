import type {Argv} from 'yargs';
import {examples, stackArgs, stackOptions, strings, type Commands, type Global} from './shared.js';

/** prepare, mount, umount, shell, ls: lay out, mount and unmount stacks. */
export const stackCommands: Commands = (y: Argv<Global>, run, args) =>
	y
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
					.epilogue(
						examples([
							[
								'$0 prepare img --layer-tar base.tar.gz --layer-tar app.tar',
								'image layers as lowers, whiteouts converted',
							],
							[
								"$0 prepare demo --put lower1/a='docker\\noverlay\\n' --put lower1/b=x --put lower2/b='filesystem\\n'",
								'the classic two-lower experiment',
							],
							['$0 prepare img --lower base --lower app --lower config', 'three lowers, bottom → top'],
						]),
					),
			async (argv) =>
				run(argv, async (c) =>
					(await import('../commands/prepare.js')).prepareCommand(
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
				stackOptions(y)
					.positional('dir', {
						type: 'string',
						describe: 'directory holding ovl.yaml (or the mount point when layers come from flags)',
					})
					.positional('merged', {type: 'string', describe: 'mount point (overrides the stack file)'})
					.option('dry-run', {type: 'boolean', default: false, describe: 'print the plan and findings; mount nothing'})
					.option('force', {
						type: 'boolean',
						default: false,
						describe:
							'turn validation errors into warnings and let the kernel decide (not the ones that protect data, privileges or the option string)',
					})
					.epilogue(
						examples([
							['$0 mount demo', 'mount the stack in demo/ovl.yaml on demo/merged'],
							['$0 mount --lower base --lower app --upper up --work wk /mnt/x', 'layers from flags, bottom → top'],
							['$0 mount --lowerdir app:base /mnt/ro --dry-run', 'kernel order (top first), read-only'],
						]),
					),
			async (argv) =>
				run(argv, async (c) =>
					(await import('../commands/mount.js')).mountCommand(
						{...stackArgs(argv), merged: argv.merged, dryRun: argv.dryRun, force: argv.force},
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
					.epilogue(examples([['$0 umount demo/merged', '']])),
			async (argv) =>
				run(argv, async (c) =>
					(await import('../commands/umount.js')).umountCommand({merged: String(argv.merged), lazy: argv.lazy}, c),
				),
		)
		.command(
			'shell [dir]',
			'mount a stack for one shell (or -- CMD): private to it, unmounted when it exits; works without root',
			(y) =>
				stackOptions(y)
					.positional('dir', {
						type: 'string',
						describe: 'directory holding ovl.yaml, default . (or the mount point when layers come from flags)',
					})
					.option('in-namespace', {type: 'string', hidden: true})
					.epilogue(
						examples([
							['$0 shell demo', '$SHELL in demo/merged; exit the shell to unmount'],
							["$0 shell demo -- sh -c 'echo hi > f'", 'one command; ovl exits with its exit code'],
						]),
					),
			async (argv) =>
				run(argv, async (c) => {
					const end = args.indexOf('--');
					return (await import('../commands/shell.js')).shellCommand(
						{
							...stackArgs(argv),
							merged: undefined,
							command: end < 0 ? [] : args.slice(end + 1),
							inNamespace: argv.inNamespace,
						},
						c,
						args,
					);
				}),
		)
		.command(
			'try',
			'run a command over throw-away overlays of directories, show what it changed, then commit it or not',
			(y) =>
				y
					.option('dir', {
						type: 'string',
						array: true,
						describe: 'a directory the command may change (repeat; default .)',
					})
					.option('yes', {type: 'boolean', default: false, describe: 'commit what it changed without asking'})
					.option('no', {type: 'boolean', default: false, describe: 'discard what it changed without asking'})
					.option('keep', {type: 'string', describe: 'keep the session in DIR (new) to decide later: ovl commit DIR'})
					.option('in-namespace', {type: 'string', hidden: true})
					.epilogue(
						examples(
							[
								['$0 try -- make install', 'see what make install would change in ., then say y or n'],
								['$0 try --dir /etc --dir /usr/local --yes -- ./setup.sh', 'two trees, committed when it is done'],
								['$0 try --dir /srv --keep /tmp/s1 -- ./migrate', 'decide later: ovl commit /tmp/s1'],
							],
							'The directories are overlaid in a private mount namespace (as a user: a user namespace with userxattr), ' +
								"so only the command sees them; nothing stays mounted when ovl exits. ovl exits with the command's exit " +
								'code. Piped or with --json, nothing is committed unless --yes.',
						),
					),
			async (argv) =>
				run(argv, async (c) => {
					const end = args.indexOf('--');
					return (await import('../commands/try.js')).tryCommand(
						{
							dirs: strings(argv.dir),
							command: end < 0 ? [] : args.slice(end + 1),
							keep: argv.keep,
							yes: argv.yes,
							no: argv.no,
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
			(y) => y.epilogue(examples([['$0 ls --json', 'for scripts']])),
			async (argv) => run(argv, async (c) => (await import('../commands/ls.js')).lsCommand(c)),
		);
