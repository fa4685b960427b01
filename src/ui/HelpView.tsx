import {Box, Text} from 'ink';

/** The explorer's keys and badges: one screen row each, so it fits 80×24. */
export function HelpView({height, width}: {readonly height: number; readonly width: number}) {
	const keys: [string, string][] = [
		['↑/↓ j/k', 'move'],
		['PgUp/PgDn g/G', 'page, top, bottom'],
		['Enter/Space →', 'expand or collapse a directory'],
		['←', 'collapse, or go to the parent'],
		['J/K', 'scroll the details pane (↓ more: lines below)'],
		['/', 'search paths (Enter keeps it, Esc clears)'],
		['f', 'filter by kind (cycles)'],
		['l', 'view: merged → upper only → all layers (+ hidden lower entries)'],
		['', 'merged: upper + what the lowers serve (dimmed, Ln: lower n)'],
		['w', 'findings'],
		['q Esc Ctrl-C', 'quit (Ctrl-C: exit 130)'],
	];
	return (
		<Box flexDirection="column" height={height} width={width} overflow="hidden">
			<Text bold>keys — ? or Esc: back</Text>
			{keys.map(([k, d]) => (
				<Box key={k + d} flexShrink={0}>
					<Text wrap="truncate-end">
						<Text color="cyan">{k.padEnd(15)}</Text> {d}
					</Text>
				</Box>
			))}
			<Box flexShrink={0}>
				<Text dimColor>
					WHT whiteout · XWH xattr whiteout · OPQ opaque · REN renamed · DIR merge dir · CPY copy-up · META metacopy ·
					NEW new · low from a lower · hid hidden
				</Text>
			</Box>
		</Box>
	);
}
