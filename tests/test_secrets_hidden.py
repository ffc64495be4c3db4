"""No password shows in a repr or str, whatever form it came in."""

from __future__ import annotations

from typing import Any

import pytest
from omniq.plugins import resolve

SECRET = "s3cr%40t-Pw"
FORMS: list[dict[str, Any]] = [
    {"url": f"redis://app:{SECRET}@127.0.0.1:6379/0"},
    {"url": f"postgresql://app:{SECRET}@127.0.0.1:5432/test"},
    {"url": f"postgresql://127.0.0.1:5432/test?password={SECRET}"},
    {"url": f"nats://app:{SECRET}@127.0.0.1:4222"},
    {"password": SECRET},
]


@pytest.mark.parametrize("backend", ["redis", "postgres", "nats"])
@pytest.mark.parametrize("kind", ["task_queue", "result_store", "event_store", "backend"])
@pytest.mark.parametrize("form", FORMS, ids=["url", "pg-url", "query", "nats-url", "field"])
def test_config_structs_hide_passwords(backend: str, kind: str, form: dict[str, Any]) -> None:
    config_class = resolve(kind, backend).config_class
    settings = {k: v for k, v in form.items() if k in config_class.__struct_fields__}
    config = config_class(**settings)
    for text in (repr(config), str(config)):
        assert SECRET not in text and "s3cr" not in text, text


def test_storage_options_hide_their_secrets() -> None:
    config = resolve("task_queue", "file").config_class(
        url="s3://bucket/omniq", storage_options={"key": "AKIA", "secret": SECRET})
    assert SECRET not in repr(config) and "AKIA" not in repr(config)


def test_omniq_config_hides_passwords_in_component_options() -> None:
    from omniq.models import OmniQConfig, TaskQueueConfig

    config = OmniQConfig(task_queue=TaskQueueConfig(
        type="redis", url=f"redis://:{SECRET}@h:6379", config={"password": SECRET}))
    assert SECRET not in repr(config) and SECRET not in str(config)


@pytest.mark.parametrize("form", [
    {"url": f"postgresql://app:{SECRET}@127.0.0.1:5432/test"},
    {"dsn": f"postgresql://app@127.0.0.1:5432/test?password={SECRET}"},
    {"host": "127.0.0.1", "username": "app", "password": SECRET},
])
def test_postgres_connection_settings_hide_passwords(form: dict[str, Any]) -> None:
    from omniq_postgres._engine import settings_from

    options: dict[str, Any] = {"url": None, "dsn": None, "host": None, "port": None,
                               "username": None, "password": None, "database": None,
                               "min_size": 1, "max_size": 2, "connect_timeout": 5.0,
                               "server_settings": None}
    options.update(form)
    settings = settings_from(**options)
    for text in (repr(settings), str(settings)):
        assert SECRET not in text, text


def test_task_and_schedule_reprs_show_no_argument() -> None:
    from omniq import OmniQ
    from seed_tasks import add_numbers

    with OmniQ(project_name="p", backend_type="memory") as oq:
        task = oq.get_task(oq.enqueue(add_numbers, "tok-" + SECRET, 1))
        schedule = oq.get_schedule(oq.schedule(add_numbers, interval=60,
                                               func_args={"x": SECRET, "y": 1}))
    assert task is not None and schedule is not None
    for struct in (task, schedule):
        text = repr(struct)
        assert SECRET not in text and "s3cr" not in text, text
        assert f"payload=<{len(struct.payload)} bytes>" in text
        assert f"id={struct.id!r}" in text and "func_name='seed_tasks:add_numbers'" in text
        assert dict(struct.__rich_repr__())["payload"] == f"<{len(struct.payload)} bytes>"


@pytest.mark.parametrize("url", [f"redis://app:{SECRET}@127.0.0.1:6379/0",
                                 f"nats://app:{SECRET}@127.0.0.1:4222",
                                 f"postgresql://app:{SECRET}@127.0.0.1:5432/test"])
def test_client_repr_shows_where_each_store_is_without_the_password(url: str) -> None:
    from omniq import OmniQ

    oq = OmniQ(project_name="repr_probe", task_queue=url)  # not connected: nothing is opened
    text = repr(oq)
    assert SECRET not in text and "s3cr" not in text, text
    assert "project='repr_probe'" in text and "event_store=None" in text
    assert text.count("127.0.0.1") == 2, text  # the task queue and its result store


def test_component_repr_names_its_location(tmp_path: Any) -> None:
    from omniq import OmniQ

    oq = OmniQ(project_name="repr_probe", backend_type="sqlite",
               url=f"sqlite:///{tmp_path}/r.db")
    assert f"{tmp_path}/r.db project='repr_probe'" in repr(oq.task_queue)
    assert "in this process" in repr(OmniQ(project_name="p", backend_type="memory").task_queue)


def test_error_messages_hide_secrets_whoever_raised_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from omniq import OmniQ
    from omniq.exceptions import ConfigError

    # A misspelt password option, a URL of another engine's scheme, a URL missing its "://".
    with pytest.raises(ConfigError) as info:
        OmniQ(project_name="p", backend_type="redis", pasword=SECRET)
    assert "did you mean 'password'?" in str(info.value) and SECRET not in str(info.value)
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_TYPE", "sqlite")
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_URL", f"redis://:{SECRET}@127.0.0.1:6379/0")
    with pytest.raises(ConfigError, match="not an sqlite URL") as info:
        OmniQ.from_env()
    assert SECRET not in str(info.value)
    with pytest.raises(ConfigError, match="looks like a postgresql URL without its '://'") as info:
        OmniQ(project_name="p", task_queue=f"postgresql//app:{SECRET}@127.0.0.1/test")
    assert SECRET not in str(info.value) and "app:***@" in str(info.value)
    assert info.value.value != f"postgresql//app:{SECRET}@127.0.0.1/test"  # no directory made
