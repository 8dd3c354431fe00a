"""What the REPL and the TUI need of the layers above them, as protocols.

The command context (`debugger.commands.context.CommandContext`) and the command language's
interpreter (`debugger.script.interpreter.Interpreter`) sit above `debugger.ui`: the frontends
here are handed both and use them through these protocols, so `ui` never imports either.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console

    from debugger.engine.session import Session

__all__ = ["CommandLine", "LineInterpreter"]


class _ContextSetting(Protocol):
    context: bool            # print the context at every stop


class CommandLine(Protocol):
    """The context commands run in: the session and where output goes."""

    session: "Session"
    console: "Console"
    err_console: "Console"
    settings: _ContextSetting
    quit_requested: bool

    def error(self, message: str) -> None: ...


class LineInterpreter(Protocol):
    """The command language's interpreter: lines in, blocks (`if`, `while`, `define`) kept open
    across lines."""

    @property
    def pending(self) -> bool:
        """A block is open: the next line continues it."""
        ...

    def feed(self, line: str) -> None: ...

    def type_line(self, line: str) -> None:
        """A line typed at the prompt: fed like any other; after a command that does not repeat
        (p, info, ...) Enter then repeats nothing."""
        ...

    def repeat_last(self) -> None: ...

    def cancel(self) -> None: ...

    def finish(self) -> None: ...

    def complete(self, text: str) -> tuple[list[str], str]:
        """TAB: (candidates, the word they complete) for the text before the cursor."""
        ...

    def completes_paths(self, text: str) -> bool:
        """TAB: whether the word before the cursor is a file name."""
        ...
