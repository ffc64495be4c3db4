"""Serialization and signing of task calls and results.

Calls and values travel as msgpack (msgspec) where they round-trip exactly and as dill
otherwise, inside an HMAC-SHA256 envelope that a reader verifies before it imports a name or
unpickles a byte::

    serializer = Serializer(Keyring.for_project("myproject"))
    name, payload = serializer.dump_call(add, (1, 2))
    call = serializer.load_call(payload)  # SignatureError if the payload was tampered with
    call.func(*call.args, **call.kwargs)
"""

from ._funcref import func_name
from ._keys import Keyring
from ._serializer import Call, Serializer

__all__ = ["Call", "Keyring", "Serializer", "func_name"]
