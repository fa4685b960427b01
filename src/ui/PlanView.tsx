import {Box, Text} from 'ink';
import {printablePath as pp} from '../core/bytes.js';
import type {Check} from '../core/doctor.js';
import type {Finding, MountPlan} from '../core/types.js';
import {displayArg} from './style.js';
import {severityColor} from './theme.js';

export function FindingsList({findings}: {readonly findings: readonly Finding[]}) {
	return (
		<Box flexDirection="column">
			{findings.map((f, i) => (
				<Box key={i} flexDirection="column">
					<Text>
						<Text color={severityColor[f.severity]}>
							{f.severity === 'error' ? '✗' : f.severity === 'warning' ? '!' : '-'} {f.severity}
						</Text>{' '}
						<Text bold>{f.code}</Text>: {f.message}
					</Text>
					<Text dimColor>
						{'  hint: '}
						{f.hint}
					</Text>
				</Box>
			))}
		</Box>
	);
}

/** A mount plan: layers top→bottom, the exact option string and its share of the page. */
export function PlanView({plan}: {readonly plan: MountPlan}) {
	const st = plan.stack;
	const n = st.lowers.length;
	const pct = Math.round((plan.optionBytes / plan.budget) * 100);
	const barWidth = 30;
	const filled = Math.min(barWidth, Math.round((plan.optionBytes / plan.budget) * barWidth));
	return (
		<Box flexDirection="column">
			<Text bold>overlay on {pp(st.merged)}</Text>
			<Text dimColor>{'  layers, top → bottom (as the kernel stacks them):'}</Text>
			{st.upper !== undefined ? (
				<Text>
					{'    '}
					<Text color="green">{'upper    '}</Text> {pp(st.upper)}
				</Text>
			) : (
				<Text>
					{'    '}
					<Text color="yellow">read-only</Text> (no upper layer)
				</Text>
			)}
			{[...st.lowers]
				.reverse()
				.slice(0, 12)
				.map((l, i) => (
					<Text key={l.path}>
						{'    '}
						<Text color="cyan">{`lower ${n - i}`.padEnd(9)}</Text> {pp(l.path)}
						{l.dataOnly ? <Text dimColor> (data-only)</Text> : null}
					</Text>
				))}
			{n > 12 ? (
				<Text dimColor>
					{'    … '}
					{n - 12} more lower layers
				</Text>
			) : null}
			{st.work !== undefined ? (
				<Text>
					{'  work       '}
					{pp(st.work)}
				</Text>
			) : null}
			<Text>
				{'  '}
				{'strategy   '}
				<Text bold>{plan.strategy}</Text>
				{plan.cwd !== undefined ? <Text dimColor> (mount runs in {plan.cwd})</Text> : null}
			</Text>
			{plan.notes.map((note) => (
				<Text key={note} dimColor>
					{'             '}not {note}
				</Text>
			))}
			<Text>
				{'  '}
				{'options    '}
				<Text color={pct > 90 ? 'red' : pct > 70 ? 'yellow' : 'green'}>{'█'.repeat(filled)}</Text>
				<Text dimColor>{'░'.repeat(barWidth - filled)}</Text> {plan.optionBytes}/{plan.budget} bytes ({pct}% of the page
				mount(2) accepts)
			</Text>
			<Text>
				{'    '}
				{plan.options}
			</Text>
			{plan.fdPaths.map((p, i) => (
				<Text key={p} dimColor>
					{'    fd '}
					{i + 3} = {p}
				</Text>
			))}
			<Text>
				{'  command    '}
				{plan.argv.map(displayArg).join(' ')}
			</Text>
		</Box>
	);
}

/** doctor's checks and verdict. */
export function DoctorView({
	checks,
	verdict,
	kernelLines,
}: {
	readonly checks: readonly Check[];
	readonly verdict: string;
	readonly kernelLines: readonly string[];
}) {
	const mark = {ok: ['✓', 'green'], warn: ['!', 'yellow'], fail: ['✗', 'red'], info: ['·', 'gray']} as const;
	return (
		<Box flexDirection="column">
			{checks.map((c) => (
				<Box key={c.name} flexDirection="column">
					<Text>
						<Text color={mark[c.status][1]}>{mark[c.status][0]}</Text> {c.name.padEnd(20)} {c.detail}
					</Text>
					{c.hint ? (
						<Text dimColor>
							{'  hint: '}
							{c.hint}
						</Text>
					) : null}
				</Box>
			))}
			{kernelLines.map((l) => (
				<Text key={l} dimColor>
					{'  kernel: '}
					{l}
				</Text>
			))}
			<Text>
				<Text bold>verdict: </Text>
				<Text color={verdict === 'ok' ? 'green' : verdict === 'degraded' ? 'yellow' : 'red'}>{verdict}</Text>
			</Text>
		</Box>
	);
}
