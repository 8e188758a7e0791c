"""The operator's and the extender's tools, run by the `orders` command line: the invariant
check (`check/`), the demo (`demo/`), the chaos run (`chaos/`) and the generator of new
contexts (`scaffold/`). Like the command line they compose a whole system from settings, or
write into the repository, so they may reach infrastructure."""
