import {Box, render, Static, Text} from 'ink';
import type {Experiment} from '../lab/experiment.js';
import type {StepResult} from '../flows/lab-run.js';

function LabProgress({exp, done}: {readonly exp: Experiment; readonly done: readonly StepResult[]}) {
	const next = exp.steps[done.length];
	return (
		<Box flexDirection="column">
			<Static items={done.map((r, i) => ({r, i}))}>
				{({r, i}) => (
					<Text key={r.id}>
						<Text color={r.ok ? 'green' : 'red'}>{r.ok ? '✓' : '✗'}</Text> {String(i + 1).padStart(2)} {r.label}{' '}
						<Text dimColor>{r.durationMs.toFixed(2)} ms</Text>
					</Text>
				)}
			</Static>
			{next ? <Text dimColor>… {next.label}</Text> : null}
		</Box>
	);
}

/** Live step list on stderr while an experiment runs (a terminal only). */
export function startLabProgress(exp: Experiment): {step: (r: StepResult, i: number) => void; stop: () => void} {
	const done: StepResult[] = [];
	const app = render(<LabProgress exp={exp} done={done} />, {
		stdout: process.stderr,
		patchConsole: false,
		exitOnCtrlC: false,
	});
	return {
		step: (r) => {
			done.push(r);
			app.rerender(<LabProgress exp={exp} done={[...done]} />);
		},
		stop: () => {
			app.rerender(<LabProgress exp={exp} done={[...done]} />);
			app.unmount();
		},
	};
}
