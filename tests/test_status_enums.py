"""The status enums show users their plain value: in str(), f-strings, JSON and msgpack."""

from __future__ import annotations

import pickle

import msgspec
import pytest
from omniq.models import EventType, ScheduleStatus, ScheduleType, TaskStatus

MEMBERS = [TaskStatus.PENDING, EventType.DEAD_LETTER, ScheduleStatus.PAUSED, ScheduleType.RUN_AT]


@pytest.mark.parametrize("member", MEMBERS, ids=str)
def test_a_status_reads_as_its_value(member: TaskStatus) -> None:
    value = member.value
    assert isinstance(member, str) and member == value
    assert str(member) == f"{member}" == value
    assert "%s" % member == value  # noqa: UP031 -- how logging formats its arguments
    assert f"{member:>20}" == f"{value:>20}"
    assert repr(member) == f"<{type(member).__name__}.{member.name}: {value!r}>"


@pytest.mark.parametrize("member", MEMBERS, ids=str)
def test_a_status_round_trips_by_value(member: TaskStatus) -> None:
    cls = type(member)
    assert msgspec.json.encode(member) == f'"{member.value}"'.encode()
    assert msgspec.json.decode(msgspec.json.encode(member), type=cls) is member
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(member), type=cls) is member
    assert cls(member.value) is member
    assert pickle.loads(pickle.dumps(member)) is member
