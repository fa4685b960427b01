import {Box, Text} from 'ink';
import type {Report} from '../core/report.js';
import {formatBytes} from './inspect-text.js';
import {kindStyle} from './theme.js';

const mattering = ['redirect_dir', 'metacopy', 'index', 'userxattr', 'xino', 'volatile', 'fsync', 'nfs_export'];

/** Mount point, layers top→bottom, options that matter, counts per kind, cost, findings. */
export function Header({report, width}: {readonly report: Report; readonly width: number}) {
	const m = report.mount;
	const s = report.summary;
	const options = m.options.filter((o) => mattering.some((k) => o.startsWith(k)));
	const counts = Object.entries(s.counts).filter(([, n]) => n > 0);
	const errors = report.findings.filter((f) => f.severity === 'error').length;
	const maxLayers = 4;
	return (
		<Box flexDirection="column" width={width}>
			<Text wrap="truncate-end">
				<Text bold>{m.mountPoint ?? 'offline layers'}</Text>
				<Text dimColor>
					{'  xattrs '}
					{m.xattrNamespace}
					{'.overlay.*  '}
					{options.length > 0 ? options.join(',') : 'default options'}
				</Text>
			</Text>
			{m.layers.slice(0, maxLayers).map((l) => (
				<Text key={`${l.role}${l.layer}`} wrap="truncate-end">
					<Text color={l.role === 'upper' ? 'green' : 'cyan'}>
						{l.role === 'upper'
							? ' upper   '
							: l.role === 'data-only'
								? ` data ${String(l.layer).padEnd(3)}`
								: ` lower ${String(l.layer).padEnd(2)}`}
					</Text>{' '}
					{l.path}
					{l.label ? (
						<Text dimColor>
							{'  '}
							{l.label}
						</Text>
					) : null}
				</Text>
			))}
			{m.layers.length > maxLayers ? (
				<Text dimColor>
					{' '}
					… {m.layers.length - maxLayers} more layers (bottom: {m.layers.at(-1)?.path})
				</Text>
			) : null}
			<Text wrap="truncate-end">
				{counts.length === 0 ? <Text dimColor>upper is empty</Text> : null}
				{counts.map(([k, n]) => (
					<Text key={k} color={kindStyle[k as keyof typeof kindStyle].color}>
						{k} {n}
						{'  '}
					</Text>
				))}
			</Text>
			<Text wrap="truncate-end">
				upper {formatBytes(s.upperBytes)} · copy-ups duplicate {formatBytes(s.duplicatedBytes)}
				{s.metacopySavedBytes > 0 ? ` · metacopy saved ${formatBytes(s.metacopySavedBytes)}` : ''} ·{' '}
				<Text color={errors > 0 ? 'red' : report.findings.length > 0 ? 'yellow' : 'green'}>
					{report.findings.length} finding{report.findings.length === 1 ? '' : 's'}
				</Text>
			</Text>
		</Box>
	);
}
