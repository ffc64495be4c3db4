"""``python -m omniq_gevent ...``: the ``omniq`` command, monkey-patched before anything else.

Patching comes before ``omniq`` (and with it ``ssl`` and the drivers) is imported, so no
library keeps an unpatched original.
"""

from omniq_gevent import patch

patch()

from omniq.cli import main  # noqa: E402

raise SystemExit(main())
