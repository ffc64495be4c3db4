"""This plugin's schema: each component's tables, their versions, and the steps between them.

A component ("tasks", "results", "events") is at the version of its newest
``sql/<component>_v<N>.sql`` file; ``omniq_schema_version`` records the version of each
component a database holds. Opening a component runs the files it lacks, in order, with the
new version row, in one ``BEGIN IMMEDIATE`` transaction (see ``_db.py``): an upgrade that
fails leaves the old schema as it was. A database made by a newer omniq-sqlite is refused
before anything is written. A new release adds a file; a shipped one is never edited.
"""

from __future__ import annotations

from omniq.exceptions import BackendError

from ._sql import script, statements

COMPONENTS = ("tasks", "results", "events")
_VERSION = statements("schema_version.sql")
VERSION_TABLE = _VERSION["create_table"]
GET_VERSION = _VERSION["get_version"]
ALL_VERSIONS = _VERSION["all_versions"]
SET_VERSION = _VERSION["set_version"]


def _steps(component: str) -> dict[int, list[str]]:
    steps: dict[int, list[str]] = {}
    version = 1
    while True:
        try:
            steps[version] = script(f"{component}_v{version}.sql")
        except FileNotFoundError:
            return steps
        version += 1


#: component -> {version: statements that bring the schema from version-1 to version}.
MIGRATIONS: dict[str, dict[int, list[str]]] = {c: _steps(c) for c in COMPONENTS}


def schema_version(component: str) -> int:
    """The version of ``component``'s schema this release writes."""
    return max(MIGRATIONS[component])


def migration_steps(component: str, stored: int | None,
                    where: str) -> list[tuple[int, list[str]]]:
    """The steps that bring ``component`` from ``stored`` (None: no schema yet) to
    :func:`schema_version`.

    Raises :class:`BackendError` (before anything is written) when the database was made by a
    newer omniq-sqlite: an older release cannot know what the newer schema means.
    """
    current, target = stored or 0, schema_version(component)
    if current > target:
        raise BackendError(
            f"the {component} schema in {where} is version {current}, newer than this "
            f"omniq-sqlite understands (version {target}); upgrade omniq-sqlite to open it. "
            "Nothing was written."
        )
    steps = MIGRATIONS[component]
    return [(v, steps[v]) for v in range(current + 1, target + 1)]
