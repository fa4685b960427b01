import type {Argv} from 'yargs';
import {type Commands, type Global, examples} from './shared.js';

/** doctor, lab, docker: the host, experiments, container engines. */
export const hostCommands: Commands = (y: Argv<Global>, run, args) =>
	y
		.command(
			'doctor',
			'what this kernel and host support; with --path, a real test mount there',
			(y) =>
				y
					.option('path', {
						type: 'string',
						describe: 'directory whose filesystem would hold upper/work; a temp dir is made there and removed',
					})
					.epilogue(examples([['$0 doctor --path /var/lib/overlays', '']])),
			async (argv) =>
				run(argv, async (c) => (await import('../commands/doctor.js')).doctorCommand({path: argv.path}, c)),
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
						async (argv) =>
							run(argv as unknown as Global, async (c) => (await import('../commands/lab.js')).labList(c)),
					)
					.command(
						'show <name>',
						'print a built-in experiment as YAML, to copy and edit',
						(z) => z.positional('name', {type: 'string', demandOption: true}),
						async (argv) =>
							run(argv as unknown as Global, async (c) =>
								(await import('../commands/lab.js')).labShow(String(argv.name), c),
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
								.epilogue(
									examples([
										['$0 lab run blog', 'the classic two-lower experiment'],
										['$0 lab run copy-up-cost --markdown cost.md', 'time copy-ups and keep a report'],
									]),
								),
						async (argv) =>
							run(argv as unknown as Global, async (c) =>
								(await import('../commands/lab.js')).labRun(
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
					.epilogue(examples([['$0 lab run blog', 'run the built-in blog experiment']])),
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
						(z) => z.epilogue(examples([['$0 docker driver', '']])),
						async (argv) =>
							run(argv as unknown as Global, async (c) =>
								(await import('../commands/docker.js')).dockerDriver(
									{dataRoot: argv['data-root'] as string | undefined},
									c,
								),
							),
					)
					.command(
						'ls',
						'containers and image layers on disk, with their overlay directories',
						(z) => z.epilogue(examples([['$0 docker ls --json', '']])),
						async (argv) =>
							run(argv as unknown as Global, async (c) =>
								(await import('../commands/docker.js')).dockerLs(
									{dataRoot: argv['data-root'] as string | undefined},
									c,
								),
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
								.epilogue(examples([['$0 docker inspect web', 'what the container changed, layer by layer']])),
						async (argv) =>
							run(argv as unknown as Global, async (c) =>
								(await import('../commands/docker.js')).dockerInspectCommand(
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
		);
