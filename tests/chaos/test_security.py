"""Attacks on what is stored, on names and on secrets, on every engine.

- Every single-bit change of a real stored record (all of them on SQLite, a sample elsewhere)
  is refused and never runs, unless it only touched lifecycle state (which the worker may
  change, so nothing can sign it); what runs is then still exactly the signed call.
- A forged record naming ``os.system`` never runs, whatever signature it carries.
- A worker with the wrong signing key refuses with a message saying what to do.
- Fuzzed queue, project and schedule names are refused; hostile task ids are contained (no
  path escape, no SQL, key-pattern or subject injection).
- No password, in any form it is given, shows in a log line, an exception, a repr or the
  ``omniq`` command's output.

(``tests/test_signing.py`` covers the envelope itself; ``tests/test_tamper_proof_records.py``
the bound fields one by one; ``tests/test_secrets_hidden.py`` the settings' reprs.)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import chaos_fixtures
import msgspec
import pytest
from engines import Engine
from omniq import AsyncOmniQ, current_task
from omniq.models import UNREADABLE, TaskStatus
from test_tamper_proof_records import _damager

# The suite's fixtures, by name (see chaos_fixtures).
engine = chaos_fixtures.engine

pytestmark = pytest.mark.anyio

RAN: list[tuple[str, str]] = []
#: Fields the lifecycle changes after enqueue (claims, retries, leases, progress, requeue): no
#: signature made at enqueue can cover them. A flip there may change when or whether a task
#: runs, never what runs.
STATE = {"status", "run_at", "expires_at", "attempts", "retries", "redeliveries", "worker_id",
         "lease_expires_at", "started_at", "finished_at", "error", "progress",
         "cancel_requested"}


def target(tag: str) -> str:
    """The victim of the flips: notes which task ran it, with what."""
    ctx = current_task()
    assert ctx is not None
    RAN.append((ctx.task_id, tag))
    return tag


def _flip(blob: bytes, bit: int) -> bytes:
    changed = bytearray(blob)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def _what_changed(original: bytes, flipped: bytes) -> tuple[str, Any]:
    """The record field a flip changed and its value before, or what the flip broke."""
    before = msgspec.msgpack.decode(original)
    try:
        after = msgspec.msgpack.decode(flipped)
    except msgspec.DecodeError:
        return "<undecodable>", None
    if not isinstance(after, dict) or set(after) != set(before):
        return "<structure>", None
    changed = [name for name in before if before[name] != after[name]]
    return (changed[0], before[changed[0]]) if changed else ("<same value>", None)


async def _settle(oq: AsyncOmniQ, ids: list[str]) -> None:
    """Run a worker until none of ``ids`` is waiting to run or running."""
    unsettled = {TaskStatus.PENDING, TaskStatus.RETRYING, TaskStatus.RUNNING}
    await oq.start_worker("async", max_workers=20)
    try:
        with anyio.move_on_after(60):
            while True:
                tasks = [await oq.get_task(task_id) for task_id in ids]
                # A task a flip moved to a queue nobody serves waits there: not for us.
                left = [t for t in tasks if t is None or (t.status in unsettled
                                                          and t.queue_name in oq.task_queue.queues)]
                if not left:
                    return
                await anyio.sleep(0.1)
        pytest.fail(f"{len(left)} tasks never settled: "
                    f"{[(t.id, t.status, t.func_name, t.error) for t in left[:5] if t]}")
    finally:
        await oq.stop_worker()


Outcome = tuple[int, str, Any, Any, bool]  # bit, field changed, its value before, task, ran


async def _flip_each(engine: Engine, bits: Callable[[int], list[int]]
                     ) -> tuple[list[Outcome], list[str]]:
    """One task per bit position, that bit flipped in its stored record, a worker run over
    them all and honest tasks beside them; per flip: what it changed, the task after, and
    whether it ran."""
    async with engine.client() as oq:
        probe = await oq.enqueue(target, "x")
        damage = _damager(engine.name, oq)
        originals: dict[str, bytes] = {}

        def keep(task_id: str) -> Callable[[bytes], bytes]:
            def capture(blob: bytes) -> bytes:
                originals[task_id] = blob
                return blob
            return capture

        await damage(probe, keep(probe))
        positions = bits(8 * len(originals[probe]))
        ids = await oq.enqueue_many(target, ["x"] * len(positions))
        flipped: dict[str, bytes] = {}
        for task_id, bit in zip(ids, positions, strict=True):
            def change(blob: bytes, task_id: str = task_id, bit: int = bit) -> bytes:
                originals[task_id] = blob
                flipped[task_id] = _flip(blob, bit)
                return flipped[task_id]
            await damage(task_id, change)
        assert {len(originals[i]) for i in ids} == {len(originals[probe])}  # same layout
        honest = await oq.enqueue_many(target, ["honest"] * 5)
        RAN.clear()
        await _settle(oq, ids + honest)
        ran = {task_id for task_id, _ in RAN}
        outcomes = []
        for task_id, bit in zip(ids, positions, strict=True):
            field, before = _what_changed(originals[task_id], flipped[task_id])
            outcomes.append((bit, field, before, await oq.get_task(task_id), task_id in ran))
        honest_done = [task_id for task_id in honest
                       if (await oq.get_task(task_id)).status == TaskStatus.COMPLETED]
        assert {tag for task_id, tag in RAN if task_id in ran} <= {"x", "honest"}
    return outcomes, honest_done


def _judge(outcomes: list[Outcome]) -> None:
    """A flip outside lifecycle state was refused and never ran, unless the store keeps that
    field authoritatively beside the record (SQLite's queue column) and put it back: then
    the task ran exactly as signed."""
    for bit, field, before, task, ran in outcomes:
        if field in STATE or field == "<same value>":
            continue
        if ran:
            kept = msgspec.to_builtins(getattr(task, field)) if hasattr(task, field) else None
            assert kept == msgspec.to_builtins(before), f"bit {bit} changed {field} and ran"
            continue
        if task.status == TaskStatus.PENDING and field == "queue_name":
            # NATS keeps no queue beside the record: the flip moved it to a queue nobody
            # serves, where it waits without running (and stalls nothing).
            assert task.queue_name != before, (bit, field, task)
            continue
        assert task.status == TaskStatus.FAILED, (bit, field, task.status)
        assert task.func_name == UNREADABLE or task.error.type == "SignatureError", \
            (bit, field, task.error)


async def test_every_bit_flip_of_a_stored_sqlite_record_is_refused(
        tmp_path: Path, project_name: str) -> None:
    from engines import engine_at

    engine = engine_at("sqlite", "", project_name, tmp_path)
    outcomes, honest = await _flip_each(engine, lambda n: list(range(n)))
    _judge(outcomes)
    assert len(honest) == 5  # and the queue kept flowing around the damage
    fields = {field for _, field, _, _, _ in outcomes}
    assert {"payload", "id", "queue_name", "<undecodable>"} <= fields  # the flips reached them


@pytest.mark.parametrize("engine", [
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("nats", marks=pytest.mark.nats),
], indirect=True)
async def test_sampled_bit_flips_of_stored_records_are_refused(engine: Engine) -> None:
    sample = random.Random(19)
    outcomes, honest = await _flip_each(engine, lambda n: sorted(sample.sample(range(n), 96)))
    _judge(outcomes)
    assert len(honest) == 5


# -- forged records ------------------------------------------------------------------------------
FORGERIES = ("unsigned", "other key", "our key id, other key", "our signature, other body")


def _forged(how: str, genuine: bytes, body: bytes) -> bytes:
    """A payload carrying ``body`` that our key never signed, made ``how``."""
    from omniq.serialization import Keyring

    version, kid, mac, _ = msgspec.msgpack.decode(genuine)
    return {
        "unsigned": lambda: body,
        "other key": lambda: Keyring.from_secrets(["attacker-secret"]).sign(body),
        "our key id, other key": lambda: Keyring({kid: b"attacker"}, kid).sign(body),
        "our signature, other body": lambda: msgspec.msgpack.encode([version, kid, mac, body]),
    }[how]()


SERVER_ENGINES = [pytest.param("sqlite"),
                  pytest.param("redis", marks=pytest.mark.redis),
                  pytest.param("postgres", marks=pytest.mark.postgres),
                  pytest.param("nats", marks=pytest.mark.nats)]


@pytest.mark.parametrize("engine", SERVER_ENGINES, indirect=True)
async def test_a_forged_record_naming_os_system_never_runs(engine: Engine,
                                                           tmp_path: Path) -> None:
    import os

    from omniq.models import binding

    pwned, control = tmp_path / "pwned", tmp_path / "control"
    async with engine.client() as oq:
        # Control: signed with our key, an os.system task does run (so the forgeries could).
        genuine = await oq.enqueue(os.system, f"touch {control}")
        damage = _damager(engine.name, oq)
        forged: dict[str, str] = {}
        for label in FORGERIES:
            task_id = await oq.enqueue(target, "x")
            task = await oq.get_task(task_id)
            body = msgspec.msgpack.encode(["c", "os:system", [f"touch {pwned}"], {}, None, None,
                                           binding(task_id, task)])
            payload = _forged(label, task.payload, body)

            def forge(blob: bytes, payload: bytes = payload) -> bytes:
                record = msgspec.msgpack.decode(blob)
                record["payload"] = payload
                return msgspec.msgpack.encode(record)
            await damage(task_id, forge)
            forged[label] = task_id
        await _settle(oq, [genuine, *forged.values()])
        refused = {label: await oq.get_task(task_id) for label, task_id in forged.items()}
    assert control.exists()
    assert not pwned.exists()
    for label, task in refused.items():
        assert task.status == TaskStatus.FAILED, label
        assert task.error.type == "SignatureError", (label, task.error)


# -- a worker with another key -------------------------------------------------------------------
async def test_a_worker_with_the_wrong_key_refuses_with_a_clear_message(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    async with engine.client() as client:
        task_id = await client.enqueue(target, "x")
        ours = client.task_queue.serializer.keyring.current_key_id
        async with AsyncOmniQ(project_name=engine.project, task_queue=engine.url,
                              secret_key="not-the-clients-key") as elsewhere:
            theirs = elsewhere.task_queue.serializer.keyring.current_key_id
            RAN.clear()
            with caplog.at_level("DEBUG"):
                await _settle(elsewhere, [task_id])
        task = await client.get_task(task_id)
    expected = (f"refused a payload signed with key id '{ours}', which this process does not "
                f"know (it knows {theirs}): set the same OMNIQ_SECRET_KEY on every machine "
                "that enqueues or runs tasks")
    assert RAN == []
    assert task.status == TaskStatus.FAILED and task.error.message.startswith(expected)
    assert any(expected in record.getMessage() and record.levelname == "ERROR"
               for record in caplog.records)


# -- names -----------------------------------------------------------------------------------------
HOSTILE = ["../x", "..", ".", "", " ", "a/b", "a\\b", "x\x00y", "a b", "*", "a*", "?", "[ab]",
           "{p}", "a:b", "a'b", 'a"b', "' OR '1'='1", "'; DROP TABLE omniq_tasks; --", "a.>",
           ">", "-rf", ".hidden", "é", "a\nb", "$(touch pwned)", "`id`", "%2e%2e", "a" * 65]
URLS = {"sqlite": "sqlite:///{tmp}/omniq.db", "file": "file://{tmp}/store",
        "redis": "redis://127.0.0.1:6379/0", "postgres": "postgresql://postgres@127.0.0.1/test",
        "nats": "nats://127.0.0.1:4222"}


@pytest.mark.parametrize("kind", list(URLS))
def test_fuzzed_project_and_queue_names_are_refused_unless_plain(kind: str,
                                                                 tmp_path: Path) -> None:
    import re

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from omniq.exceptions import ConfigError

    url = URLS[kind].format(tmp=tmp_path)
    plain = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=70),
                     st.text(alphabet="./\\*?{}[]:'\"; >-_aZ0\x00", max_size=12)))
    def check(name: str) -> None:
        for options in ({"project_name": name}, {"project_name": "p", "queues": [name]}):
            try:
                client = AsyncOmniQ(task_queue=url, **options)
            except ConfigError as exc:
                assert "name" in str(exc) and "expected" in str(exc)
            else:
                # An empty project name is no name: the default project.
                assert plain.fullmatch(name) or (name == "" and client.project_name), \
                    f"{options} was accepted"

    check()


async def test_hostile_queue_and_schedule_names_store_nothing(engine: Engine) -> None:
    from omniq.exceptions import ConfigError

    async with engine.client() as oq:
        for name in [n for n in HOSTILE if n]:  # an empty name is no name: the default
            with pytest.raises(ConfigError, match="queue"):
                await oq.enqueue(target, "x", queue_name=name)
            with pytest.raises(ConfigError, match="schedule"):
                await oq.schedule(target, "x", interval=60, schedule_id=name)
        assert await oq.list_tasks() == [] and await oq.list_schedules() == []


async def test_hostile_task_ids_are_contained(engine: Engine, tmp_path: Path) -> None:
    import dataclasses

    from engines import drop
    from omniq.exceptions import ConfigError

    neighbour = dataclasses.replace(engine, project=engine.project + "n")
    outside = {p for p in tmp_path.parent.rglob("*")} - {p for p in tmp_path.rglob("*")}
    ids: dict[str, str] = {}
    try:
        async with engine.client() as oq, neighbour.client() as other:
            bystander = await other.enqueue(target, "bystander", task_id="*")
            for number, task_id in enumerate([*HOSTILE, "a" * 300, "t.x", "s.x", "*:*", "%"]):
                try:
                    ids[await oq.enqueue(target, f"tag{number}", task_id=task_id)] = \
                        f"tag{number}"
                except ConfigError:  # refused is fine too; stored under another name is not
                    continue
            for task_id in ids:
                task = await oq.get_task(task_id)
                assert task is not None and task.id == task_id
            assert await oq.task_queue.count_tasks() == len(ids)
            await _settle(oq, list(ids))
            for task_id, tag in ids.items():
                assert await oq.get_result(task_id, timeout=10) == tag, repr(task_id)
            untouched = await other.get_task(bystander)
            assert untouched is not None and untouched.status == TaskStatus.PENDING
            assert await other.task_queue.count_tasks() == 1
    finally:
        await drop(neighbour)
    assert len(ids) >= 10  # most are taken as they are (refusing one is fine too)
    assert {p for p in tmp_path.parent.rglob("*")} - {p for p in tmp_path.rglob("*")} \
        == outside  # nothing written beside the test's own directory


# -- passwords -------------------------------------------------------------------------------------
PASSWORD = "ZqX7-p@ss:w/rd%"  # needs percent-encoding in a URL
MARK = "ZqX7"  # in the password, raw or encoded, and nowhere else


def _addresses(kind: str, port: int) -> tuple[str, str, dict[str, Any]]:
    """A server's URL without the password, with it (percent-encoded), and as options."""
    from urllib.parse import quote

    user = {"redis": "", "postgres": "postgres", "nats": "omniq"}[kind]
    scheme, path = {"redis": ("redis", "/0"), "postgres": ("postgresql", "/test"),
                    "nats": ("nats", "")}[kind]
    bare = f"{scheme}://{user + '@' if user else ''}127.0.0.1:{port}{path}"
    with_password = f"{scheme}://{user}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}{path}"
    options: dict[str, Any] = {"url": f"{scheme}://127.0.0.1:{port}{path}", "password": PASSWORD}
    if user:
        options["user" if kind == "nats" else "username"] = user
    return bare, with_password, options


def _connection_forms(kind: str, port: int, project: str, monkeypatch: pytest.MonkeyPatch
                      ) -> dict[str, Callable[[], AsyncOmniQ]]:
    """Every way a password reaches a backend: builders of a client for each."""
    from urllib.parse import quote

    from omniq.plugins import resolve

    bare, with_password, options = _addresses(kind, port)
    queue_class = resolve("task_queue", kind)
    forms: dict[str, Callable[[], AsyncOmniQ]] = {
        "url (percent-encoded)": lambda: AsyncOmniQ(project_name=project,
                                                    task_queue=with_password),
        "password=": lambda: AsyncOmniQ(project_name=project, backend_type=kind, **options),
        "config dict": lambda: AsyncOmniQ.from_config_dict(
            {"project_name": project, "task_queue": {"type": kind, "config": options}}),
        "config struct": lambda: AsyncOmniQ(project_name=project, task_queue=(
            queue_class.from_config(queue_class.config_class(project_name=project,
                                                             **options)))),
        "env var": lambda: _from_env(monkeypatch, project, with_password),
    }
    if kind != "nats":  # a NATS URL has no query parameters
        forms["?password="] = lambda: AsyncOmniQ(project_name=project,
                                                 task_queue=f"{bare}?password="
                                                            f"{quote(PASSWORD, safe='')}")
    return forms


def _from_env(monkeypatch: pytest.MonkeyPatch, project: str, url: str) -> AsyncOmniQ:
    monkeypatch.setenv("OMNIQ_PROJECT_NAME", project)
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_URL", url)
    return AsyncOmniQ.from_env()


def _leaks(*texts: str) -> list[str]:
    return [text for text in texts if MARK in text]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis),
                        pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("nats", marks=pytest.mark.nats)])
def password_server(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """(kind, port) of a server that takes the password: a private Redis requiring it; the
    shared PostgreSQL (trust: a password is sent and ignored) and NATS (no auth)."""
    kind = request.param
    if kind != "redis":
        url = request.getfixturevalue({"postgres": "postgres_dsn", "nats": "nats_url"}[kind])
        yield kind, int(url.rsplit(":", 1)[1].split("/")[0])
        return
    from tasks_redis import RedisServer

    server = RedisServer(tmp_path, "--requirepass", PASSWORD)
    server.start()
    try:
        yield kind, server.port
    finally:
        server.stop()


@pytest.mark.parametrize("form", ["url (percent-encoded)", "password=", "?password=",
                                  "config dict", "config struct", "env var"])
async def test_no_password_in_logs_errors_or_reprs(
        password_server: tuple[str, int], form: str, project_name: str,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    import traceback

    from omniq.exceptions import OmniQError

    kind, port = password_server
    forms = _connection_forms(kind, port, project_name, monkeypatch)
    if form not in forms:
        pytest.skip(f"{kind} takes no {form}")
    caplog.set_level(logging.DEBUG)
    # And on "omniq" itself: an in-process `omniq` command of an earlier test set its level.
    caplog.set_level(logging.DEBUG, logger="omniq")
    texts: list[str] = []
    async with forms[form]() as oq:  # a live server, the password right (or not asked)
        await oq.start_worker("async", max_workers=2)
        task_id = await oq.enqueue(target, "fine")
        assert await oq.get_result(task_id, timeout=20) == "fine"
        await oq.stop_worker()
        texts += [repr(oq), str(oq), repr(oq.task_queue), str(oq.task_queue),
                  repr(oq.result_store), str(oq.result_store)]
    try:
        with pytest.raises(OmniQError) as caught:  # nobody listens there
            async with _connection_forms(kind, _closed_port(), project_name,
                                         monkeypatch)[form]() as down:
                await down.enqueue(target, "never")
        texts += [str(caught.value), repr(caught.value),
                  "".join(traceback.format_exception(caught.value))]
    finally:
        await _drop_project(kind, port, project_name)
    texts += [record.getMessage() + (record.exc_text or "") for record in caplog.records]
    assert any("started" in text for text in texts)  # the worker's start line was seen
    assert _leaks(*texts) == []


async def _drop_project(kind: str, port: int, project: str) -> None:
    if kind == "postgres":
        from test_postgres_conformance import drop_schema

        await drop_schema(f"postgresql://postgres@127.0.0.1:{port}/test", project)
    elif kind == "nats":
        from test_nats_conformance import drop_project_streams

        await drop_project_streams(f"nats://127.0.0.1:{port}", project)


def test_the_omniq_command_shows_no_password(password_server: tuple[str, int],
                                             project_name: str, tmp_path: Path) -> None:
    import asyncio
    import os
    import signal
    import subprocess
    import sys
    import time

    kind, port = password_server

    def url(at: int) -> str:
        return _addresses(kind, at)[1]

    command = [sys.executable, "-m", "omniq", "--log-level", "DEBUG"]
    output = tmp_path / "worker.out"
    with output.open("w") as sink:
        worker = subprocess.Popen([*command, "worker", "--url", url(port), "--project",
                                   project_name, "--grace", "1"],
                                  stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while "serving" not in output.read_text():
            assert worker.poll() is None, output.read_text()
            assert time.monotonic() < deadline, f"no start line: {output.read_text()}"
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
        asyncio.run(_drop_project(kind, port, project_name))
    lines = output.read_text()
    refused = subprocess.run([*command, "worker", "--url", url(_closed_port()), "--project",
                              project_name], capture_output=True, text=True, timeout=60)
    listed = subprocess.run([*command, "plugins"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "OMNIQ_TASK_QUEUE_URL": url(port)})
    assert refused.returncode != 0 and "error" in refused.stderr
    assert listed.returncode == 0 and "task_queue" in listed.stdout
    assert _leaks(lines, refused.stdout, refused.stderr, listed.stdout,
                  listed.stderr) == []
