import {encodePath, hasRawBytes, printablePath} from '../core/bytes.js';
import {native} from './native.js';

export type ToolResult = {readonly ok: boolean; readonly exitCode: number; readonly output: string};

/**
 Unmounts an overlay. With the native helper, umount2(2) itself: exact bytes, no child process
 (umount(8) adds ~100 ms of spawn and execa for what is one syscall on a path ovl has already
 checked is an overlay). Without it, umount(8), which takes a string: a name that is not UTF-8
 cannot be unmounted that way.
 */
export async function runUmount(target: string, lazy: boolean): Promise<ToolResult> {
	const n = native();
	if (n) {
		try {
			n.umount2(encodePath(target), lazy ? 2 /* MNT_DETACH */ : 0);
			return {ok: true, exitCode: 0, output: ''};
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			const why = code === 'EBUSY' ? 'target is busy.' : code === 'EINVAL' ? 'not mounted.' : (error as Error).message;
			return {ok: false, exitCode: 32, output: `umount: ${printablePath(target)}: ${why}`};
		}
	}
	if (hasRawBytes(target))
		return {
			ok: false,
			exitCode: 32,
			output: `umount: ${printablePath(target)} is not UTF-8 and the native helper is not built (npm install with a C compiler)`,
		};
	const {execa} = await import('execa');
	const result = await execa('umount', [...(lazy ? ['-l'] : []), target], {
		reject: false,
		all: true,
		stdin: 'ignore',
		env: {LC_ALL: 'C'},
	});
	return {ok: result.exitCode === 0, exitCode: result.exitCode ?? -1, output: String(result.all ?? '')};
}
