// Ink for the one live, full-screen view (the explorer); lab-live.tsx has the lab's progress.
// One-shot output is text (ui/*-text.ts with ui/style.ts). Loaded lazily, once the output mode
// is decided, so --json, pipes and --version never load React.
import {render} from 'ink';
import type {Report} from '../core/report.js';
import {buildTree, type TreeNode} from '../core/tree.js';
import {Explorer} from './Explorer.js';
import type {LayerDetail} from './model.js';

const enterAlt = '\u001B[?1049h\u001B[H';
const leaveAlt = '\u001B[?1049l';

/**
 Runs the explorer full-screen in the terminal's alternate screen (like less), so nothing is
 left in the scrollback and the shell is restored on exit, Ctrl-C (exit 130) and crashes.
 The upper entries are on screen at once; the lowers are read right after, for the merged view.
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
