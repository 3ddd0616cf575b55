"""Run the ``imref`` command line as ``python -m imref``."""

from imref.cli import main

raise SystemExit(main())
