"""What TAB completes at the prompt and on the TUI command line: commands, then each command's own
arguments (registers, catch kinds, profiles, point numbers, info subcommands, file names).

The prompt_toolkit side (`debugger.ui.completion`) sits below the command registry and asks for
these through `CommandContext.complete`."""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.commands import CommandError, find, names, split_command
from debugger.commands.info import resolve_sub

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

__all__ = ["candidates", "completes_paths"]

_FILE_COMMANDS = ("source", "symbol-file", "add-symbol-file", "ldsym")


def candidates(ctx: "CommandContext", text: str) -> tuple[list[str], str]:
    """(candidates, word being completed) for the text before the cursor."""
    stripped = text.lstrip()
    if not stripped or (" " not in stripped and "/" not in stripped):
        return sorted(set(names()) | set(ctx.user_commands)), stripped
    try:
        name, _ = split_command(stripped.split(None, 1)[0] if " " in stripped else stripped)
        cmd = find(name, ctx.user_commands)
    except CommandError:
        return [], ""
    if isinstance(cmd, str):
        return [], ""
    argtext = stripped.split(None, 1)[1] if len(stripped.split(None, 1)) > 1 else ""
    if stripped.endswith(" ") and not argtext:
        argtext = ""
    word = "" if text.endswith(" ") else (argtext.split()[-1] if argtext.split() else "")
    if cmd.name == "info":
        words = argtext.split()
        if len(words) > 1 or (words and text.endswith(" ")):
            try:
                sub = resolve_sub(words[0])
            except CommandError:
                return [], word
            if sub == "breakpoints":
                return [str(p.number) for p in ctx.session.points], word
            if sub == "devices":
                devs = getattr(ctx.session.machine, "devices", None)
                return ([str(getattr(d, "name", type(d).__name__)) for d in devs.all()]
                        if devs is not None and hasattr(devs, "all") else []), word
            return [], word
    got: list[str] = []
    if cmd.completer is not None:
        try:
            got = list(cmd.completer(ctx, argtext))
        except Exception:
            got = []
    if ctx.session.symbols and word and cmd.category in ("points", "memory", "data", "running"):
        from debugger.commands.symbols import complete_symbols

        got += complete_symbols(ctx, word)        # b mai<TAB>, x/i *fu<TAB>
    return got, word


def completes_paths(ctx: "CommandContext", text: str) -> bool:
    """Whether the text before the cursor is the argument of a command taking a file name."""
    words = text.split()
    if not words or (len(words) == 1 and not text.endswith(" ")):
        return False
    try:
        c = find(words[0], ctx.user_commands)
    except CommandError:
        return False
    return not isinstance(c, str) and c.name in _FILE_COMMANDS
