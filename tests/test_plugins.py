"""The plugin registry: discovery through entry points, lookups, errors, and the facade helper.

Fake plugins here are real distributions as far as ``importlib.metadata`` is concerned: a
package and a ``*.dist-info`` folder written into a temporary directory put on ``sys.path``.
(``test_third_party_plugin.py`` builds and installs one with pip.) None of these tests needs the
core's memory queue or workers to exist: the built-ins are checked as registry data.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import subprocess
import sys
import textwrap
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from omniq import plugins
from omniq._facade import facade_getattr
from omniq.exceptions import ConfigError, PluginNotFoundError
from omniq.plugins import _registry

# Our own plugin packages: tests that need one to be absent drop its entry point.
OUR_PLUGIN_MODULES = (
    "omniq_sqlite.",
    "omniq_postgres.",
    "omniq_redis.",
    "omniq_nats.",
    "omniq_fsspec.",
    "omniq_gevent.",
)

FAKE_QUEUE_PLUGIN = """
    from omniq.plugins import hookimpl

    @hookimpl
    def omniq_register_task_queues(register):
        register(
            "fakeq",
            "{pkg}.queue:AsyncFakeTaskQueue",
            aliases=["fake-queue"],
            schemes=["fakeq", "fakeqs"],
            exports=["FakeTaskQueue", "FakeTaskQueueConfig"],
        )
"""

FAKE_QUEUE_MODULE = """
    class AsyncFakeTaskQueue:
        pass

    class FakeTaskQueue:
        pass

    class FakeTaskQueueConfig:
        pass
"""

MakeDist = Callable[..., str]


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Write a distribution with an ``omniq`` entry point; returns its package name."""
    packages: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(dist: str, files: dict[str, str], *, version: str = "1.0") -> str:
        pkg = f"{dist.replace('-', '_')}_{len(packages)}_{id(tmp_path):x}"
        packages.append(pkg)
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
        for name, code in files.items():
            (tmp_path / pkg / name).write_text(textwrap.dedent(code.format(pkg=pkg)))
        info = tmp_path / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        info.joinpath("METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
        )
        info.joinpath("entry_points.txt").write_text(f"[omniq]\n{dist}-ep = {pkg}.plugin\n")
        importlib.invalidate_caches()
        return pkg

    yield make
    for name in list(sys.modules):
        if name.partition(".")[0] in packages:
            del sys.modules[name]


@pytest.fixture
def without_our_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide OmniQ's own plugin distributions, whichever of them this venv has installed."""
    original = _registry._entry_points

    def entry_points() -> list[importlib.metadata.EntryPoint]:
        return [ep for ep in original() if not ep.value.startswith(OUR_PLUGIN_MODULES)]

    monkeypatch.setattr(_registry, "_entry_points", entry_points)


def fake_queue(make_dist: MakeDist, dist: str = "omniq-fake") -> str:
    return make_dist(dist, {"plugin.py": FAKE_QUEUE_PLUGIN, "queue.py": FAKE_QUEUE_MODULE})


# -- the core's own registrations ----------------------------------------------------------------


def test_builtins_are_listed_with_distribution_omniq() -> None:
    core = {(t.kind, t.name): t for t in plugins.available() if t.distribution == "omniq"}
    assert set(core) >= {
        ("task_queue", "memory"),
        ("result_store", "memory"),
        ("event_store", "memory"),
        ("backend", "memory"),
        ("worker", "async"),
        ("worker", "thread_pool"),
        ("worker", "process_pool"),
    }
    assert core[("task_queue", "memory")].target == "omniq.queue.memory:AsyncMemoryTaskQueue"
    assert "MemoryTaskQueue" in core[("task_queue", "memory")].exports
    assert core[("worker", "thread_pool")].aliases == ("thread", "threads")
    assert core[("worker", "async")].version == importlib.metadata.version("omniq")


def test_available_is_sorted_by_kind_then_name() -> None:
    listed = [(plugins.KINDS.index(t.kind), t.name) for t in plugins.available()]
    assert listed == sorted(listed)


def test_lookup_by_alias_and_any_case_without_importing() -> None:
    assert plugins.lookup("worker", "THREADS").name == "thread_pool"
    assert plugins.lookup("worker", "Process").name == "process_pool"
    assert plugins.lookup("worker", "thread-pool").name == "thread_pool"


# -- resolving ------------------------------------------------------------------------------------


def test_resolve_by_name_alias_and_case(make_dist: MakeDist) -> None:
    pkg = fake_queue(make_dist)
    cls = plugins.resolve("task_queue", "fakeq")
    assert cls.__module__ == f"{pkg}.queue" and cls.__name__ == "AsyncFakeTaskQueue"
    assert plugins.resolve("task_queue", "FAKEQ") is cls
    assert plugins.resolve("task_queue", "Fake_Queue") is cls
    assert plugins.split_type("task_queue", "Fake-Queue") == ("fakeq", None)


def test_class_module_is_imported_only_when_resolved(make_dist: MakeDist) -> None:
    pkg = fake_queue(make_dist)
    [fake] = [t for t in plugins.available() if t.name == "fakeq"]
    assert fake.distribution == "omniq-fake" and fake.version == "1.0"
    plugins.lookup("task_queue", "fake-queue")
    assert f"{pkg}.plugin" in sys.modules
    assert f"{pkg}.queue" not in sys.modules
    plugins.resolve("task_queue", "fakeq")
    assert f"{pkg}.queue" in sys.modules


OUR_PACKAGES = ["omniq_sqlite", "omniq_postgres", "omniq_redis", "omniq_nats", "omniq_fsspec",
                "omniq_dashboard"]


def test_loading_our_plugins_imports_none_of_their_classes_or_drivers() -> None:
    # Each entry point module sits in its plugin's package, so the registry runs every
    # package's __init__: a program on the memory backend must not pay for the others.
    code = textwrap.dedent("""
        import sys
        from omniq import OmniQ
        OmniQ(project_name="light")
        print(sorted(m for m in sys.modules if m.partition(".")[0] in
                     {"redis", "nats", "aiohttp", "asyncpg", "fsspec", "starlette"}
                     or m.endswith((".queue", ".backend", ".app")) and m.startswith("omniq_")))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout
    assert {t.distribution for t in plugins.available()} >= {"omniq-sqlite", "omniq-redis"}


@pytest.mark.parametrize("package", OUR_PACKAGES)
def test_every_public_name_of_our_plugin_packages_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        module.Nope  # noqa: B018


@pytest.mark.usefixtures("without_our_plugins")
def test_unknown_name_of_ours_lists_installed_and_gives_pip_hint() -> None:
    with pytest.raises(PluginNotFoundError) as caught:
        plugins.resolve("task_queue", "redis")
    message = str(caught.value)
    assert "installed task queue types: memory" in message
    assert 'pip install omniq-redis' in message
    assert isinstance(caught.value, LookupError)

    with pytest.raises(PluginNotFoundError, match=r"pip install omniq-gevent"):
        plugins.resolve("worker", "gevent")
    with pytest.raises(PluginNotFoundError, match=r"pip install omniq-postgres"):
        plugins.resolve("event_store", "PostgreSQL")


def test_unknown_name_not_ours_says_no_plugin_provides_it() -> None:
    with pytest.raises(PluginNotFoundError) as caught:
        plugins.resolve("worker", "redis")  # omniq-redis has no worker
    message = str(caught.value)
    assert "no installed plugin provides a worker named 'redis'" in message
    assert "thread_pool (thread, threads)" in message
    assert "pip install" not in message


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="kind"):
        plugins.resolve("queue", "memory")


def test_missing_driver_is_plugin_not_found_with_import_error_chained(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A distribution named like ours whose class module needs a driver that is not installed.
    plugin = """
        from omniq.plugins import hookimpl

        @hookimpl
        def omniq_register_result_stores(register):
            register("redis", "{pkg}.results:AsyncRedisResultStore")
    """
    results = "import omniq_no_such_driver_xyz\n"
    original = _registry._entry_points
    monkeypatch.setattr(
        _registry,
        "_entry_points",
        lambda: [ep for ep in original() if not ep.value.startswith("omniq_redis.")],
    )
    make_dist("omniq-redis", {"plugin.py": plugin, "results.py": results})
    with pytest.raises(PluginNotFoundError) as caught:
        plugins.resolve("result_store", "redis")
    assert isinstance(caught.value.__cause__, ImportError)
    assert "omniq_no_such_driver_xyz" in str(caught.value)
    assert 'pip install omniq-redis' in str(caught.value)


def test_missing_class_of_third_party_names_its_distribution(make_dist: MakeDist) -> None:
    plugin = """
        from omniq.plugins import hookimpl

        @hookimpl
        def omniq_register_workers(register):
            register("ghost", "{pkg}.plugin:NoSuchWorker")
    """
    make_dist("omniq-ghost", {"plugin.py": plugin}, version="3.2")
    with pytest.raises(PluginNotFoundError, match="omniq-ghost 3.2") as caught:
        plugins.resolve("worker", "ghost")
    assert isinstance(caught.value.__cause__, AttributeError)


# -- URLs -----------------------------------------------------------------------------------------


def test_resolve_url_by_scheme(make_dist: MakeDist) -> None:
    fake_queue(make_dist)
    cls = plugins.resolve("task_queue", "fakeq")
    assert plugins.resolve_url("task_queue", "fakeq://user:pw@host:1/0") is cls
    assert plugins.resolve_url("task_queue", "FAKEQS://host") is cls
    assert plugins.resolve_url("task_queue", "fakeq+tls://host") is cls
    assert plugins.split_type("task_queue", "fakeq://host/0") == ("fakeq", "fakeq://host/0")


@pytest.mark.usefixtures("without_our_plugins")
def test_unknown_scheme_redacts_the_password_and_hints() -> None:
    with pytest.raises(PluginNotFoundError) as caught:
        plugins.resolve_url("task_queue", "redis://app:hunter2@db.internal:6379/0")
    message = str(caught.value)
    assert "hunter2" not in message
    assert "redis://app:***@db.internal:6379/0" in message
    assert 'pip install omniq-redis' in message

    # A plain path is a `file` URL; s3:// needs the cloud extra.
    with pytest.raises(PluginNotFoundError, match=r"pip install omniq-fsspec"):
        plugins.split_type("result_store", "/var/lib/omniq")
    with pytest.raises(PluginNotFoundError, match=r'pip install "omniq-fsspec\[s3,gcs,azure\]"'):
        plugins.resolve_url("event_store", "s3://bucket/prefix")


# -- exports and the facade ------------------------------------------------------------------------


def test_find_export_by_target_or_export_name(make_dist: MakeDist) -> None:
    pkg = fake_queue(make_dist)
    assert plugins.find_export("AsyncFakeTaskQueue") is plugins.resolve("task_queue", "fakeq")
    config = plugins.find_export("FakeTaskQueueConfig")
    assert config.__module__ == f"{pkg}.queue" and config.__name__ == "FakeTaskQueueConfig"


@pytest.mark.usefixtures("without_our_plugins")
@pytest.mark.parametrize(
    ("name", "distribution"),
    [
        ("SQLiteTaskQueue", "omniq-sqlite"),
        ("PostgreSQLTaskQueue", "omniq-postgres"),
        ("PostgresEventStore", "omniq-postgres"),
        ("AsyncRedisQueue", "omniq-redis"),
        ("NATSTaskQueue", "omniq-nats"),
        ("FileTaskQueueConfig", "omniq-fsspec"),
        ("GeventWorker", "omniq-gevent"),
    ],
)
def test_find_export_hint_from_name_prefix(name: str, distribution: str) -> None:
    with pytest.raises(PluginNotFoundError, match=rf"pip install {distribution} .*"
                       rf"pip install -e \./{distribution}\)"):
        plugins.find_export(name)


def test_find_export_unknown_name() -> None:
    with pytest.raises(PluginNotFoundError, match="no installed OmniQ plugin exports it"):
        plugins.find_export("AcmeThing")


@pytest.fixture
def facade(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("omniq_test_facade")
    module.__getattr__ = facade_getattr(module.__name__, module.__dict__)  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def test_facade_resolves_and_caches_exports(make_dist: MakeDist, facade: types.ModuleType) -> None:
    pkg = fake_queue(make_dist)
    from omniq_test_facade import FakeTaskQueue  # type: ignore[import-not-found]

    assert FakeTaskQueue.__module__ == f"{pkg}.queue"
    assert facade.__dict__["FakeTaskQueue"] is FakeTaskQueue


@pytest.mark.usefixtures("without_our_plugins")
def test_facade_import_of_missing_plugin_class_shows_the_hint(facade: types.ModuleType) -> None:
    with pytest.raises(PluginNotFoundError, match=r"pip install omniq-sqlite"):
        from omniq_test_facade import SQLiteTaskQueue  # type: ignore[import-not-found] # noqa: F401


def test_facade_raises_attribute_error_for_non_class_names(facade: types.ModuleType) -> None:
    # Dunders, private and lower-case names never load the plugins: hasattr, copy and pickle
    # probe modules for such names and expect a plain AttributeError.
    for name in ("__wrapped__", "__path__", "_private", "helper", "DEFAULT_QUEUE"):
        assert not hasattr(facade, name)
    assert _registry._state is None
    # An unknown class name that is not one of ours is an AttributeError too ...
    assert not hasattr(facade, "AcmeThing")
    with pytest.raises(ImportError, match="cannot import name"):
        from omniq_test_facade import AcmeThing  # type: ignore[import-not-found] # noqa: F401


# -- loading --------------------------------------------------------------------------------------


def test_broken_entry_point_is_logged_and_skipped(
    make_dist: MakeDist, caplog: pytest.LogCaptureFixture
) -> None:
    make_dist("omniq-broken", {"plugin.py": "import omniq_missing_dependency_xyz\n"}, version="0.3")
    fake_queue(make_dist)
    with caplog.at_level(logging.WARNING, logger="omniq.plugins"):
        names = {(t.kind, t.name) for t in plugins.available()}
    assert ("task_queue", "memory") in names
    assert ("task_queue", "fakeq") in names  # the other third-party plugin still loads
    [record] = [r for r in caplog.records if r.name == "omniq.plugins"]
    assert record.levelno == logging.WARNING
    assert "omniq-broken 0.3" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is ModuleNotFoundError


def test_a_type_not_found_names_the_plugin_that_failed_to_import(make_dist: MakeDist) -> None:
    # The type asked for may be the broken plugin's: "not installed" alone would mislead.
    make_dist("omniq-broken", {"plugin.py": "import omniq_missing_dependency_xyz\n"},
              version="0.3")
    with pytest.raises(PluginNotFoundError) as info:
        plugins.resolve("task_queue", "brokenq")
    assert "note: omniq-broken 0.3 (entry point omniq-broken-ep = " in str(info.value)
    assert "failed to import (ModuleNotFoundError: No module named " \
           "'omniq_missing_dependency_xyz')" in str(info.value)


def test_a_type_not_found_names_an_entry_point_in_another_group(tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "omniq_astray-1.0.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text("Metadata-Version: 2.1\nName: omniq-astray\n"
                                         "Version: 1.0\n")
    info.joinpath("entry_points.txt").write_text("[omniq.plugins]\nastray = omniq_astray.p\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(PluginNotFoundError) as error:
        plugins.resolve("task_queue", "astray")
    assert "omniq-astray declares astray = omniq_astray.p in the entry point group " \
           "'omniq.plugins', which OmniQ does not read (it reads 'omniq')" in str(error.value)


def test_same_name_from_two_distributions_is_an_error_naming_both(make_dist: MakeDist) -> None:
    fake_queue(make_dist, "omniq-first")
    fake_queue(make_dist, "omniq-second")
    with pytest.raises(ConfigError) as caught:
        plugins.available()
    message = str(caught.value)
    assert "'fakeq'" in message and "omniq-first 1.0" in message and "omniq-second 1.0" in message


def test_alias_clashing_with_another_name_is_an_error(make_dist: MakeDist) -> None:
    plugin = """
        from omniq.plugins import hookimpl

        @hookimpl
        def omniq_register_workers(register):
            register("turbo", "{pkg}.plugin:Turbo", aliases=["Thread"])
    """
    make_dist("omniq-turbo", {"plugin.py": plugin})
    with pytest.raises(ConfigError, match=r"worker type name 'Thread'.*omniq 2026.*omniq-turbo"):
        plugins.available()


def test_misspelled_hookimpl_fails_at_load(make_dist: MakeDist) -> None:
    plugin = """
        from omniq.plugins import hookimpl

        @hookimpl
        def omniq_register_task_queue(register):
            register("typo", "x:Y")
    """
    make_dist("omniq-typo", {"plugin.py": plugin})
    with pytest.raises(ConfigError, match=r"omniq_register_task_queue.*omniq-typo"):
        plugins.available()


def test_register_rejects_a_bare_string_for_a_list(make_dist: MakeDist) -> None:
    plugin = """
        from omniq.plugins import hookimpl

        @hookimpl
        def omniq_register_workers(register):
            register("solo", "{pkg}.plugin:Solo", aliases="single")
    """
    make_dist("omniq-solo", {"plugin.py": plugin})
    with pytest.raises(ConfigError, match=r"aliases.*omniq-solo"):
        plugins.available()


def test_plugins_load_once_and_reset_reloads(make_dist: MakeDist) -> None:
    plugin = """
        import threading
        from omniq.plugins import hookimpl

        calls = []

        @hookimpl
        def omniq_register_workers(register):
            calls.append(threading.get_ident())
            register("counted", "{pkg}.plugin:Counted")
    """
    pkg = make_dist("omniq-counted", {"plugin.py": plugin})
    barrier = threading.Barrier(8)

    def first_use() -> None:
        barrier.wait()
        plugins.available()

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    calls = sys.modules[f"{pkg}.plugin"].calls
    assert len(calls) == 1

    plugins.available()
    assert len(calls) == 1
    plugins.reset()
    plugins.available()
    assert len(calls) == 2


BUNDLE_PLUGIN = """
    from omniq.plugins import hookimpl

    @hookimpl
    def omniq_register_backends(register):
        register("bundled", "{pkg}.backend:AsyncBundledBackend")
"""

BUNDLE_MODULE = """
    from omniq.backend import AsyncBackend
    from omniq.queue.memory import AsyncMemoryTaskQueue
    from omniq.storage.memory import AsyncMemoryEventStore, AsyncMemoryResultStore


    class AsyncBundledBackend(AsyncBackend):  # no __init__: **settings, as the plugin page's
        task_queue_class = AsyncMemoryTaskQueue
        result_store_class = AsyncMemoryResultStore
        event_store_class = AsyncMemoryEventStore
"""


def test_a_bundle_passing_its_settings_on_has_them_checked_with_their_line(
        make_dist: MakeDist, tmp_path: Path) -> None:
    # Its **settings took anything: a typo was caught by a component later, named as a
    # top-level option of OmniQ, with no line.
    from omniq import OmniQ

    make_dist("omniq-bundled", {"plugin.py": BUNDLE_PLUGIN, "backend.py": BUNDLE_MODULE})
    config = tmp_path / "omniq.yaml"
    config.write_text("project_name: p\ntask_queue:\n  type: bundled\n  config:\n"
                      "    queus: [a]\n")
    with pytest.raises(ConfigError) as info:
        OmniQ.from_config_file(config)
    assert info.value.field == "task_queue.config.queus"
    assert "line 5" in str(info.value) and "the bundled backend" in str(info.value)
    config.write_text("project_name: p\ntask_queue:\n  type: bundled\n  config:\n"
                      "    queues: [a]\n")
    with OmniQ.from_config_file(config) as oq:
        assert oq.task_queue.queues == ["a", "default"]
