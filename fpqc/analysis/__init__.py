"""Graph analyses of the IR that are not rewrites: dataflow, linear roles, VAR block recognition."""
