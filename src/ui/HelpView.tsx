import {Box, Text} from 'ink';

/** The explorer's keys and badges. */
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
