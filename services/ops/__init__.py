"""The operator's tools, run by the `orders` command line: the invariant check (`check/`),
the demo (`demo/`) and the chaos run (`chaos/`). Like the command line they compose a whole
system from settings, so they may reach infrastructure."""
