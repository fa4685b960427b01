/** The stack file in a stack dir; its own module so finding it does not load the YAML parser. */
export const stackFileName = 'ovl.yaml';
