"""`python -m doorward_hub` runs the command line."""

from .cli import main

raise SystemExit(main())
