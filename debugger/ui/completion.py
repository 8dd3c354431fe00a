"""TAB completion for the prompt: commands, then each command's own arguments (registers, catch
kinds, profiles, point numbers, info subcommands, file names)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

__all__ = ["CommandCompleter", "candidates"]

_FILE_COMMANDS = ("source", "symbol-file", "add-symbol-file", "ldsym")


def candidates(ctx: "CommandContext", text: str) -> tuple[list[str], str]:
    """(candidates, word being completed) for the text before the cursor."""
    from debugger.commands import CommandError, find, names, split_command

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
            from debugger.commands.info import resolve_sub

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


class CommandCompleter(Completer):
    def __init__(self, get_ctx: Callable[[], "CommandContext"]) -> None:
        self._get_ctx = get_ctx
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent
                        ) -> Iterable[Completion]:
        text = document.text_before_cursor
        words = text.split()
        if words and len(words) >= 1 and (len(words) > 1 or text.endswith(" ")):
            from debugger.commands import CommandError, find

            try:
                c = find(words[0], self._get_ctx().user_commands)
            except CommandError:
                c = None
            if c is not None and not isinstance(c, str) and c.name in _FILE_COMMANDS:
                arg = text.split(None, 1)[1] if len(words) > 1 else ""
                yield from self._paths.get_completions(Document(arg, len(arg)), complete_event)
                return
        cands, word = candidates(self._get_ctx(), text)
        for c in cands:
            if c.startswith(word):
                yield Completion(c, start_position=-len(word))
