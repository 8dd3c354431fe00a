"""The debugger's commands: one registry, filled by decorators in the modules of this package.

A command is a function `fn(ctx, args) -> renderable | str | None` taking a `CommandContext` and
the raw argument text (everything after the command name, e.g. "/8xb 0x7c00" for `x/8xb 0x7c00`).
It never reads input and never prints directly: it returns what to show, or writes through
`ctx.print`.  User errors are raised as `CommandError` (one line, no traceback).

    @command("stepi", aliases=["si"], category="running", help="...", repeatable=True)
    def stepi(ctx, args): ...

Modules are discovered by iterating this package (`load_commands`), never from a hand-kept list.
Lookup accepts an exact name or alias first, then a unique prefix of one (gdb rules).
"""
from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from debugger.errors import CommandError, SessionOver
from debugger.plugins import registry as _plugin_registry

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

__all__ = ["Command", "CommandError", "SessionOver", "command", "unregister", "load_commands", "find",
           "all_commands", "split_command", "names", "CATEGORIES"]

CATEGORIES = {
    "running": "Running the guest",
    "points": "Breakpoints, watchpoints and catchpoints",
    "data": "Registers, expressions and variables",
    "memory": "Memory and disassembly",
    "info": "Inspecting the machine",
    "check": "VM-entry checks",
    "script": "Scripts and user-defined commands",
    "misc": "Support",
}

Completer = Callable[["CommandContext", str], Iterable[str]]




@dataclass(frozen=True)
class Command:
    name: str
    fn: Callable[["CommandContext", str], Any]
    aliases: tuple[str, ...] = ()
    category: str = "misc"
    help: str = ""
    usage: str = ""
    completer: Completer | None = None
    repeatable: bool = False       # an empty line repeats it (step, next, x)
    block: bool = False            # opens a block closed by `end` (if, while, define, commands)

    @property
    def summary(self) -> str:
        return self.help.strip().splitlines()[0] if self.help.strip() else ""


_REGISTRY: dict[str, Command] = {}
_BY_NAME: dict[str, Command] = {}
_loaded = False


def command(name: str, *, aliases: Iterable[str] = (), category: str = "misc", help: str = "",
            usage: str = "", completer: Completer | None = None, repeatable: bool = False,
            block: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the command `name` (with `aliases`)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown command category {category!r}")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        cmd = Command(name, fn, tuple(aliases), category, help, usage or name, completer,
                      repeatable, block)
        for n in (name, *cmd.aliases):              # all names free, or none is taken
            if n in _BY_NAME and _BY_NAME[n].fn is not fn:
                raise ValueError(f"command name {n!r} registered twice")
        for n in (name, *cmd.aliases):
            _BY_NAME[n] = cmd
        _REGISTRY[name] = cmd
        return fn
    return deco


def unregister(name: str) -> None:
    """Remove the command `name` and its aliases (plugins unloading); unknown names are ignored."""
    cmd = _REGISTRY.pop(name, None)
    if cmd is None:
        return
    for n in (cmd.name, *cmd.aliases):
        if _BY_NAME.get(n) is cmd:
            del _BY_NAME[n]


def load_commands() -> None:
    """Import every module of this package (each registers its commands)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_") and info.name not in ("context", "args"):
            importlib.import_module(f"{__name__}.{info.name}")


def all_commands() -> list[Command]:
    load_commands()
    return sorted(_REGISTRY.values(), key=lambda c: c.name)


def names() -> list[str]:
    load_commands()
    return sorted(_BY_NAME)


def find(word: str, extra: Iterable[str] = ()) -> Command | str:
    """The command `word` names: exact name or alias, else a unique prefix.

    `extra` are further names (user-defined commands); if `word` resolves to one of them the
    resolved name is returned as a string.  Raises CommandError if unknown or ambiguous.
    """
    load_commands()
    extra = list(extra)
    if word in extra:
        return word
    if word in _BY_NAME:
        return _BY_NAME[word]
    hits: dict[str, Command | str] = {}
    for n, c in _BY_NAME.items():
        if n.startswith(word):
            hits[c.name] = c
    for n in extra:
        if n.startswith(word):
            hits[n] = n
    if len(hits) == 1:
        return next(iter(hits.values()))
    if not hits:
        raise CommandError(f'undefined command: "{word}"; try "help"')
    raise CommandError(f'ambiguous command "{word}": ' + ", ".join(sorted(hits)))


_NAME_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*|[?!])(.*)\Z", re.S)


def split_command(line: str) -> tuple[str, str]:
    """Split a command line into (name, argument text): 'x/8xb 0x7c00' -> ('x', '/8xb 0x7c00')."""
    m = _NAME_RE.match(line)
    if not m:
        word = line.strip().split()[0] if line.strip() else ""
        raise CommandError(f'undefined command: "{word}"; try "help"')
    name, rest = m.group(1), m.group(2)
    if rest and not rest[0].isspace() and rest[0] != "/":
        raise CommandError(f'undefined command: "{name}{rest.split()[0]}"; try "help"')
    return name, rest.strip()


# Plugins add their commands here through this module (as `plugins.registry.CommandTable`).
_plugin_registry.bind_commands(sys.modules[__name__])
