"""The ``omniq`` command group: built-in commands, commands plugins add, and exit codes.

A distribution adds a command with an entry point in the group ``omniq.commands`` whose
object is a :class:`click.Command`; it appears as ``omniq <entry point name>``. Plugin
commands are loaded only when asked for (their name, or ``omniq --help``), a built-in name
always wins, and one that cannot be loaded is skipped with a warning on stderr, so a broken
plugin never breaks the other commands.
"""

from __future__ import annotations

import copy
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click

from ..exceptions import OmniQError
from ._app import failure_of

#: The entry-point group of plugin commands.
COMMANDS_GROUP = "omniq.commands"


class OmniQGroup(click.Group):
    """A click group that also lists plugin commands and turns OmniQ errors into exit codes."""

    def _entry_points(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=COMMANDS_GROUP)
                if ep.name not in self.commands}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self._entry_points()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        point = self._entry_points().get(cmd_name)
        return None if point is None else _load(point)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OmniQError as exc:
            raise failure_of(exc) from exc


def _load(point: EntryPoint) -> click.Command | None:
    """The command an entry point names, or None (with a warning) if it cannot be had."""
    where = f"{point.value}" + (f" of {point.dist.name}" if point.dist else "")
    try:
        command = point.load()
    except Exception as exc:  # a plugin's own bug must not take the other commands down
        click.echo(f"omniq: warning: plugin command {point.name!r} ({where}) could not be "
                   f"loaded and is skipped: {type(exc).__name__}: {exc}", err=True)
        return None
    if not isinstance(command, click.Command):
        click.echo(f"omniq: warning: plugin command {point.name!r} ({where}) is a "
                   f"{type(command).__name__}, not a click.Command; skipped", err=True)
        return None
    if command.name != point.name:  # shown, in usage and help, under the name it is run by
        command = copy.copy(command)
        command.name = point.name
    return command
