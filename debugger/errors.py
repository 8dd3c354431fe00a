"""The errors a user sees as one line, shared by every layer (this module imports nothing).

They live at the bottom so that a lower layer can let them through or catch them without
importing the layer that raises them: the REPL and the TUI (`debugger.ui`) catch `ScriptError`
without importing the script interpreter, and plugins pass `CommandError` through without
importing the command registry.
"""
from __future__ import annotations

__all__ = ["CommandError", "ScriptError", "SessionOver", "message_of"]


class CommandError(Exception):
    """A user error in a command: shown as one line."""


class ScriptError(Exception):
    """An error in a command or script, already prefixed with FILE:LINE when known."""


class SessionOver(Exception):
    """The run is over (quit; in batch mode a `fail` catchpoint fired, or the guest can no
    longer run and a command asked it to): unwind every script and block being executed."""


def message_of(exc: BaseException) -> str:
    """The text an exception was raised with: a KeyError's str() is the repr of its argument
    (quotes added, and stripping them would also eat a quote the message ends with)."""
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc)
