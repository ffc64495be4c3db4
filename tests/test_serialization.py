"""Round trips through omniq.serialization: exact types back, functions by reference or value."""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import socket
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from omniq.exceptions import SerializationError, SignatureError
from omniq.serialization import Call, Keyring, Serializer, func_name

SECRET = "test-secret-serialization"


# Module-level on purpose: importable by module and qualified name, so they travel by reference
# (functions) or are pickled by reference to their class (types).
def add(a: int, b: int) -> int:
    return a + b


def echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def impostor() -> str:
    return "impostor"


# Its qualified name now leads to `add`, not to itself: it must not travel as "…:add".
impostor.__qualname__ = "add"


@dataclasses.dataclass
class Point:
    x: Any
    y: Any


@dataclasses.dataclass(frozen=True)
class FrozenTag:
    name: str


class Box:
    """A plain class with state, compared field by field."""

    def __init__(self, content: Any) -> None:
        self.content = content

    def __eq__(self, other: object) -> bool:
        return type(other) is Box and same(self.content, other.content)


class Color(enum.IntEnum):
    RED = 1
    GREEN = 2


class Shape(msgspec.Struct):
    kind: str
    sides: int


class Adder:
    def __init__(self, base: int) -> None:
        self.base = base

    def plus(self, x: int) -> int:
        return self.base + x


@pytest.fixture
def serializer() -> Serializer:
    return Serializer(Keyring.from_secrets([SECRET]))


def same(a: Any, b: Any) -> bool:
    """Exact equality: same types all the way down; NaN equals NaN; -0.0 differs from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, Decimal):
        return str(a) == str(b)  # keeps exponent, sign and NaN kind; never signals
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(ka, kb) and same(va, vb)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    if isinstance(a, datetime | time):
        return a == b and repr(a) == repr(b)  # repr shows the tzinfo and fold
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return bool(a == b)


hashables = st.one_of(
    st.integers(),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.builds(FrozenTag, st.text(max_size=5)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**64 - 2, max_value=2**300),  # beyond msgpack's 64 bits
    st.integers(min_value=-(2**300), max_value=-(2**63) + 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(),
    st.builds(bytearray, st.binary(max_size=16)),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.fractions(),
    st.complex_numbers(allow_nan=True),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
    st.datetimes(
        timezones=st.builds(timezone, st.timedeltas(-timedelta(hours=23), timedelta(hours=23)))
    ),
    st.dates(),
    st.times(timezones=st.none() | st.just(UTC)),
    st.timedeltas(),
    st.uuids(),
    st.sampled_from(Color),
    st.sets(hashables, max_size=4),
    st.frozensets(hashables, max_size=4),
    st.builds(Shape, st.text(max_size=5), st.integers(0, 10)),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
        st.dictionaries(st.integers() | st.tuples(st.integers()), children, max_size=3),
        st.builds(Point, children, children),
        st.builds(Box, children),
    )


values = st.recursive(scalars, _containers, max_leaves=12)
fast = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fast
@given(value=values)
def test_value_round_trips_exactly(serializer: Serializer, value: Any) -> None:
    assert same(serializer.load_value(serializer.dump_value(value)), value)


@fast
@given(
    args=st.lists(values, max_size=4),
    kwargs=st.dictionaries(st.text(max_size=6), values, max_size=3),
)
def test_call_arguments_round_trip_exactly(
    serializer: Serializer, args: list[Any], kwargs: dict[str, Any]
) -> None:
    name, payload = serializer.dump_call(echo, tuple(args), kwargs)
    call = serializer.load_call(payload)
    assert name == f"{__name__}:echo"
    assert call.func is echo
    assert same(call.args, tuple(args))
    assert same(call.kwargs, kwargs)
    assert same(call.func(*call.args, **call.kwargs), (tuple(args), kwargs))


def _body(serializer: Serializer, payload: bytes) -> Any:
    # Raw view of the verified body: dill parts show up as msgpack Ext objects, unpickled never.
    return msgspec.msgpack.decode(serializer.keyring.verify(payload))


def _has_ext(obj: Any) -> bool:
    if isinstance(obj, msgspec.msgpack.Ext):
        return True
    if isinstance(obj, list):
        return any(_has_ext(item) for item in obj)
    if isinstance(obj, dict):
        return any(_has_ext(item) for item in obj.values())
    return False


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**63),
        2**64 - 1,
        1.5,
        float("inf"),
        "héllo ✓",
        b"\x00\xff",
        [1, [2, {"a": None}]],
        {"k": [1.0, "x", b"y"]},
    ],
)
def test_plain_values_skip_dill(serializer: Serializer, value: Any) -> None:
    blob = serializer.dump_value(value)
    assert not _has_ext(_body(serializer, blob))
    assert same(serializer.load_value(blob), value)


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),
        {1, 2},
        frozenset({"a"}),
        Decimal("1.10"),
        datetime(2024, 1, 1),
        datetime(2024, 1, 1, tzinfo=UTC),
        date(2024, 1, 1),
        Point(1, 2),
        Box(3),
        2**64,
        -(2**63) - 1,
        bytearray(b"ab"),
        Color.RED,
        {1: "int key"},
        [1, (2, 3)],
        {"nested": {"deep": Decimal(1)}},
        Shape("square", 4),
        "lone \ud800 surrogate",
    ],
)
def test_values_msgpack_would_change_go_through_dill(serializer: Serializer, value: Any) -> None:
    blob = serializer.dump_value(value)
    assert _has_ext(_body(serializer, blob))
    assert same(serializer.load_value(blob), value)


def test_mixed_arguments_are_tagged_one_by_one(serializer: Serializer) -> None:
    stamp = datetime(2024, 5, 1, 12, tzinfo=UTC)
    _, payload = serializer.dump_call(echo, (1, stamp, "x"), {"plain": [1], "tup": (1,)})
    _, _, args, kwargs, _, _, _ = _body(serializer, payload)
    assert args[0] == 1 and args[2] == "x" and isinstance(args[1], msgspec.msgpack.Ext)
    assert kwargs["plain"] == [1] and isinstance(kwargs["tup"], msgspec.msgpack.Ext)
    call = serializer.load_call(payload)
    assert call.args == (1, stamp, "x") and call.kwargs == {"plain": [1], "tup": (1,)}


def test_import_path_functions_travel_as_references(serializer: Serializer) -> None:
    for func, ref in [
        (add, f"{__name__}:add"),
        (math.floor, "math:floor"),
        (Adder.plus, f"{__name__}:Adder.plus"),
    ]:
        name, payload = serializer.dump_call(func, (1, 2))
        body = _body(serializer, payload)
        assert name == ref and body[1] == ref
        assert not _has_ext(body)
        assert b"dill" not in serializer.keyring.verify(payload)
        assert serializer.load_call(payload).func is func


def test_function_whose_name_leads_elsewhere_travels_by_value(serializer: Serializer) -> None:
    _, payload = serializer.dump_call(impostor)
    assert isinstance(_body(serializer, payload)[1], msgspec.msgpack.Ext)
    assert serializer.load_call(payload).func() == "impostor"


def _make_closure(offset: int) -> Any:
    def shifted(x: int) -> int:
        return x + offset

    return shifted


def _make_nested_counter() -> Any:
    state = {"calls": 0}

    def outer(x: int) -> Any:
        def inner() -> int:
            state["calls"] += 1
            return x * 10 + state["calls"]

        return inner()

    return outer


@pytest.mark.parametrize(
    ("func", "args", "expected"),
    [
        (lambda x, y: x * y, (6, 7), 42),
        (_make_closure(100), (1,), 101),
        (_make_nested_counter(), (4,), 41),
        (functools.partial(add, 10), (5,), 15),
        (functools.partial(lambda a, b: a - b, b=1), (10,), 9),
        (Adder(5).plus, (2,), 7),
    ],
    ids=["lambda", "closure", "nested", "partial", "partial-lambda", "bound-method"],
)
def test_functions_by_value_run_after_round_trip(
    serializer: Serializer, func: Any, args: tuple[Any, ...], expected: Any
) -> None:
    _, payload = serializer.dump_call(func, args)
    assert isinstance(_body(serializer, payload)[1], msgspec.msgpack.Ext)
    call = serializer.load_call(payload)
    assert call.func(*call.args, **call.kwargs) == expected


def test_main_module_function_travels_by_value_with_its_globals(
    serializer: Serializer,
) -> None:
    # A script run as __main__ enqueues a function that uses its own globals; the worker is
    # another process whose __main__ has none of them.
    script = textwrap.dedent(f"""
        import sys
        from omniq.serialization import Keyring, Serializer
        FACTOR = 7
        def helper(x):
            return x * FACTOR
        def job(x):
            return helper(x) + 1
        name, payload = Serializer(Keyring.from_secrets([{SECRET!r}])).dump_call(job, (6,))
        print(name)
        print(payload.hex())
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out[0] == "__main__:job"
    call = serializer.load_call(bytes.fromhex(out[1]))
    assert call.func(*call.args) == 43


def test_callback_and_callback_args_round_trip(serializer: Serializer) -> None:
    _, payload = serializer.dump_call(
        add,
        (1, 2),
        callback=lambda result, tag: (result, tag),
        callback_args={"tag": ("t", 1)},
    )
    call = serializer.load_call(payload)
    assert isinstance(call, Call)
    assert call.callback is not None and call.callback_args == {"tag": ("t", 1)}
    assert call.callback(call.func(*call.args), **call.callback_args) == (3, ("t", 1))

    _, payload = serializer.dump_call(add, (1, 2), callback=add, callback_args={"b": 1})
    call = serializer.load_call(payload)
    assert call.callback is add and call.callback_args == {"b": 1}
    assert not _has_ext(_body(serializer, payload))


def test_func_name_for_display() -> None:
    assert func_name(add) == f"{__name__}:add"
    assert func_name(Adder.plus) == f"{__name__}:Adder.plus"
    assert func_name(lambda: 1) == f"{__name__}:<lambda>"
    assert func_name(functools.partial(add, 1)) == f"{__name__}:add"
    assert func_name(_make_closure(1)) == f"{__name__}:_make_closure.<locals>.shifted"
    assert func_name(math.floor) == "math:floor"


def _generator() -> Any:
    yield 1


@pytest.mark.parametrize(
    ("where", "expected_name", "expected_type"),
    [
        ("args", "args[1]", "generator"),
        ("kwargs", "'conn'", "socket"),
        ("value", "value", "generator"),
    ],
)
def test_unpicklable_argument_is_explained(
    serializer: Serializer, where: str, expected_name: str, expected_type: str
) -> None:
    with socket.socket() as sock, pytest.raises(SerializationError) as info:
        if where == "args":
            serializer.dump_call(echo, (1, _generator()))
        elif where == "kwargs":
            serializer.dump_call(echo, (), {"conn": sock})
        else:
            serializer.dump_value(_generator())
    message = str(info.value)
    assert expected_name in message and expected_type in message
    assert "picklable" in message and "identifier" in message
    assert not isinstance(info.value, SignatureError)


def test_unpicklable_closure_is_explained(serializer: Serializer) -> None:
    gen = _generator()
    with pytest.raises(SerializationError, match="task function .*<lambda>"):
        serializer.dump_call(lambda: next(gen))


def test_not_callable_is_refused(serializer: Serializer) -> None:
    with pytest.raises(SerializationError, match="callable"):
        serializer.dump_call(42)  # type: ignore[arg-type]


def test_value_and_call_payloads_are_not_interchangeable(serializer: Serializer) -> None:
    with pytest.raises(SerializationError, match="task call"):
        serializer.load_call(serializer.dump_value(["c", "os:system", ["true"], {}, None, None]))
    with pytest.raises(SerializationError, match="value"):
        serializer.load_value(serializer.dump_call(add, (1, 2))[1])


def test_reference_missing_on_the_worker_is_a_clear_error(serializer: Serializer) -> None:
    body = msgspec.msgpack.encode(["c", "omniq_no_such_module:job", [], {}, None, None])
    with pytest.raises(SerializationError, match="omniq_no_such_module"):
        serializer.load_call(serializer.keyring.sign(body))
    body = msgspec.msgpack.encode(["c", f"{__name__}:no_such_function", [], {}, None, None])
    with pytest.raises(SerializationError, match="no callable"):
        serializer.load_call(serializer.keyring.sign(body))
