"""Task calls and results as signed payloads.

A call body is the msgpack array ``["c", func, args, kwargs, callback, callback_args]`` and a
value body is ``["v", value]``; the tag keeps a signed result from ever being read as a call.
``func`` and ``callback`` are a ``"module:qualname"`` string or a dill extension; arguments are
plain msgpack or dill extensions, one per argument (see :mod:`._codec`). Every body is wrapped in
a signed envelope (:mod:`._keys`), and readers verify it before they import or unpickle.

The common case (a module-level function with JSON-like arguments) costs one dict lookup for the
reference, one msgspec encode and one HMAC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from omniq.exceptions import SerializationError, SignatureError

from ._codec import DILL_EXT, decode, dill_dump, encode, is_plain, pack, pack_strict, type_name
from ._funcref import func_name, reference_for, resolve
from ._keys import Keyring

_CALL = "c"
_VALUE = "v"
_Ext = msgspec.msgpack.Ext
# What msgspec raises for the rare plain-looking value it cannot write (lone surrogates).
_ENCODE_ERRORS = (UnicodeEncodeError, OverflowError, ValueError)


class Call(msgspec.Struct):
    """A verified, decoded function call: what a worker runs.

    ``func(*args, **kwargs)`` is the task; when ``callback`` is set, the worker calls it after
    completion with the result and ``callback_args``.
    """

    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = msgspec.field(default_factory=dict)
    callback: Callable[..., Any] | None = None
    callback_args: dict[str, Any] | None = None


class Serializer:
    """Turns calls and values into signed payloads and back.

    Args:
        keyring: signs what is dumped and verifies what is loaded.
    """

    __slots__ = ("keyring", "_sign", "_verify")

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._sign = keyring.sign
        self._verify = keyring.verify

    def dump_call(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        callback: Callable[..., Any] | None = None,
        callback_args: Mapping[str, Any] | None = None,
        binding: list[Any] | None = None,
    ) -> tuple[str, bytes]:
        """Serialize and sign a call, and ``binding`` with it (plain data the call must be
        loaded with: the task's id and options, see :func:`omniq.models.binding`).

        Returns:
            ``(func_name(func), payload)``.

        Raises:
            SerializationError: ``func`` is not callable, or an argument cannot be pickled (the
                message names it and its type).
        """
        name, fspec = _function(func, "task function")
        cbspec = None if callback is None else _function(callback, "callback")[1]
        try:
            body = encode((*_call_body(fspec, args, kwargs, cbspec, callback_args, pack),
                           binding))
        except _ENCODE_ERRORS:
            body = encode((*_call_body(fspec, args, kwargs, cbspec, callback_args,
                                       pack_strict), binding))
        return name, self._sign(body)

    @staticmethod
    def name_of(func: Callable[..., Any]) -> str:
        """The name :meth:`dump_call` gives ``func``: its import reference, else
        ``module:qualname`` (cheap: nothing is pickled)."""
        return reference_for(func) or func_name(func)

    def load_call(self, payload: bytes, binding: list[Any] | None = None) -> Call:
        """Verify a payload, check what it binds against ``binding``, then decode the call.

        The signature and the binding are checked before any name is imported or any byte
        unpickled. A payload signed without a binding (by a release before bindings) is
        accepted as it is.

        Raises:
            SignatureError: the payload is unsigned, altered, signed with an unknown key, or
                bound to other task fields than ``binding`` (a record changed, or a payload
                replayed under another id).
            SerializationError: the function cannot be imported here, or a value cannot be
                unpickled here.
        """
        body, raw = self._call_data(payload)
        if len(raw) == 7 and binding is not None and raw[6] is not None and raw[6] != binding:
            raise SignatureError(_rebound(raw[6], binding))
        _, fspec, args, kwargs, cbspec, cbargs = decode(body)[:6]
        func = resolve(fspec) if type(fspec) is str else fspec
        if not callable(func):
            raise SerializationError(f"the task function decoded to a {type_name(func)}")
        callback = resolve(cbspec) if type(cbspec) is str else cbspec
        if callback is not None and not callable(callback):
            raise SerializationError(f"the callback decoded to a {type_name(callback)}")
        if type(args) is not list or type(kwargs) is not dict:
            raise SerializationError("the payload's arguments are malformed")
        return Call(func, tuple(args), kwargs, callback, cbargs)

    def rebind(self, payload: bytes, binding: list[Any]) -> bytes:
        """The verified ``payload`` signed again with another binding: how one signed call
        (a schedule's) becomes the payload of each task it makes."""
        _, raw = self._call_data(payload)
        return self._sign(encode((*raw[:6], binding)))

    def _call_data(self, payload: bytes) -> tuple[bytes, list[Any]]:
        """The verified body, and its top level with extensions left packed: nothing is
        unpickled before the caller has checked what the payload binds."""
        body = self._verify(payload)
        try:
            raw = msgspec.msgpack.decode(body)
        except msgspec.DecodeError as exc:
            raise SerializationError(f"the payload cannot be decoded: {exc}") from None
        if type(raw) is not list or len(raw) not in (6, 7) or raw[0] != _CALL:
            raise SerializationError("the payload does not hold a task call")
        return body, raw

    def dump_value(self, value: Any) -> bytes:
        """Serialize and sign a value (a task result, a schedule's arguments, ...).

        Raises:
            SerializationError: the value cannot be pickled.
        """
        try:
            body = encode((_VALUE, pack(value, "value")))
        except _ENCODE_ERRORS:
            body = encode((_VALUE, pack_strict(value, "value")))
        return self._sign(body)

    def load_value(self, blob: bytes) -> Any:
        """Verify a blob made by :meth:`dump_value`, then decode its value.

        Raises:
            SignatureError: the blob is unsigned, altered, or signed with an unknown key.
            SerializationError: the value cannot be unpickled here.
        """
        data = decode(self._verify(blob))
        if type(data) is not list or len(data) != 2 or data[0] != _VALUE:
            raise SerializationError("the payload does not hold a value")
        return data[1]


def _function(func: Any, what: str) -> tuple[str, Any]:
    """``(display name, spec)``: the spec is the import reference, or the function by value."""
    ref = reference_for(func)
    if ref is not None:
        return ref, ref
    if not callable(func):
        raise SerializationError(f"the {what} must be callable, not a {type_name(func)}")
    name = func_name(func)
    return name, _Ext(DILL_EXT, dill_dump(func, f"{what} {name}"))


def _call_body(
    fspec: Any,
    args: Any,
    kwargs: Mapping[str, Any] | None,
    cbspec: Any,
    callback_args: Mapping[str, Any] | None,
    packer: Callable[[Any, str], Any],
) -> tuple[Any, ...]:
    fast = packer is pack  # the strict packer must see every value, plain-looking or not
    packed_args = [
        arg if fast and is_plain(arg) else packer(arg, f"argument args[{index}]")
        for index, arg in enumerate(args)
    ]
    packed_kwargs = _pack_mapping(kwargs, "keyword argument", packer, fast) if kwargs else {}
    if callback_args is None:
        packed_cbargs = None
    elif isinstance(callback_args, Mapping) and all(type(k) is str for k in callback_args):
        packed_cbargs = _pack_mapping(callback_args, "callback argument", packer, fast)
    else:
        packed_cbargs = packer(callback_args, "callback_args")
    return (_CALL, fspec, packed_args, packed_kwargs, cbspec, packed_cbargs)


def _pack_mapping(
    mapping: Mapping[str, Any], what: str, packer: Callable[[Any, str], Any], fast: bool
) -> dict[str, Any]:
    packed = {}
    for key, value in mapping.items():
        if type(key) is not str:
            raise SerializationError(f"{what} names must be strings, got {key!r}")
        packed[key] = value if fast and is_plain(value) else packer(value, f"{what} {key!r}")
    return packed


_BOUND_FIELDS = ("id", "queue_name", "timeout", "max_retries", "retry_delay", "depends_on",
                 "max_deliveries", "store_result", "result_ttl", "schedule_id", "func_name",
                 "priority", "name", "description", "tags", "created_at", "trace_context")


def _rebound(signed: Any, stored: list[Any]) -> str:
    """Which task fields differ from what was signed, for the refusal message."""
    if type(signed) is not list or len(signed) != len(stored):
        return "the task record does not match what was signed"
    # Bindings end at trace_context only when the task has one.
    changed = [f"{name} (signed {a!r}, stored {b!r})" for name, a, b
               in zip(_BOUND_FIELDS[:len(stored)], signed, stored, strict=True) if a != b]
    return "the task record was changed after it was signed: " + ", ".join(changed)
