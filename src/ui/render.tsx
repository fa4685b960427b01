// The only module that starts Ink. Loaded lazily, after the output mode is decided, so --json,
// pipes and --version never load React.
import {render, renderToString} from 'ink';
import type {ReactElement} from 'react';
import type {Check} from '../core/doctor.js';
import type {Report} from '../core/report.js';
import {buildTree, type TreeNode} from '../core/tree.js';
import type {Finding, MountPlan} from '../core/types.js';
import {Explorer} from './Explorer.js';
import type {LayerDetail} from './model.js';
import {DoctorView, FindingsList, PlanView} from './PlanView.js';

export function renderStatic(element: ReactElement): string {
	return `${renderToString(element, {columns: process.stdout.columns || 100})}\n`;
}

export const renderPlan = (plan: MountPlan): string => renderStatic(<PlanView plan={plan} />);
export const renderFindings = (findings: readonly Finding[]): string =>
	findings.length === 0 ? '' : renderStatic(<FindingsList findings={findings} />);
export const renderDoctor = (checks: readonly Check[], verdict: string, kernelLines: readonly string[]): string =>
	renderStatic(<DoctorView checks={checks} verdict={verdict} kernelLines={kernelLines} />);

const enterAlt = '\u001B[?1049h\u001B[H';
const leaveAlt = '\u001B[?1049l';

/**
 Runs the explorer full-screen in the terminal's alternate screen (like less), so nothing is
 left in the scrollback and the shell is restored on exit, Ctrl-C (exit 130) and crashes.
 */
export async function runExplorer(
	report: Report,
	loadLower: () => Parameters<typeof buildTree>[1],
	details: (node: TreeNode) => readonly LayerDetail[],
): Promise<void> {
	const tree = buildTree(report.entries);
	const restore = (): void => {
		process.stdout.write(leaveAlt);
	};
	process.stdout.write(enterAlt);
	process.once('exit', restore);
	const app = render(
		<Explorer
			report={report}
			tree={tree}
			loadLowerTree={() => buildTree(report.entries, loadLower())}
			details={details}
		/>,
		{exitOnCtrlC: false, patchConsole: false},
	);
	try {
		await app.waitUntilExit();
	} finally {
		app.cleanup();
		restore();
		process.off('exit', restore);
	}
}
