import {decodePath} from '../core/bytes.js';
import {ownCmdline} from './proc.js';

/**
 The command-line arguments as the exact bytes they were. Node decodes argv as UTF-8 and turns
 invalid bytes into U+FFFD, so `ovl mount --upper $'u\xff'` would name another directory;
 /proc/self/cmdline still holds the bytes. Falls back to process.argv when they disagree in count.
 */
export function rawArgs(nodeArgs: readonly string[]): string[] {
	const cmdline = ownCmdline();
	if (cmdline === undefined) return [...nodeArgs];
	// All UTF-8 (the usual case): Node's strings encode back to the very bytes, so one comparison
	// of the whole tail says they are ours (an invalid byte became U+FFFD and cannot match).
	const tailBytes = Buffer.from(`${nodeArgs.join('\0')}\0`);
	const from = cmdline.length - tailBytes.length;
	if (from >= 0 && (from === 0 || cmdline[from - 1] === 0) && cmdline.subarray(from).equals(tailBytes))
		return [...nodeArgs];
	const parts: Buffer[] = [];
	let start = 0;
	for (let i = 0; i < cmdline.length; i++) {
		if (cmdline[i] === 0) {
			parts.push(cmdline.subarray(start, i));
			start = i + 1;
		}
	}
	if (start < cmdline.length) parts.push(cmdline.subarray(start));
	if (parts.length < nodeArgs.length) return [...nodeArgs];
	const tail = parts.slice(parts.length - nodeArgs.length);
	// The same arguments? Node decoded them like Buffer#toString (one U+FFFD per ill-formed subpart).
	if (!tail.every((b, i) => b.toString('utf8') === nodeArgs[i])) return [...nodeArgs];
	return tail.map(decodePath);
}
