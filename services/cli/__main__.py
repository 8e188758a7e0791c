"""`python -m services.cli` runs the same command line as the `orders` script."""

from services.cli import main

raise SystemExit(main())
