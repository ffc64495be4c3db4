"""moto's S3 server for the tests and the bench, with conditional writes made atomic.

    python tools/moto_s3_server.py -H 127.0.0.1 -p PORT

moto checks a PutObject's ``If-None-Match`` / ``If-Match`` and then writes, in one of its
request threads, with nothing between the two: two conditional writes to one key at the same
moment can both succeed (seen as a task claimed twice by separate processes, and as leases
lost). S3 decides a conditional write atomically, so here each PutObject, check and write,
runs under one lock; every other request is moto's own. Arguments are moto.server's.
"""

from __future__ import annotations

import sys
import threading
from typing import Any


def main() -> None:
    from moto.s3.responses import S3Response
    from moto.server import main as moto_main

    put_object = S3Response.put_object
    lock = threading.Lock()

    def atomic_put_object(self: S3Response) -> Any:
        with lock:
            return put_object(self)

    S3Response.put_object = atomic_put_object  # type: ignore[method-assign]
    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
