"""The interactive loop: prompt_toolkit on a terminal, plain line reading through a pipe.

Lines go to the script interpreter (so blocks, `define` and `commands N` work at the prompt with
a continuation prompt); an empty line repeats the last step/next/x.  Ctrl-C at the prompt clears
the line (or an open block); Ctrl-C while the guest runs is handled by `CommandContext.run`
(it maps SIGINT to `session.interrupt()`), so the run stops and the prompt comes back.
History persists in $BOOTDBG_HISTORY or ~/.local/state/bootdbg/history.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from debugger.errors import ScriptError, SessionOver

if TYPE_CHECKING:
    from debugger.ui.commandline import CommandLine, LineInterpreter

__all__ = ["history_path", "handle_line", "run_prompt", "run_pipe", "PROMPT", "MORE_PROMPT"]

PROMPT = "(bootdbg) "
MORE_PROMPT = ">"


def history_path() -> Path:
    env = os.environ.get("BOOTDBG_HISTORY")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "bootdbg" / "history"


def handle_line(ctx: "CommandLine", interp: "LineInterpreter", line: str) -> None:
    """Run one line typed by the user; errors become one line on the error console."""
    try:
        if not line.strip() and not interp.pending:
            interp.repeat_last()
        else:
            interp.type_line(line)
    except ScriptError as exc:
        ctx.error(str(exc))
    except SessionOver:
        pass
    except KeyboardInterrupt:
        interp.cancel()
        ctx.error("Interrupted.")


def run_prompt(ctx: "CommandLine", interp: "LineInterpreter") -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, History, InMemoryHistory

    from debugger.ui.completion import CommandCompleter

    hist: History
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        hist = FileHistory(str(path))
    except OSError as exc:
        ctx.error(f"history not saved: {path}: {exc.strerror or exc}")
        hist = InMemoryHistory()
    ps: PromptSession[str] = PromptSession(history=hist, completer=CommandCompleter(interp),
                                           complete_while_typing=False, enable_suspend=True)
    while not ctx.quit_requested:
        try:
            line = ps.prompt(MORE_PROMPT if interp.pending else PROMPT)
        except KeyboardInterrupt:
            interp.cancel()
            continue
        except EOFError:
            break
        handle_line(ctx, interp, line)


def run_pipe(ctx: "CommandLine", interp: "LineInterpreter", stream: TextIO) -> None:
    """Commands from a pipe, one per line, no prompt (the REPL made scriptable)."""
    for line in stream:
        if ctx.quit_requested:
            break
        if not line.strip() and not interp.pending:
            continue          # blank lines in piped input do not repeat commands
        handle_line(ctx, interp, line.rstrip("\n"))
    if not ctx.quit_requested:
        try:
            interp.finish()
        except ScriptError as exc:
            ctx.error(str(exc))
