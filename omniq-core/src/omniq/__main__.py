"""``python -m omniq``: the same as the ``omniq`` command."""

from .cli import main

raise SystemExit(main())
