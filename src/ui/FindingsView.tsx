import {Box, Text} from 'ink';
import type {Finding} from '../core/types.js';
import {severityColor, severityGlyph} from './theme.js';

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
					<Text color={severityColor[f.severity]}>{`${severityGlyph[f.severity]} ${f.severity}`.padEnd(10)}</Text>
					<Text bold>{f.code}</Text> {f.message}
				</Text>
			),
		},
		{
			key: `${f.code}${f.path ?? ''}${f.message}h`,
			node: (
				<Text wrap="truncate-end" dimColor>
					{'           '}hint: {f.hint}
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
