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

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext
    from debugger.script.interpreter import Interpreter

__all__ = ["history_path", "handle_line", "run_prompt", "run_pipe", "PROMPT", "MORE_PROMPT"]

PROMPT = "(bootdbg) "
MORE_PROMPT = ">"


def history_path() -> Path:
    env = os.environ.get("BOOTDBG_HISTORY")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "bootdbg" / "history"


def _forget_repeat(ctx: "CommandContext", interp: "Interpreter", line: str) -> None:
    """After a typed command that does not repeat (p, info, ...) Enter repeats nothing."""
    from debugger.commands import CommandError, find, split_command

    if interp.pending:
        return
    try:
        cmd = find(split_command(line.strip())[0], ctx.user_commands)
    except CommandError:
        return
    if isinstance(cmd, str) or not cmd.repeatable:
        interp.last = None


def handle_line(ctx: "CommandContext", interp: "Interpreter", line: str) -> None:
    """Run one line typed by the user; errors become one line on the error console."""
    from debugger.script.interpreter import ScriptError, SessionOver

    try:
        if not line.strip() and not interp.pending:
            interp.repeat_last()
        else:
            interp.feed(line)
            _forget_repeat(ctx, interp, line)
    except ScriptError as exc:
        ctx.error(str(exc))
    except SessionOver:
        pass
    except KeyboardInterrupt:
        interp.cancel()
        ctx.error("Interrupted.")


def run_prompt(ctx: "CommandContext", interp: "Interpreter") -> None:
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
    ps: PromptSession[str] = PromptSession(history=hist, completer=CommandCompleter(lambda: ctx),
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


def run_pipe(ctx: "CommandContext", interp: "Interpreter", stream: TextIO) -> None:
    """Commands from a pipe, one per line, no prompt (the REPL made scriptable)."""
    from debugger.script.interpreter import ScriptError

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
