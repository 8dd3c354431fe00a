"""TAB completion for the prompt (prompt_toolkit): what to offer comes from the command layer
through the interpreter's `complete` (`debugger.commands.completion`); file names come from
prompt_toolkit's own path completer."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

if TYPE_CHECKING:
    from debugger.ui.commandline import LineInterpreter

__all__ = ["CommandCompleter"]


class CommandCompleter(Completer):
    def __init__(self, interp: "LineInterpreter") -> None:
        self._interp = interp
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent
                        ) -> Iterable[Completion]:
        text = document.text_before_cursor
        if self._interp.completes_paths(text):
            arg = text.split(None, 1)[1] if len(text.split()) > 1 else ""
            yield from self._paths.get_completions(Document(arg, len(arg)), complete_event)
            return
        cands, word = self._interp.complete(text)
        for c in cands:
            if c.startswith(word):
                yield Completion(c, start_position=-len(word))
