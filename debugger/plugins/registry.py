"""Process-wide registries that plugins add to, and the `Handle` every registration returns.

Commands go into `debugger.commands`' registry, guest-state profiles into
`debugger.checks.PROFILES`, panes into `debugger.ui.panes`; trace exporters and plugin
catchpoint kinds live here (`EXPORTERS`, `CATCH_KINDS`) for the trace and TUI code to read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

__all__ = ["Handle", "EXPORTERS", "CATCH_KINDS", "PANES", "CatchKind", "Exporter",
           "add_command"]


class Handle:
    """What a registration returns: `remove()` undoes it (idempotent)."""

    def __init__(self, what: str, undo: Callable[[], None]) -> None:
        self.what = what
        self._undo: Callable[[], None] | None = undo

    @property
    def active(self) -> bool:
        return self._undo is not None

    def remove(self) -> None:
        undo, self._undo = self._undo, None
        if undo is not None:
            undo()

    def __repr__(self) -> str:
        return f"<Handle {self.what}{'' if self.active else ' (removed)'}>"


@dataclass(frozen=True)
class CatchKind:
    """A plugin catchpoint kind: `match(event) -> message | None` over machine events and
    plugin notifications (see `debugger.plugins.catches`)."""

    name: str
    plugin: str
    match: Callable[[Any, tuple[Any, ...]], str | None]
    help: str = ""


@dataclass(frozen=True)
class Exporter:
    """A trace exporter: `fn(stream, out, start=N, stop=M)` writes an InstructionStream's
    items to the text file `out` (`bootdbg trace export --plugin P --format NAME`)."""

    name: str
    plugin: str
    fn: Callable[..., Any]
    help: str = ""


@dataclass
class _PaneEntry:
    name: str
    plugin: str
    fn: Callable[..., Any]
    title: str
    order: int
    extra: dict[str, Any] = field(default_factory=dict)


EXPORTERS: dict[str, Exporter] = {}
CATCH_KINDS: dict[str, CatchKind] = {}
# Panes a plugin registered (also put into `debugger.ui.panes` for the context view); the TUI
# reads either.
PANES: dict[str, _PaneEntry] = {}


class CommandTable(Protocol):
    """What the plugin layer needs of the command registry (`debugger.commands` binds itself
    here when it is imported: the registry sits above plugins and plugins never import it)."""

    def command(self, name: str, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        ...

    def unregister(self, name: str) -> None:
        ...

    def names(self) -> list[str]:
        ...


_commands: CommandTable | None = None
# Commands plugins added before the registry was loaded (a plugin loaded through the Python API
# or by `bootdbg triage`): registered when it binds, so `plugin load` works either way.
_waiting: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}


def bind_commands(table: CommandTable) -> None:
    """Called once by `debugger.commands` so that plugins can add commands to it."""
    global _commands
    _commands = table
    for name, (fn, kw) in list(_waiting.items()):
        table.command(name, **kw)(fn)
    _waiting.clear()


def add_command(name: str, fn: Callable[..., Any], **kw: Any) -> Callable[[], None]:
    """Register a command in the global registry; returns the function that removes it."""
    commands = _commands
    taken = set(commands.names()) if commands is not None else set()
    taken |= {n for w, (_f, k) in _waiting.items() for n in (w, *k.get("aliases", ()))}
    for n in (name, *kw.get("aliases", ())):
        if n in taken:
            raise ValueError(f"command name {n!r} is already taken")
    if commands is None:
        _waiting[name] = (fn, kw)
    else:
        commands.command(name, **kw)(fn)

    def remove() -> None:
        _waiting.pop(name, None)
        if _commands is not None:
            _commands.unregister(name)
    return remove
