/**
 Imports a module that brings in Ink and React with React's production build. React picks its
 build from NODE_ENV when it is first loaded, and its development build diffs every prop of
 every render for its profiler (seconds per key on a 10⁶-row list). NODE_ENV is set only for the
 import and removed again, so the commands ovl runs (`ovl try -- npm install`) never inherit it.
 */
export async function loadReactModule<T>(load: () => Promise<T>): Promise<T> {
	const given = process.env['NODE_ENV'];
	if (given === undefined) process.env['NODE_ENV'] = 'production';
	try {
		return await load();
	} finally {
		if (given === undefined) delete process.env['NODE_ENV'];
	}
}
