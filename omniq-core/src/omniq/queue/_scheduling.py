"""Schedules, written once over the contract's schedule primitives.

Each fire becomes a task whose id is derived from (schedule id, fire time), so any number of
schedulers running at once enqueue it exactly once; the schedule itself advances by
compare-and-set on its ``version``. docs/user_guide/queues.qmd states the policies (missed fires
coalesced, resumed schedules go on from now, cron across daylight-saving changes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from croniter import CroniterBadDateError, croniter

from .._ids import derived_id, new_id
from .._time import after, aware, seconds, utcnow
from ..config import validate_name
from ..exceptions import ConfigError, ScheduleNotFoundError
from ..models import (
    EventType,
    Schedule,
    ScheduleStatus,
    ScheduleType,
    Task,
    TaskStatus,
    binding,
)

if TYPE_CHECKING:
    from ._base import AsyncTaskQueue

replace = msgspec.structs.replace


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError("unknown time zone", field="timezone", value=name,
                          expected="an IANA name such as 'UTC' or 'Europe/Berlin'") from exc


def next_fire(schedule: Schedule, after_time: datetime) -> datetime | None:
    """The first fire time strictly after ``after_time`` (None when the schedule is over)."""
    if schedule.schedule_type == ScheduleType.RUN_AT:
        return None
    if schedule.schedule_type == ScheduleType.INTERVAL:
        assert schedule.interval
        base = schedule.last_run_at or schedule.start_at or after_time
        nxt = base + timedelta(seconds=schedule.interval)
        if nxt <= after_time:  # coalesce: skip the fires that were missed
            missed = (after_time - base).total_seconds() // schedule.interval
            nxt = base + timedelta(seconds=schedule.interval * (missed + 1))
    else:
        assert schedule.cron_expression  # a cron schedule is validated to have one
        zone = _zone(schedule.timezone)
        times = croniter(schedule.cron_expression, after_time.astimezone(zone))
        nxt = times.get_next(datetime)
        while _second_of_repeated(nxt, zone, after_time):  # a repeated hour fires once
            nxt = times.get_next(datetime)
        nxt = nxt.astimezone(after_time.tzinfo)
    if schedule.end_at is not None and nxt > schedule.end_at:
        return None
    return nxt


def _second_of_repeated(moment: datetime, zone: ZoneInfo, after_time: datetime) -> bool:
    """Whether ``moment`` is the second occurrence of a wall-clock time that a daylight-saving
    fall-back repeats, and its first occurrence is already past (so it fired, or was due)."""
    wall = moment.astimezone(zone).replace(tzinfo=None)
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset() or moment.utcoffset() != second.utcoffset():
        return False
    return first <= after_time


_CRON_FIELDS = (("minute", "0-59"), ("hour", "0-23"), ("day-of-month", "1-31 or L"),
                ("month", "1-12 or jan-dec"), ("day-of-week", "0-7 or sun-sat"))
_CRON_EXPECTED = ("five fields, minute hour day-of-month month day-of-week, e.g. '0 9 * * 1-5' "
                  "(09:00 on weekdays), or @hourly, @daily, @weekly, @monthly, @yearly")


def _check_cron(expression: object, timezone: str) -> None:
    """Refuse, naming the part at fault, a cron expression croniter would reject or one that
    matches no date at all (``0 0 31 4 *``)."""
    problem = (_cron_problem(expression, timezone) if isinstance(expression, str)
               else "expected a string")
    if problem is not None:
        raise ConfigError(f"invalid cron expression: {problem}", field="cron_expression",
                          value=expression, expected=_CRON_EXPECTED)


def _cron_problem(expression: str, timezone: str) -> str | None:
    # Only the standard five fields: croniter reads a sixth field as seconds *last*, where
    # other schedulers put seconds first, so a six-field expression could silently mean
    # something else (sub-minute runs take ``interval``).
    if expression.strip().startswith("@"):
        if not croniter.is_valid(expression):
            return "unknown @ name"
    else:
        fields = expression.split()
        if len(fields) != 5:
            return f"{len(fields)} field{'s' if len(fields) != 1 else ''} instead of five"
        for index, (name, allowed) in enumerate(_CRON_FIELDS):
            alone = " ".join(fields[index] if i == index else "*" for i in range(5))
            if not croniter.is_valid(alone):
                return f"its {name} field {fields[index]!r} is not valid (values {allowed})"
        if not croniter.is_valid(expression):
            return "croniter refuses it"
    try:
        croniter(expression, utcnow().astimezone(_zone(timezone))).get_next(datetime)
    except CroniterBadDateError:
        return "no date matches it, so it would never fire"
    return None


class SchedulingMixin:
    """Schedule management for :class:`AsyncTaskQueue`."""

    async def schedule(
        self: AsyncTaskQueue, func: Callable[..., Any], *args: Any,
        func_args: dict[str, Any] | None = None, func_kwargs: dict[str, Any] | None = None,
        # The schedule: one of cron_expression (or cron), interval or run_at, and its limits.
        schedule_type: str | None = None, cron_expression: str | None = None,
        cron: str | None = None, interval: timedelta | float | None = None,
        run_at: datetime | None = None, max_runs: int | None = None,
        start_at: datetime | None = None, end_at: datetime | None = None,
        timezone: str = "UTC", allow_overlap: bool = True,
        # The options of the tasks it creates (those of enqueue).
        queue_name: str | None = None, name: str | None = None, description: str | None = None,
        tags: Sequence[str] | None = None, priority: int = 0, ttl: timedelta | float | None = None,
        result_ttl: timedelta | float | None = None, max_retries: int | None = None,
        retry_delay: timedelta | float | None = None, timeout: timedelta | float | None = None,
        store_result: bool = True, callback: Callable[..., Any] | None = None,
        callback_args: dict[str, Any] | None = None, schedule_id: str | None = None,
        depends_on: Sequence[str] | None = None,
    ) -> str:
        """Create a cron, interval or run-at schedule; returns its id. Invalid cron strings,
        intervals <= 0 and unknown time zones raise ``ConfigError`` here, not later in a
        worker. ``depends_on`` is not supported on schedules."""
        if depends_on:
            raise ConfigError("schedules cannot depend on tasks", field="depends_on",
                              value=depends_on, expected="None; enqueue dependent tasks instead")
        cron_expression = cron_expression or cron
        kind = _schedule_kind(schedule_type, cron_expression, interval, run_at)
        interval_s = seconds(interval, "interval") if interval is not None else None
        if kind == ScheduleType.INTERVAL and not interval_s:
            raise ConfigError("interval must be positive", field="interval", value=interval,
                              expected="a timedelta or seconds > 0")
        if kind == ScheduleType.CRON:
            _check_cron(cron_expression, timezone)
        if max_runs is not None and (not isinstance(max_runs, int) or max_runs < 1):
            raise ConfigError("bad max_runs", field="max_runs", value=max_runs,
                              expected="an int >= 1 or None")
        _zone(timezone)
        if timezone != "UTC" and kind != ScheduleType.CRON:
            raise ConfigError("timezone applies to cron schedules only", field="timezone",
                              value=timezone, expected="no timezone: an interval or run_at "
                              "schedule counts in instants (run_at carries its own offset)")
        now = utcnow()
        if end_at is not None:
            end = aware(end_at, "end_at")
            if end <= max(now, aware(start_at, "start_at") if start_at else now):
                raise ConfigError("end_at is not after start_at and now: the schedule would "
                                  "never fire", field="end_at", value=end_at,
                                  expected="a time after start_at (if given) and after now")
        # The template task carries the signed call and the options every fire copies.
        template = self.build_task(
            func, *args, func_args=func_args, func_kwargs=func_kwargs, queue_name=queue_name,
            name=name, description=description, tags=tags, priority=priority,
            result_ttl=result_ttl, max_retries=max_retries, retry_delay=retry_delay,
            timeout=timeout, store_result=store_result, callback=callback,
            callback_args=callback_args, now=now,
        )
        sched = Schedule(
            id=validate_name("schedule", schedule_id) if schedule_id else new_id(),
            func_name=template.func_name, payload=template.payload, schedule_type=kind,
            cron_expression=cron_expression, interval=interval_s,
            run_at=aware(run_at, "run_at") if run_at else None, timezone=timezone,
            start_at=aware(start_at, "start_at") if start_at else None,
            end_at=aware(end_at, "end_at") if end_at else None, max_runs=max_runs,
            created_at=now, queue_name=template.queue_name, name=name, description=description,
            tags=list(tags or ()), priority=priority, ttl=seconds(ttl, "ttl") or None,
            result_ttl=template.result_ttl, max_retries=template.max_retries,
            retry_delay=template.retry_delay, timeout=template.timeout,
            store_result=store_result, allow_overlap=allow_overlap,
        )
        sched.next_run_at = _first_fire(sched, now)
        await self.connect()
        await self.add_schedule(sched)
        self._emit_schedule(EventType.SCHEDULE_CREATED, sched)
        return sched.id

    async def require_schedule(self: AsyncTaskQueue, schedule_id: str) -> Schedule:
        await self.connect()
        sched = await self.get_schedule(schedule_id)
        if sched is None:
            raise ScheduleNotFoundError(f"no schedule with id {schedule_id!r}")
        return sched

    async def pause_schedule(self: AsyncTaskQueue, schedule_id: str) -> bool:
        """Stop firing until resumed. False if it was not active."""
        return await self._set_schedule_status(schedule_id, ScheduleStatus.PAUSED)

    async def resume_schedule(self: AsyncTaskQueue, schedule_id: str) -> bool:
        """Fire again, from now on (runs missed while paused are not made up)."""
        return await self._set_schedule_status(schedule_id, ScheduleStatus.ACTIVE)

    async def _set_schedule_status(
        self: AsyncTaskQueue, schedule_id: str, status: ScheduleStatus
    ) -> bool:
        while True:
            sched = await self.require_schedule(schedule_id)
            wanted_from = (ScheduleStatus.ACTIVE if status == ScheduleStatus.PAUSED
                           else ScheduleStatus.PAUSED)
            if sched.status != wanted_from:
                return False
            changes: dict[str, Any] = {"status": status, "version": sched.version + 1}
            if status == ScheduleStatus.ACTIVE:
                changes["next_run_at"] = _resumed_fire(sched, utcnow())
            new = replace(sched, **changes)
            if await self.update_schedule(new, expect_version=sched.version):
                self._emit_schedule(EventType.SCHEDULE_PAUSED if status == ScheduleStatus.PAUSED
                                    else EventType.SCHEDULE_RESUMED, new)
                return True

    async def remove_schedule(self: AsyncTaskQueue, schedule_id: str) -> bool:
        await self.connect()
        ok = await self.delete_schedule(schedule_id)
        if ok and self.event_logger:
            self.event_logger.schedule_event(EventType.SCHEDULE_DELETED, schedule_id)
        return ok

    async def fire_due_schedules(self: AsyncTaskQueue, now: datetime | None = None) -> list[str]:
        """Turn every due fire into a task; safe to run from many workers at once."""
        now = now or utcnow()
        fired = []
        for sched in await self.due_schedules(now):
            # Checked again here: a store that reads its index and the records apart can hand
            # back a record another scheduler advanced (or paused) in between, whose next fire
            # is not due; firing it would store that fire early, beyond a pause's reach.
            if sched.status != ScheduleStatus.ACTIVE or sched.next_run_at is None \
                    or sched.next_run_at > now:
                continue
            task_id = await self._fire(sched, now)
            if task_id:
                fired.append(task_id)
        return fired

    async def _fire(self: AsyncTaskQueue, sched: Schedule, now: datetime) -> str | None:
        fire_time = sched.next_run_at
        assert fire_time is not None
        task_id = derived_id(sched.id, fire_time)
        skip = False
        if not sched.allow_overlap and sched.last_task_id:
            last = await self.get_task(sched.last_task_id)
            skip = last is not None and not last.is_finished
        # Schedulers racing for one fire store the same task id, so the task can be stored
        # before the schedule is advanced: if this process dies in between, the fire is still
        # stored. Not when overlap is refused: one scheduler may skip the fire (the last run
        # still going) while another stores it, and a task stored by the loser would run
        # uncounted, beside the run it should wait for. There the schedule is advanced first.
        add_first = not skip and sched.allow_overlap
        if add_first:
            await self.add_tasks([self._task_of_fire(sched, task_id, fire_time, now)])
        runs = sched.run_count + (0 if skip else 1)
        nxt = None if sched.max_runs and runs >= sched.max_runs else next_fire(
            replace(sched, last_run_at=fire_time), now)
        new = replace(
            sched, run_count=runs, last_run_at=fire_time, next_run_at=nxt,
            last_task_id=sched.last_task_id if skip else task_id, version=sched.version + 1,
            status=ScheduleStatus.FINISHED if nxt is None else sched.status,
        )
        if not await self.update_schedule(new, expect_version=sched.version):
            return None  # another scheduler advanced it; the task (same id) exists once
        if not skip and not add_first:
            await self.add_tasks([self._task_of_fire(sched, task_id, fire_time, now)])
        if not skip:
            self._emit_schedule(EventType.SCHEDULE_FIRED, new, task_id=task_id)
        return None if skip else task_id

    def _task_of_fire(self: AsyncTaskQueue, sched: Schedule, task_id: str, fire_time: datetime,
                      now: datetime) -> Task:
        task = Task(
            id=task_id, func_name=sched.func_name, payload=b"",
            queue_name=sched.queue_name, name=sched.name, description=sched.description,
            tags=list(sched.tags), priority=sched.priority, status=TaskStatus.PENDING,
            created_at=now, run_at=fire_time, expires_at=after(now, sched.ttl),
            result_ttl=sched.result_ttl, max_retries=sched.max_retries,
            retry_delay=sched.retry_delay, timeout=sched.timeout,
            store_result=sched.store_result, schedule_id=sched.id,
        )
        # The schedule's call, signed again for this fire's own id and options.
        task.payload = self.serializer.rebind(sched.payload, binding(task_id, task))
        return task

    def _emit_schedule(self: AsyncTaskQueue, type_: EventType, sched: Schedule,
                       **fields: Any) -> None:
        if self.event_logger is not None:
            self.event_logger.schedule_event(type_, sched.id, queue_name=sched.queue_name,
                                             **fields)


def _schedule_kind(schedule_type: str | None, cron_expression: str | None,
                   interval: Any, run_at: datetime | None) -> ScheduleType:
    given = {name: value for name, value in (("cron_expression", cron_expression),
             ("interval", interval), ("run_at", run_at)) if value is not None}
    if not given and schedule_type is not None:
        raise ConfigError("schedule needs cron_expression, interval or run_at",
                          field="schedule_type", value=schedule_type)
    if not given:
        raise ConfigError("schedule needs one of cron_expression, interval or run_at",
                          expected="e.g. interval=timedelta(minutes=1) or "
                                   "cron_expression='0 9 * * *'")
    if len(given) > 1:
        # Refused rather than one silently winning over the other.
        raise ConfigError(f"schedule got both {' and '.join(given)}", field=next(iter(given)),
                          value=given, expected="exactly one of cron_expression, interval or "
                          "run_at (one schedule each if you want both)")
    name = next(iter(given))
    return ScheduleType.CRON if name == "cron_expression" else ScheduleType(name)


def _resumed_fire(sched: Schedule, now: datetime) -> datetime | None:
    """The next fire of a schedule resumed at ``now``: runs missed while paused are not made
    up, but the first run of an interval schedule that never ran is kept (due now if it fell
    due in the last interval), not pushed a whole interval out."""
    if sched.schedule_type == ScheduleType.RUN_AT:
        return max(sched.run_at or now, now)
    first = sched.next_run_at
    if (sched.schedule_type == ScheduleType.INTERVAL and sched.run_count == 0
            and first is not None and sched.interval
            and first > now - timedelta(seconds=sched.interval)):
        return max(first, now)
    return next_fire(replace(sched, last_run_at=None, start_at=None), now)


def _first_fire(sched: Schedule, now: datetime) -> datetime | None:
    if sched.schedule_type == ScheduleType.RUN_AT:
        return sched.run_at
    if sched.schedule_type == ScheduleType.INTERVAL:
        return sched.start_at or now
    start = sched.start_at or now
    return next_fire(sched, start - timedelta(microseconds=1) if sched.start_at else now)
