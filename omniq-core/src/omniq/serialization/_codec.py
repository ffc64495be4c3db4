"""msgspec where a value round-trips exactly, dill otherwise, tagged inside one msgpack body.

A body is one msgpack document. A value that untyped msgpack gives back unchanged (``None``,
``bool``, ``int`` within 64 bits, ``float``, ``str``, ``bytes``, and lists and str-keyed dicts of
those) is written as itself; anything else becomes a msgpack extension of type
:data:`DILL_EXT` holding its dill pickle. Tuples, sets, ``Decimal``, ``datetime``, dataclasses,
``bytearray``, subclasses such as ``IntEnum`` and big ints all go to dill, because msgpack would
hand back a list, a string or a different type: the worker must see what the caller passed.

The tag lives in the extension type, so a reader needs no side table, and a body without
extensions never touches dill at all. Bodies are only decoded after their signature is verified
(see :mod:`omniq.serialization._keys`); that is what makes unpickling here safe.
"""

from __future__ import annotations

from typing import Any

import dill
import msgspec

from omniq.exceptions import SerializationError

#: msgpack extension type of a dill pickle.
DILL_EXT = 1

_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 64) - 1
# Deeper than this goes to dill: msgspec and the check below both recurse.
_MAX_DEPTH = 64

_Ext = msgspec.msgpack.Ext
_SCALARS = frozenset({type(None), bool, float, str, bytes})

encode = msgspec.msgpack.Encoder().encode


def is_plain(value: Any, depth: int = 0) -> bool:
    """Whether untyped msgpack gives ``value`` back exactly (same types, same contents)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is int:
        return _INT_MIN <= value <= _INT_MAX
    if depth >= _MAX_DEPTH:
        return False
    if kind is list:  # explicit loops: measurably faster than all() over a generator
        for item in value:  # noqa: SIM110
            if not is_plain(item, depth + 1):
                return False
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not is_plain(item, depth + 1):
                return False
        return True
    return False


def pack(value: Any, what: str) -> Any:
    """``value`` itself if it is plain, else a dill extension. ``what`` names it in errors."""
    if is_plain(value):
        return value
    return _Ext(DILL_EXT, dill_dump(value, what))


def pack_strict(value: Any, what: str) -> Any:
    """Like :func:`pack`, but also sends to dill a plain value msgpack refuses to encode.

    The only such values are strings holding lone surrogates, which UTF-8 cannot carry; the
    fast path finds them when the whole body fails to encode and retries through here.
    """
    if is_plain(value):
        try:
            encode(value)
        except (UnicodeEncodeError, OverflowError, TypeError, ValueError):
            pass
        else:
            return value
    return _Ext(DILL_EXT, dill_dump(value, what))


def dill_dump(value: Any, what: str) -> bytes:
    """dill-pickle ``value``, or explain which argument cannot be sent and what to do instead."""
    try:
        # recurse=True: a function sent by value takes the globals it uses along with it,
        # not a reference to a __main__ module the worker does not have.
        return dill.dumps(value, recurse=True)  # type: ignore[no-any-return]
    except Exception as exc:
        raise SerializationError(
            f"{what} of type {type_name(value)} cannot be serialized: dill refused it "
            f"({type(exc).__name__}: {exc}). Pass something picklable instead, or pass an "
            "identifier (a path, a URL, a database id) and open the resource inside the task."
        ) from exc


def type_name(value: Any) -> str:
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _ext_hook(code: int, data: memoryview) -> Any:
    if code != DILL_EXT:
        raise SerializationError(f"unknown msgpack extension type {code} in a payload")
    try:
        return dill.loads(data)
    except Exception as exc:
        raise SerializationError(
            f"cannot unpickle a value on this worker ({type(exc).__name__}: {exc}): "
            "is the code that defines its type installed here, in the same version?"
        ) from exc


_decoder = msgspec.msgpack.Decoder(ext_hook=_ext_hook)


def decode(body: bytes) -> Any:
    """Decode a verified body, unpickling its dill extensions."""
    try:
        return _decoder.decode(body)
    except SerializationError:
        raise
    except Exception as exc:
        raise SerializationError(f"malformed payload body ({type(exc).__name__}: {exc})") from exc
