"""`python -m doorward_simulator` runs the simulator's command line."""

from .cli import main

raise SystemExit(main())
