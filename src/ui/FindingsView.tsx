import {Box, Text} from 'ink';
import type {Finding} from '../core/types.js';
import {severityColor} from './theme.js';

export function FindingsView({
	findings,
	height,
	width,
}: {
	readonly findings: readonly Finding[];
	readonly height: number;
	readonly width: number;
}) {
	const lines = findings.flatMap((f) => [
		{
			key: `${f.code}${f.path ?? ''}${f.message}`,
			node: (
				<Text wrap="truncate-end">
					<Text color={severityColor[f.severity]}>{f.severity.padEnd(8)}</Text>
					<Text bold>{f.code}</Text> {f.message}
				</Text>
			),
		},
		{
			key: `${f.code}${f.path ?? ''}${f.message}h`,
			node: (
				<Text wrap="truncate-end" dimColor>
					{'         '}hint: {f.hint}
				</Text>
			),
		},
	]);
	return (
		<Box flexDirection="column" height={height} width={width}>
			<Text bold>findings ({findings.length}) — w or Esc: back</Text>
			{findings.length === 0 ? <Text color="green">no findings: the upper layer looks consistent</Text> : null}
			{lines.slice(0, height - 1).map((l) => (
				<Box key={l.key}>{l.node}</Box>
			))}
		</Box>
	);
}

export function HelpView({height}: {readonly height: number}) {
	const keys: [string, string][] = [
		['↑/↓ j/k', 'move'],
		['PgUp/PgDn g/G', 'page, top, bottom'],
		['Enter/Space →', 'expand or collapse a directory'],
		['←', 'collapse, or go to the parent'],
		['/', 'search paths (Enter keeps it, Esc clears)'],
		['f', 'filter by kind (cycles)'],
		['l', 'show lower-only entries (dimmed), e.g. what a whiteout hides'],
		['w', 'findings'],
		['?', 'this help'],
		['q / Esc', 'quit'],
		['Ctrl-C', 'quit (exit 130)'],
	];
	return (
		<Box flexDirection="column" height={height}>
			<Text bold>keys — ? or Esc: back</Text>
			{keys.map(([k, d]) => (
				<Text key={k}>
					<Text color="cyan">{k.padEnd(16)}</Text>
					{d}
				</Text>
			))}
			<Text dimColor>
				badges: WHT whiteout · XWH xattr whiteout · OPQ opaque dir · REN renamed dir · DIR merge dir · CPY copy-up ·
				META metacopy · NEW new · low/hid lower-only
			</Text>
		</Box>
	);
}
