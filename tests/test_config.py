"""Configuration: settings and their OMNIQ_* overrides, config structs, YAML files, the
environment loader, name validation, URL redaction and library logging."""

from __future__ import annotations

import dataclasses
import logging
import os
import string
from pathlib import Path

import msgspec
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from omniq import OmniQ
from omniq.config import (
    Settings,
    config_from_env,
    configure_logging,
    get_setting,
    get_settings,
    load_config_file,
    parse_config,
    parse_env_value,
    redact_url,
    settings,
    validate_name,
)
from omniq.config._env import SPECS
from omniq.config._logging import DISABLED_LEVEL
from omniq.exceptions import ConfigError
from omniq.models._config import (
    ComponentConfig,
    EventStoreConfig,
    OmniQConfig,
    ResultStoreConfig,
    TaskQueueConfig,
    WorkerConfig,
)

SEED_001_YAML = """\
project_name: my_project
task_queue:
  type: file
  config:
    base_dir: some/path
    queues:
      - high
      - medium
      - low

result_store:
  type: sqlite
  config:
    base_dir: some/path

event_store:
  type: postgres
  config:
    host: localhost
    port: 5432
    username: postgres
    password: secret

worker:
  type: thread_pool
  config:
    max_workers: 10
"""

SEED_004_YAML = """\
project_name: config_example
task_queue:
  type: sqlite
  config:
    queues:
      - high
      - medium
      - low
result_store:
  type: sqlite
event_store:
  type: sqlite
worker:
  type: thread_pool
  config:
    max_workers: 4
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OMNIQ_* variable from the developer's shell may leak into a test."""
    for name in list(os.environ):
        if name.startswith("OMNIQ_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "omniq.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- settings and get_setting ---------------------------------------------------------------


def test_every_setting_constant_has_a_spec_and_documented_defaults() -> None:
    assert set(settings.NAMES) == set(SPECS)
    assert settings.PROJECT_NAME == "default"
    assert settings.BASE_DIR == ".omniq"
    assert settings.LOG_LEVEL == "WARNING"
    assert settings.DISABLE_LOGGING is False
    assert settings.TASK_QUEUE_TYPE == "memory"
    assert settings.RESULT_STORAGE_TYPE is None
    assert settings.EVENT_STORAGE_TYPE is None
    assert settings.DEFAULT_WORKER == "async"
    assert settings.MAX_WORKERS == 10
    assert (os.cpu_count() or 1) == settings.PROCESS_WORKERS
    assert settings.EVENT_RETENTION == 7 * 24 * 3600
    assert settings.LEASE_SECONDS == 30.0
    assert settings.MAX_DELIVERIES == 5


def test_unset_and_empty_variables_give_the_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_setting("MAX_WORKERS") == 10
    monkeypatch.setenv("OMNIQ_MAX_WORKERS", "  ")
    assert get_setting("MAX_WORKERS") == 10


CONVERSIONS = [
    ("PROJECT_NAME", "my_project", "my_project"),
    ("BASE_DIR", "/var/lib/omniq", "/var/lib/omniq"),
    ("LOG_LEVEL", "debug", "DEBUG"),
    ("LOG_LEVEL", "warn", "WARNING"),
    ("LOG_LEVEL", "DISABLED", "DISABLED"),
    ("LOG_LEVEL", "15", "15"),
    ("DISABLE_LOGGING", "1", True),
    ("DISABLE_LOGGING", "0", False),
    ("DISABLE_LOGGING", "TRUE", True),
    ("DISABLE_LOGGING", "false", False),
    ("DISABLE_LOGGING", "yes", True),
    ("DISABLE_LOGGING", "No", False),
    ("DISABLE_LOGGING", "on", True),
    ("DISABLE_LOGGING", "off", False),
    (
        "COMPONENT_LOG_LEVELS",
        '{"omniq.worker": "debug", "omniq.queue": "ERROR"}',
        {"omniq.worker": "DEBUG", "omniq.queue": "ERROR"},
    ),
    ("TASK_QUEUE_TYPE", "redis", "redis"),
    ("TASK_QUEUE_URL", "redis://localhost:6379/0", "redis://localhost:6379/0"),
    ("TASK_QUEUE_URL", "none", None),
    ("RESULT_STORAGE_TYPE", "sqlite", "sqlite"),
    ("RESULT_STORAGE_TYPE", "NULL", None),
    ("RESULT_STORAGE_URL", "sqlite:///results.db", "sqlite:///results.db"),
    ("EVENT_STORAGE_TYPE", "postgres", "postgres"),
    ("EVENT_STORAGE_URL", "postgresql://localhost/test", "postgresql://localhost/test"),
    ("FSSPEC_URI", "memory://", "memory://"),
    ("QUEUES", "high, medium,low", ["high", "medium", "low"]),
    ("DEFAULT_WORKER", "thread_pool", "thread_pool"),
    ("MAX_WORKERS", "4", 4),
    ("THREAD_WORKERS", "+8", 8),
    ("PROCESS_WORKERS", "3", 3),
    ("GEVENT_WORKERS", "500", 500),
    ("TASK_TIMEOUT", "2.5", 2.5),
    ("TASK_TIMEOUT", "none", None),
    ("TASK_TTL", "3600", 3600.0),
    ("RETRY_ATTEMPTS", "0", 0),
    ("RETRY_ATTEMPTS", "3", 3),
    ("RETRY_DELAY", "0", 0.0),
    ("RETRY_DELAY", "1e-1", 0.1),
    ("RESULT_TTL", "60", 60.0),
    ("RESULT_TTL", "None", None),
    ("LEASE_SECONDS", "12.5", 12.5),
    ("POLL_INTERVAL", ".25", 0.25),
    ("WORKER_HEARTBEAT", "2.5", 2.5),
    ("MAX_DELIVERIES", "2", 2),
    ("EVENT_RETENTION", "86400", 86400.0),
    ("EVENT_RETENTION", "none", None),
    ("SECRET_KEY", "k" * 32, "k" * 32),
    ("METRICS", "true", True),
    ("METRICS_PORT", "9100", 9100),
    ("METRICS_PORT", "none", None),
    ("METRICS_HOST", "0.0.0.0", "0.0.0.0"),
    ("TRACING", "on", True),
]


def test_conversion_table_covers_every_setting() -> None:
    assert {name for name, _, _ in CONVERSIONS} == set(SPECS)


@pytest.mark.parametrize(("name", "raw", "expected"), CONVERSIONS)
def test_environment_overrides_are_converted_to_the_setting_type(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, expected: object
) -> None:
    monkeypatch.setenv(f"OMNIQ_{name}", raw)
    value = get_setting(name)
    assert value == expected
    assert type(value) is type(expected)
    assert get_setting(name.lower()) == expected  # names are case-insensitive


BAD_VALUES = [
    ("MAX_WORKERS", "ten", "integer >= 1"),
    ("MAX_WORKERS", "0", "integer >= 1"),
    ("MAX_WORKERS", "1.5", "integer >= 1"),
    ("RETRY_ATTEMPTS", "-1", "integer >= 0"),
    ("MAX_DELIVERIES", "0", "integer >= 1"),
    ("DISABLE_LOGGING", "maybe", "boolean"),
    ("METRICS_PORT", "http", "TCP port"),
    ("TRACING", "sometimes", "boolean"),
    ("TASK_TIMEOUT", "soon", "seconds > 0"),
    ("TASK_TIMEOUT", "-1", "seconds > 0"),
    ("TASK_TIMEOUT", "inf", "seconds > 0"),
    ("TASK_TIMEOUT", "nan", "seconds > 0"),
    ("RESULT_TTL", "0", "seconds > 0"),
    ("LEASE_SECONDS", "none", "seconds > 0"),  # not None-able
    ("RETRY_DELAY", "-0.5", "seconds >= 0"),
    ("LOG_LEVEL", "LOUD", "DEBUG"),
    ("COMPONENT_LOG_LEVELS", "omniq.worker=DEBUG", "JSON object"),
    ("COMPONENT_LOG_LEVELS", '["DEBUG"]', "JSON object"),
    ("COMPONENT_LOG_LEVELS", '{"omniq.worker": "LOUD"}', "JSON object"),
    ("QUEUES", "high,a/b", "queue names"),
    ("QUEUES", "high,,low", "queue names"),
    ("PROJECT_NAME", "my project", "project name"),
    ("TASK_QUEUE_TYPE", "re dis", "type name"),
    ("DEFAULT_WORKER", "thread pool", "worker type"),
]


@pytest.mark.parametrize(("name", "raw", "expected"), BAD_VALUES)
def test_bad_environment_values_raise_config_error_naming_var_value_and_expected(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, expected: str
) -> None:
    monkeypatch.setenv(f"OMNIQ_{name}", raw)
    with pytest.raises(ConfigError) as info:
        get_setting(name)
    err = info.value
    assert err.field == f"OMNIQ_{name}"
    assert err.value == raw
    assert err.expected is not None and expected in err.expected
    assert f"OMNIQ_{name}" in str(err) and repr(raw) in str(err)


def test_unknown_setting_name_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="MAX_WORKERS") as info:
        get_setting("MAX_WROKERS")
    assert info.value.value == "MAX_WROKERS"


def test_environment_is_read_at_call_time_and_wins_over_assigned_constants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "MAX_WORKERS", 3)
    assert get_setting("MAX_WORKERS") == 3
    monkeypatch.setenv("OMNIQ_MAX_WORKERS", "7")
    assert get_setting("MAX_WORKERS") == 7
    monkeypatch.delenv("OMNIQ_MAX_WORKERS")
    assert get_setting("MAX_WORKERS") == 3


def test_mutable_defaults_are_returned_as_copies() -> None:
    get_setting("QUEUES").append("mutated")
    get_setting("COMPONENT_LOG_LEVELS")["omniq"] = "DEBUG"
    assert settings.QUEUES == ["default"]
    assert settings.COMPONENT_LOG_LEVELS == {}


def test_get_settings_is_a_frozen_snapshot_that_hides_the_secret_key() -> None:
    snap = get_settings({"OMNIQ_MAX_WORKERS": "2", "OMNIQ_SECRET_KEY": "hunter2-key"})
    assert isinstance(snap, Settings)
    assert snap.max_workers == 2 and snap.secret_key == "hunter2-key"
    assert {f.name.upper() for f in dataclasses.fields(snap)} == set(SPECS)
    assert "hunter2-key" not in repr(snap)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.max_workers = 3  # type: ignore[misc]


# -- config structs ---------------------------------------------------------------------------


def test_omniq_config_defaults_and_project_name_from_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert OmniQConfig().project_name == "default"
    monkeypatch.setenv("OMNIQ_PROJECT_NAME", "from_env")
    config = OmniQConfig()
    assert config.project_name == "from_env"
    assert config.task_queue is None and config.worker is None and config.queues is None
    assert config.to_dict() == {"project_name": "from_env"}


def test_component_aliases_are_component_configs() -> None:
    for cls in (TaskQueueConfig, ResultStoreConfig, EventStoreConfig):
        assert issubclass(cls, ComponentConfig)
        assert cls().config == {} and cls().type is None and cls().url is None
    assert WorkerConfig(type="async").config == {}


def test_direct_construction_validates_names() -> None:
    with pytest.raises(ConfigError) as info:
        OmniQConfig(project_name="p", queues=["ok", "not ok"])
    assert info.value.field == "queues[1]" and info.value.value == "not ok"
    with pytest.raises(ConfigError, match="project"):
        OmniQConfig(project_name="../etc")
    with pytest.raises(ConfigError, match="type"):
        TaskQueueConfig(type="red is")


def test_repr_hides_secrets_and_url_passwords() -> None:
    config = OmniQConfig(
        project_name="p",
        secret_key="topsecretkey",
        event_store=EventStoreConfig(
            url="postgresql://app:pgpass123@db/x", config={"password": "pw0rd99", "port": 5432}
        ),
    )
    text = repr(config)
    assert "topsecretkey" not in text and "pgpass123" not in text and "pw0rd99" not in text
    assert "postgresql://app:***@db/x" in text and "5432" in text


# -- parse_config -----------------------------------------------------------------------------


def test_parse_config_accepts_the_seed_004_dictionary() -> None:
    config = parse_config(
        {
            "project_name": "my_project",
            "task_queue": {"type": "sqlite", "config": {"queues": ["high", "medium", "low"]}},
        }
    )
    assert config == OmniQConfig(
        project_name="my_project",
        task_queue=TaskQueueConfig(type="sqlite", config={"queues": ["high", "medium", "low"]}),
    )


def test_seed_storage_spellings_are_normalized_and_shorthands_accepted() -> None:
    config = parse_config(
        {
            "result_storage": {"type": "sqlite"},
            "event_storage": "postgresql://localhost/test",
            "task_queue": "redis",
        }
    )
    assert config.result_store == ResultStoreConfig(type="sqlite")
    assert config.event_store == EventStoreConfig(url="postgresql://localhost/test")
    assert config.task_queue == TaskQueueConfig(type="redis")
    assert parse_config({"worker": "thread_pool"}).worker == WorkerConfig(type="thread_pool")
    with pytest.raises(ConfigError, match="given twice"):
        parse_config({"result_store": {"type": "a"}, "result_storage": {"type": "b"}})


def test_unknown_top_level_key_lists_the_known_keys() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"project_name": "p", "task_queues": {}}, source="cfg.yaml")
    message = str(info.value)
    assert "'task_queues'" in message and "cfg.yaml" in message
    for known in ("task_queue", "result_store", "event_store", "worker", "queues"):
        assert known in message


def test_nested_errors_name_the_field_path_value_expected_and_source() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"task_queue": {"type": "sqlite", "config": ["queues"]}}, source="a.yaml")
    err = info.value
    assert err.field == "$.task_queue.config"
    assert err.value == ["queues"]
    assert err.expected == "object | null" or err.expected == "object"
    assert err.source == "a.yaml"

    with pytest.raises(ConfigError) as info:
        parse_config({"worker": {"type": "async", "max_workers": 4}})
    assert info.value.field == "$.worker.max_workers"
    assert "type, config" in str(info.value)

    with pytest.raises(ConfigError) as info:
        parse_config({"queues": ["high", 3]})
    assert info.value.field == "$.queues[1]" and info.value.value == 3

    with pytest.raises(ConfigError) as info:
        parse_config({"project_name": "a:b"})
    assert info.value.field == "$.project_name" and info.value.value == "a:b"


def test_a_non_mapping_is_rejected() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        parse_config(["project_name"])  # type: ignore[arg-type]


_names = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=20)
_options = st.dictionaries(
    _names, st.one_of(st.integers(), st.booleans(), st.text(max_size=10), st.lists(_names))
)
_component = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["sqlite", "redis", "postgres", "file", "memory"]),
        "url": st.sampled_from(["redis://localhost", "sqlite:///x.db"]),
        "config": _options,
    },
)


@given(
    st.fixed_dictionaries(
        {"project_name": _names},
        optional={
            "task_queue": _component,
            "result_store": _component,
            "event_store": _component,
            "worker": st.fixed_dictionaries(
                {}, optional={"type": st.sampled_from(["async", "thread_pool"]), "config": _options}
            ),
            "queues": st.lists(_names, max_size=4),
        },
    )
)
def test_valid_configs_round_trip_through_to_dict_and_yaml(data: dict) -> None:
    config = parse_config(data)
    assert parse_config(yaml.safe_load(yaml.safe_dump(config.to_dict()))) == config


# -- load_config_file -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [SEED_001_YAML, SEED_004_YAML], ids=["seed001", "seed004"])
def test_seed_yaml_examples_load_and_round_trip(tmp_path: Path, text: str) -> None:
    config = load_config_file(write(tmp_path, text))
    assert config.to_dict() == yaml.safe_load(text)
    again = load_config_file(write(tmp_path, yaml.safe_dump(config.to_dict()), "again.yaml"))
    assert again == config


def test_seed_001_fields(tmp_path: Path) -> None:
    config = load_config_file(write(tmp_path, SEED_001_YAML))
    assert config.project_name == "my_project"
    assert config.task_queue == TaskQueueConfig(
        type="file", config={"base_dir": "some/path", "queues": ["high", "medium", "low"]}
    )
    assert config.event_store is not None and config.event_store.config["port"] == 5432
    assert config.worker == WorkerConfig(type="thread_pool", config={"max_workers": 10})


def test_env_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_HOST", "db.internal")
    monkeypatch.setenv("EMPTY_VAR", "")
    monkeypatch.setenv("PROJECT", "proj_from_env")
    path = write(
        tmp_path,
        "project_name: ${PROJECT}\n"
        "event_store:\n"
        "  type: postgres\n"
        "  url: postgresql://${PG_USER:-postgres}@${PG_HOST}:${PG_PORT:-5432}/test\n"
        "  config:\n"
        "    schema: ${EMPTY_VAR:-public}\n"
        "    note: literal $${NOT_A_VAR}\n"
        "    hosts: ['${PG_HOST}', other]\n"
        "    ${PG_HOST}: key stays\n",
    )
    config = load_config_file(path, env_vars=True)
    assert config.project_name == "proj_from_env"
    assert config.event_store is not None
    assert config.event_store.url == "postgresql://postgres@db.internal:5432/test"
    assert config.event_store.config == {
        "schema": "public",
        "note": "literal ${NOT_A_VAR}",
        "hosts": ["db.internal", "other"],
        "${PG_HOST}": "key stays",
    }


@pytest.mark.parametrize("placeholder", ["${NOCOLON-default}", "${A:-${B:-nested}}",
                                         "${}", "${1ST}"])
def test_a_placeholder_of_another_form_is_refused(placeholder: str, tmp_path: Path) -> None:
    # Left as text, it made a directory named after it.
    path = write(tmp_path, f"task_queue:\n  config:\n    base_dir: '{placeholder}'\n")
    with pytest.raises(ConfigError, match="unsupported placeholder.*expected \\$\\{VAR\\} "
                                          "or \\$\\{VAR:-default\\}"):
        load_config_file(path, env_vars=True)


def test_placeholders_are_left_alone_without_env_vars(tmp_path: Path) -> None:
    path = write(tmp_path, "task_queue:\n  url: redis://${REDIS_HOST}\n")
    config = load_config_file(path, env_vars=False)
    assert config.task_queue is not None and config.task_queue.url == "redis://${REDIS_HOST}"


def test_unset_variable_without_default_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMNIQ_TEST_SURELY_UNSET", raising=False)
    path = write(tmp_path, "task_queue:\n  config:\n    host: ${OMNIQ_TEST_SURELY_UNSET}\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path, env_vars=True)
    assert "OMNIQ_TEST_SURELY_UNSET" in str(info.value)
    assert info.value.field == "$.task_queue.config.host"
    assert info.value.source == str(path)


def test_overrides_replace_top_level_keys_and_merge_worker_config(tmp_path: Path) -> None:
    path = write(tmp_path, SEED_001_YAML)
    config = load_config_file(
        path,
        project_name="override",
        worker_type="process_pool",
        worker_config={"max_workers": 4, "prefetch": 2},
        result_store=ResultStoreConfig(type="redis", url="redis://localhost"),
        queues=["high"],
    )
    assert config.project_name == "override"
    assert config.worker == WorkerConfig(
        type="process_pool", config={"max_workers": 4, "prefetch": 2}
    )
    assert config.result_store == ResultStoreConfig(type="redis", url="redis://localhost")
    assert config.queues == ["high"]
    assert config.task_queue is not None and config.task_queue.type == "file"  # untouched

    config = load_config_file(
        write(tmp_path, "project_name: p\n", "bare.yaml"), worker_type="async"
    )
    assert config.worker == WorkerConfig(type="async")

    with pytest.raises(ConfigError, match="unknown keyword argument 'wroker'") as refused:
        load_config_file(path, wroker={"type": "async"})
    assert refused.value.source is None  # the caller's mistake: the file is not blamed
    assert "did you mean 'worker'?" in str(refused.value)


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    # YAML keeps the last and drops the first without a word.
    path = write(tmp_path, "project_name: p\nworker: {type: async}\nworker: {type: "
                           "thread_pool}\n")
    with pytest.raises(ConfigError, match="line 3, column 1: the key 'worker' is given "
                                          "twice in one mapping"):
        OmniQ.from_config_file(path)


def test_a_misspelt_worker_type_is_refused_when_the_file_is_read(tmp_path: Path) -> None:
    # It loaded, then failed only at start_worker, naming neither file nor line.
    path = write(tmp_path, "project_name: p\nworker:\n  type: thread_pol\n")
    with pytest.raises(ConfigError, match="unknown worker type; field 'worker.type' = "
                                          "'thread_pol'") as refused:
        OmniQ.from_config_file(path)
    assert refused.value.source == f"{path}, line 3"
    assert "did you mean 'thread_pool'?" in str(refused.value)


def test_a_keyword_overrides_what_the_file_says_of_the_same_thing(tmp_path: Path) -> None:
    # The file's task queue names its queues and its engine: queues= and backend_type= win
    # (they were dropped for the file's); the file giving queues twice is refused.
    path = write(tmp_path, "project_name: p\ntask_queue: {type: sqlite, config: "
                           "{queues: [high, low], base_dir: data}}\n")
    with OmniQ.from_config_file(path, queues=["x"]) as oq:
        assert oq.task_queue.queues == ["x", "default"]
    with OmniQ.from_config_file(path, backend_type="memory") as oq:
        assert type(oq.task_queue).__name__ == "MemoryTaskQueue"
    twice = write(tmp_path, "project_name: p\nqueues: [urgent]\ntask_queue: {type: sqlite, "
                            "config: {queues: [high]}}\n", "twice.yaml")
    with pytest.raises(ConfigError, match="queues are given twice") as refused:
        OmniQ.from_config_file(twice)
    assert refused.value.source == f"{twice}, line 2"


def test_malformed_yaml_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "project_name: p\ntask_queue:\n  type: [sqlite\n  url: x\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    message = str(info.value)
    assert str(path) in message and "malformed YAML" in message
    assert "line 4" in message and "column" in message


def test_missing_file_and_non_mapping_top_level(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_config_file(missing)
    assert info.value.source == str(missing)
    with pytest.raises(ConfigError, match="mapping") as info:
        load_config_file(write(tmp_path, "- a\n- b\n"))
    assert str(tmp_path) in str(info.value)


def test_empty_file_is_an_empty_configuration(tmp_path: Path) -> None:
    assert load_config_file(write(tmp_path, "# nothing yet\n")) == OmniQConfig()


def test_type_error_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "worker:\n  type: thread_pool\n  config: 4\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert info.value.field == "$.worker.config" and info.value.source == f"{path}, line 3"
    assert info.value.value == 4


# -- config_from_env --------------------------------------------------------------------------


def test_from_env_seed_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIQ_PROJECT_NAME", "my_project")
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_TYPE", "sqlite")
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_CONFIG_QUEUES", "high,medium,low")
    config = config_from_env()
    assert config == OmniQConfig(
        project_name="my_project",
        task_queue=TaskQueueConfig(type="sqlite", config={"queues": ["high", "medium", "low"]}),
    )


def test_from_env_converts_option_values_and_reads_every_component() -> None:
    env = {
        "OMNIQ_TASK_QUEUE_URL": "redis://localhost:6379/0",
        "OMNIQ_TASK_QUEUE_CONFIG_PORT": "6379",
        "OMNIQ_TASK_QUEUE_CONFIG_TIMEOUT": "1.5",
        "OMNIQ_TASK_QUEUE_CONFIG_SSL": "false",
        "OMNIQ_TASK_QUEUE_CONFIG_STORAGE_OPTIONS": '{"anon": true}',
        "OMNIQ_TASK_QUEUE_CONFIG_PREFIX": "jobs",
        "OMNIQ_RESULT_STORAGE_TYPE": "postgres",
        "OMNIQ_RESULT_STORAGE_URL": "postgresql://localhost/test",
        "OMNIQ_EVENT_STORE_TYPE": "sqlite",
        "OMNIQ_EVENT_STORE_CONFIG_BASE_DIR": "/tmp/ev",
        "OMNIQ_DEFAULT_WORKER": "thread_pool",
        "OMNIQ_MAX_WORKERS": "8",
        "OMNIQ_WORKER_CONFIG_PREFETCH": "2",
        "OMNIQ_QUEUES": "high,low",
        "OMNIQ_BACKEND_TYPE": "redis",
        "OMNIQ_SECRET_KEY": "s3cr3t-key",
        "UNRELATED": "x",
    }
    config = config_from_env(environ=env)
    assert config.task_queue == TaskQueueConfig(
        url="redis://localhost:6379/0",
        config={
            "port": 6379,
            "timeout": 1.5,
            "ssl": False,
            "storage_options": {"anon": True},
            "prefix": "jobs",
        },
    )
    assert config.result_store == ResultStoreConfig(
        type="postgres", url="postgresql://localhost/test"
    )
    assert config.event_store == EventStoreConfig(type="sqlite", config={"base_dir": "/tmp/ev"})
    assert config.worker == WorkerConfig(
        type="thread_pool", config={"max_workers": 8, "prefetch": 2}
    )
    assert config.queues == ["high", "low"]
    assert config.backend_type == "redis" and config.secret_key == "s3cr3t-key"


def test_from_env_worker_type_wins_and_none_turns_a_component_off() -> None:
    config = config_from_env(
        environ={
            "OMNIQ_DEFAULT_WORKER": "async",
            "OMNIQ_WORKER_TYPE": "process_pool",
            "OMNIQ_WORKER_CONFIG_MAX_WORKERS": "3",
            "OMNIQ_MAX_WORKERS": "9",
            "OMNIQ_EVENT_STORAGE_TYPE": "none",
        }
    )
    assert config.worker == WorkerConfig(type="process_pool", config={"max_workers": 3})
    assert config.event_store is None


def test_a_bad_component_option_from_the_environment_names_its_variable(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_TYPE", "sqlite")
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_CONFIG_BASE_DIR", str(tmp_path))
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_CONFIG_BUSY_TIMEOUT", "abc")
    with pytest.raises(ConfigError, match="field 'OMNIQ_TASK_QUEUE_CONFIG_BUSY_TIMEOUT' = "
                                          "'abc'; expected a number; in environment"):
        OmniQ.from_env()


def test_from_env_with_nothing_set_is_the_default_config() -> None:
    assert config_from_env(environ={}) == OmniQConfig()


def test_from_env_custom_prefix() -> None:
    config = config_from_env(
        prefix="MYAPP_", environ={"MYAPP_TASK_QUEUE_TYPE": "nats", "OMNIQ_TASK_QUEUE_TYPE": "x"}
    )
    assert config.task_queue == TaskQueueConfig(type="nats")


@pytest.mark.parametrize(
    ("env", "var"),
    [
        ({"OMNIQ_MAX_WORKERS": "lots"}, "OMNIQ_MAX_WORKERS"),
        ({"OMNIQ_TASK_QUEUE_TYPE": "no such/type"}, "OMNIQ_TASK_QUEUE_TYPE"),
        ({"OMNIQ_TASK_QUEUE_CONFIG_OPTS": "{broken"}, "OMNIQ_TASK_QUEUE_CONFIG_OPTS"),
        ({"OMNIQ_QUEUES": "high,lo w"}, "OMNIQ_QUEUES"),
        ({"OMNIQ_PROJECT_NAME": "a>b"}, "OMNIQ_PROJECT_NAME"),
    ],
)
def test_from_env_bad_values_name_the_variable(env: dict[str, str], var: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_env(environ=env)
    assert info.value.field == var and var in str(info.value)
    assert info.value.source == "environment"


def test_from_env_two_spellings_that_disagree_are_an_error() -> None:
    with pytest.raises(ConfigError, match="disagree"):
        config_from_env(
            environ={"OMNIQ_RESULT_STORAGE_TYPE": "sqlite", "OMNIQ_RESULT_STORE_TYPE": "redis"}
        )


def test_parse_env_value() -> None:
    assert parse_env_value("high,medium,low") == ["high", "medium", "low"]
    assert parse_env_value("1,2.5,true") == [1, 2.5, True]
    assert parse_env_value("10") == 10 and parse_env_value("-3") == -3
    assert parse_env_value("0.5") == 0.5
    assert parse_env_value("TRUE") is True and parse_env_value("false") is False
    assert parse_env_value("hello") == "hello"
    assert parse_env_value("[1, 2]") == [1, 2]
    assert parse_env_value('{"a": {"b": 1}}') == {"a": {"b": 1}}
    assert parse_env_value("nan") == "nan"  # only decimal numbers are numbers


# -- validate_name ----------------------------------------------------------------------------

_NAME_CHARS = string.ascii_letters + string.digits + "_.-"


@pytest.mark.parametrize(
    "name", ["default", "high", "my_project", "q1", "v1.2", "a-b", "_private", "A" * 64, "9"]
)
def test_validate_name_accepts(name: str) -> None:
    assert validate_name("queue", name) == name


@pytest.mark.parametrize(
    "name",
    [
        "", ".hidden", "..", "-flag", "a b", "a/b", "a\\b", "a:b", "a*", "a>", "{a}", "a}",
        "'a'", 'a"', "a\x00", "a\n", "a;b", "a$b", "é", "A" * 65, "a\tb", "a,b",
    ],
)  # fmt: skip
def test_validate_name_rejects_and_says_what_is_allowed(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_name("queue", name)
    assert info.value.field == "queue_name" and info.value.value == name
    assert "A-Z a-z 0-9" in str(info.value)


def test_validate_name_rejects_non_strings() -> None:
    with pytest.raises(ConfigError):
        validate_name("project", 5)  # type: ignore[arg-type]


@given(
    prefix=st.text(max_size=20),
    bad=st.sampled_from(["/", "\\", "\x00"]),
    suffix=st.text(max_size=20),
)
def test_any_name_with_a_path_separator_or_nul_is_rejected(
    prefix: str, bad: str, suffix: str
) -> None:
    with pytest.raises(ConfigError):
        validate_name("schedule", prefix + bad + suffix)


@given(st.text(alphabet=_NAME_CHARS, min_size=1, max_size=64))
def test_names_from_the_allowed_set_pass_unless_they_start_with_dot_or_dash(name: str) -> None:
    if name[0] in ".-":
        with pytest.raises(ConfigError):
            validate_name("queue", name)
    else:
        assert validate_name("queue", name) == name


@given(st.text(max_size=70))
def test_accepted_names_only_use_the_allowed_characters(name: str) -> None:
    try:
        validate_name("project", name)
    except ConfigError:
        return
    assert 1 <= len(name) <= 64 and set(name) <= set(_NAME_CHARS) and name[0] not in ".-"


# -- redact_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://app:s3cret@db:5432/x", "postgresql://app:***@db:5432/x"),
        ("redis://:pw@localhost:6379/0", "redis://:***@localhost:6379/0"),
        ("redis://:pw@[::1]:6379", "redis://:***@[::1]:6379"),
        ("postgresql://u:p@ss@host/db", "postgresql://u:***@host/db"),
        ("nats://s3cr3ttoken@localhost:4222", "nats://***@localhost:4222"),
        (
            "s3://bucket/prefix?access_key=AKIA&secret=SK&region=eu",
            "s3://bucket/prefix?access_key=***&secret=***&region=eu",
        ),
        ("https://h/x?token=abc&page=2#top", "https://h/x?token=***&page=2#top"),
        ("postgresql://db/x?password=pw&sslmode=require", "postgresql://db/x?password=***&sslmode=require"),
        ("host=db password=s3cret user=app", "host=db password=*** user=app"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("redis://user@localhost", "redis://user@localhost"),
        ("sqlite:///path/to.db", "sqlite:///path/to.db"),
        ("memory://", "memory://"),
        ("/plain/path", "/plain/path"),
    ],
)  # fmt: skip
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@given(
    password=st.text(alphabet=string.ascii_letters + string.digits, min_size=12, max_size=30),
    scheme=st.sampled_from(["postgresql", "redis", "amqp", "https"]),
)
def test_redacted_urls_never_contain_the_password(password: str, scheme: str) -> None:
    assert password not in redact_url(f"{scheme}://user:{password}@host:1234/db?x=1")


# -- logging ----------------------------------------------------------------------------------


@pytest.fixture
def restore_loggers():
    names = ["omniq", "omniq.worker", "omniq.queue", "omniq.root"]
    saved = {name: logging.getLogger(name).level for name in names}
    root = logging.getLogger()
    root_state = (root.level, list(root.handlers))
    omniq_handlers = list(logging.getLogger("omniq").handlers)
    yield
    configure_logging(level="WARNING", component_levels={}, disable=False)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger("omniq").handlers[:] = omniq_handlers
    assert (root.level, list(root.handlers)) == root_state


def test_omniq_logger_has_a_null_handler() -> None:
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("omniq").handlers)


@pytest.mark.usefixtures("restore_loggers")
def test_configure_logging_sets_levels_without_touching_root() -> None:
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    configure_logging(level="DEBUG", component_levels={"worker": "ERROR", "root": "DEBUG"})
    assert logging.getLogger("omniq").level == logging.DEBUG
    assert logging.getLogger("omniq.worker").level == logging.ERROR
    assert logging.getLogger("omniq.root").level == logging.DEBUG
    assert (root.level, list(root.handlers)) == before
    # A second call resets components it no longer names.
    configure_logging(level="INFO", component_levels={})
    assert logging.getLogger("omniq.worker").level == logging.NOTSET
    assert logging.getLogger("omniq.queue").getEffectiveLevel() == logging.INFO


@pytest.mark.usefixtures("restore_loggers")
def test_disabled_level_and_disable_flag_silence_everything() -> None:
    configure_logging(level="DISABLED", component_levels={})
    assert not logging.getLogger("omniq.queue").isEnabledFor(logging.CRITICAL)
    configure_logging(level="DEBUG", component_levels={"omniq.worker": "DEBUG"}, disable=True)
    assert logging.getLogger("omniq").level == DISABLED_LEVEL
    assert not logging.getLogger("omniq.worker").isEnabledFor(logging.CRITICAL)


@pytest.mark.usefixtures("restore_loggers")
def test_configure_logging_reads_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIQ_LOG_LEVEL", "info")
    monkeypatch.setenv("OMNIQ_COMPONENT_LOG_LEVELS", '{"omniq.worker": "DEBUG"}')
    configure_logging()
    assert logging.getLogger("omniq").level == logging.INFO
    assert logging.getLogger("omniq.worker").isEnabledFor(logging.DEBUG)
    monkeypatch.setenv("OMNIQ_DISABLE_LOGGING", "true")
    configure_logging()
    assert not logging.getLogger("omniq.worker").isEnabledFor(logging.CRITICAL)


@pytest.mark.usefixtures("restore_loggers")
def test_configure_logging_rejects_bad_levels_and_adds_one_handler_on_request() -> None:
    with pytest.raises(ConfigError, match="LOUD"):
        configure_logging(level="LOUD")
    with pytest.raises(ConfigError, match="omniq.worker"):
        configure_logging(level="INFO", component_levels={"omniq.worker": "chatty"})
    root = logging.getLogger("omniq")
    ours = [h for h in root.handlers if h.get_name() == "omniq.stderr"]  # a CLI test added it
    for handler in ours:
        root.removeHandler(handler)
    try:
        handlers = len(root.handlers)
        configure_logging(level="INFO", component_levels={}, add_handler=True)
        configure_logging(level="INFO", component_levels={}, add_handler=True)
        assert len(root.handlers) == handlers + 1
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "omniq.stderr"]:
            root.removeHandler(handler)
        for handler in ours:
            root.addHandler(handler)


def test_msgspec_is_what_validates() -> None:
    # The config structs stay plain msgspec structs other code can convert with.
    assert msgspec.convert({"type": "sqlite"}, TaskQueueConfig) == TaskQueueConfig(type="sqlite")


def test_max_workers_below_one_is_refused_at_load_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "omniq.yaml"
    path.write_text("project_name: p\nworker:\n  type: thread_pool\n  config:\n"
                    "    max_workers: 0\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert info.value.field == "$.worker.config.max_workers" and info.value.value == 0
    assert "line 5" in str(info.value) and ">= 1" in str(info.value)
    # A placeholder is the worker's to convert when it starts.
    path.write_text("worker: {type: thread_pool, config: {max_workers: '${W:-4}'}}\n")
    assert load_config_file(path).worker.config == {"max_workers": "4"}
