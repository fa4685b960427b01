import {execFileSync} from 'node:child_process';

/** Node has no mkfifo: mkfifo(1), synchronously. */
export function mkfifoSync(p: string): void {
	execFileSync('mkfifo', [p]);
}
