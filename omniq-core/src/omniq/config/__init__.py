"""OmniQ configuration: settings, environment variables, config files and logging.

* :mod:`omniq.config.settings` holds the defaults as plain constants (``MAX_WORKERS = 10``);
  :func:`get_setting` reads one with its ``OMNIQ_`` environment override applied, typed and
  validated; :func:`get_settings` snapshots all of them.
* :func:`parse_config`, :func:`load_config_file` and :func:`config_from_env` build an
  :class:`~omniq.models.OmniQConfig` from a dict, a YAML file or the environment.
* :func:`validate_name` checks queue, project and schedule names, :func:`validate_task_id`
  the task ids callers choose; :func:`redact_url` hides passwords before a URL is logged,
  printed or raised.
* :func:`configure_logging` sets the levels of the ``omniq`` loggers.
"""

from __future__ import annotations

from . import settings
from ._env import (
    ENV_PREFIX,
    LEVEL_NAMES,
    Settings,
    convert_setting,
    get_setting,
    get_settings,
    parse_env_value,
)
from ._loader import (
    ALIASES,
    apply_overrides,
    config_from_env,
    load_config_file,
    locate_error,
    parse_config,
    read_yaml_mapping,
    substitute_env,
)
from ._logging import configure_logging
from ._options import check_options, did_you_mean
from ._validate import (
    NAME_RULE,
    is_sensitive,
    redact_url,
    redact_value,
    validate_name,
    validate_task_id,
    validate_type_name,
)

__all__ = ["ALIASES", "ENV_PREFIX", "LEVEL_NAMES", "NAME_RULE", "Settings", "apply_overrides",
           "check_options", "config_from_env", "configure_logging", "convert_setting",
           "did_you_mean", "get_setting", "get_settings", "is_sensitive", "load_config_file",
           "locate_error", "parse_config", "read_yaml_mapping", "parse_env_value", "redact_url",
           "redact_value", "settings", "substitute_env", "validate_name", "validate_task_id",
           "validate_type_name"]
