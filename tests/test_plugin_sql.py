"""Where the SQL and the helpers of the SQL plugins live: each plugin owns its schema and
statements (``sql/*.sql``), the core holds no engine SQL, and plugins use only the core's
public modules (``omniq.clock``, ``omniq.etas`` for what backends share)."""

from __future__ import annotations

import importlib.util
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import omniq.clock
import omniq.etas
import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ("omniq_sqlite", "omniq_postgres", "omniq_redis")
# omniq._sync is being replaced by a public mechanism in its own change; everything else
# private is off limits.
_PRIVATE_IMPORT = re.compile(r"^\s*(?:from|import)\s+omniq\.(?!_sync\b)(?:[a-z_]+\.)*_\w+",
                             re.MULTILINE)


_SQL = re.compile(r"CREATE TABLE|INSERT INTO|(?:FROM|UPDATE|JOIN)\s+omniq_\w+")


def test_the_core_holds_no_engine_sql() -> None:
    assert importlib.util.find_spec("omniq._sql") is None
    core = ROOT / "omniq-core" / "src" / "omniq"
    assert not list(core.rglob("*.sql"))
    for source in core.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        # Statements or table names in SQL position (metric names such as omniq_tasks_failed
        # are not SQL).
        assert not _SQL.search(text), source


@pytest.mark.parametrize("package", PLUGINS)
def test_plugins_import_no_private_core_module(package: str) -> None:
    source_dir = ROOT / package.replace("_", "-") / "src" / package
    offending = [f"{path.name}: {m.group(0).strip()}" for path in source_dir.rglob("*.py")
                 for m in _PRIVATE_IMPORT.finditer(path.read_text(encoding="utf-8"))]
    assert offending == []


@pytest.mark.parametrize("package", ["omniq_sqlite", "omniq_postgres"])
def test_every_sql_file_opens_with_a_header_comment(package: str) -> None:
    files = [f for f in resources.files(package).joinpath("sql").iterdir()
             if f.name.endswith(".sql")]
    assert {f"{c}_v1.sql" for c in ("tasks", "results", "events")} <= {f.name for f in files}
    for file in files:
        header = file.read_text(encoding="utf-8").split("\n\n", 1)[0].splitlines()
        assert len(header) >= 2 and all(line.startswith("--") for line in header), file.name


@pytest.mark.parametrize("package", ["omniq_sqlite", "omniq_postgres"])
def test_sql_plugins_never_import_each_other(package: str) -> None:
    other = {"omniq_sqlite": "omniq_postgres", "omniq_postgres": "omniq_sqlite"}[package]
    source_dir = ROOT / package.replace("_", "-") / "src" / package
    assert not [p for p in source_dir.rglob("*.py") if other in p.read_text(encoding="utf-8")]


def test_clock_converts_instants_both_ways() -> None:
    assert omniq.clock.__all__ == ["from_epoch", "parse_moment", "to_epoch", "utcnow"]
    now = omniq.clock.utcnow()
    assert now.tzinfo is UTC
    moment = datetime(2026, 12, 5, 21, 30, 0, 250_000, tzinfo=timezone(timedelta(hours=2)))
    seconds = omniq.clock.to_epoch(moment)
    assert seconds == moment.timestamp()
    back = omniq.clock.from_epoch(seconds)
    assert back == moment and back is not None and back.tzinfo is UTC
    assert omniq.clock.to_epoch(None) is None and omniq.clock.from_epoch(None) is None


def test_clock_reads_times_as_people_write_them() -> None:
    parse = omniq.clock.parse_moment
    assert parse("2026-12-05 10:00") == datetime(2026, 12, 5, 10, tzinfo=UTC)  # no offset: UTC
    assert parse("2026-12-05T10:00:00+01:00") == datetime(2026, 12, 5, 9, tzinfo=UTC)
    ago = omniq.clock.utcnow() - parse("90s")
    assert timedelta(seconds=89) < ago < timedelta(seconds=92)
    assert timedelta(days=2) < omniq.clock.utcnow() - parse("2.5d") < timedelta(days=3)
    with pytest.raises(ValueError, match="'yesterday' is not a time: .* 15m, 2h, 7d"):
        parse("yesterday")


def test_etas_give_the_earliest_still_ahead() -> None:
    assert omniq.etas.__all__ == ["Etas"]
    etas = omniq.etas.Etas(per_key=2)
    now = time.time()
    etas.add("a", now - 1)  # already passed: forgotten
    etas.add("a", now + 50)
    etas.add("b", now + 20)
    etas.add("b", now + 30)
    etas.add("b", now + 40)  # beyond per_key: dropped, the worker's periodic look finds it
    assert etas.next(["a", "b"]) == now + 20
    assert etas.next(["a"]) == now + 50
    assert etas.next(["c"]) is None
