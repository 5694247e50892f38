"""`python -m doorward_hub` runs the command line."""

from doorward_hub.cli import main

raise SystemExit(main())
