import path from 'node:path';

/**
 Where a commit of `upper` keeps its journal: beside the upper, never inside it. Its own module:
 `ovl ls` and `ovl inspect` look for it on every run and need none of the journal's machinery.
 */
export const journalPath = (upper: string): string =>
	path.join(path.dirname(upper), `.ovl-commit-${path.basename(upper)}.json`);
