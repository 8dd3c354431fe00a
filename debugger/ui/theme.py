"""The one theme: semantic style names for everything the debugger renders, and the console.

Renderers use names such as "reg.changed" or "seg.bad", never colours.  Pygments tokens of the
NASM lexer map onto the "asm.*" names here (the only pygments adapter).  `make_console` builds the
rich Console every front end prints through: colour and width on a terminal, plain text without
escape codes when the output is piped or NO_COLOR is set.
"""
from __future__ import annotations

import os
import sys
from typing import IO, Any

from rich.console import Console
from rich.theme import Theme

__all__ = ["STYLES", "THEME", "make_console", "token_style", "plain_requested"]

STYLES: dict[str, str] = {
    "heading": "bold",
    "pane.title": "bold blue",
    "pane.rule": "blue",
    "muted": "dim",
    "error": "bold red",
    "warning": "yellow",
    "ok": "green",
    "bad": "bold red",
    "stop.header": "bold",
    "stop.kind": "bold magenta",
    "stop.where": "cyan",
    "stop.detail": "",
    "reg.name": "cyan",
    "reg.value": "",
    "reg.changed": "bold yellow",
    "flag.on": "bold",
    "flag.off": "dim",
    "flag.prominent": "bold magenta",
    "seg.name": "cyan",
    "seg.field": "",
    "seg.bad": "bold white on red",
    "seg.unusable": "dim",
    "rule.id": "red",
    "mode": "bold green",
    "mode.field": "",
    "disasm.addr": "cyan",
    "disasm.bytes": "dim",
    "disasm.current": "bold green",
    "disasm.marker": "bold green",
    "disasm.breakpoint": "bold red",
    "disasm.label": "magenta",
    "stack.addr": "cyan",
    "stack.sp": "bold green",
    "event.kind": "magenta",
    "event.icount": "dim",
    "asm.mnemonic": "bold",
    "asm.register": "yellow",
    "asm.number": "bright_blue",
    "asm.punct": "",
    "asm.keyword": "cyan",
    "asm.text": "",
    "prompt": "bold",
}

THEME = Theme(STYLES)


def token_style(token: object) -> str:
    """The theme style name for a pygments token of the NASM lexer."""
    from pygments import token as t

    if token in t.Keyword.Type or token in t.Keyword.Declaration:
        return "asm.keyword"
    if token in t.Name.Builtin:
        return "asm.register"
    if token in t.Number:
        return "asm.number"
    if token in t.Name.Function or token in t.Keyword:
        return "asm.mnemonic"
    if token in t.Punctuation or token in t.Operator:
        return "asm.punct"
    return "asm.text"


def plain_requested() -> bool:
    """NO_COLOR set (https://no-color.org): no colour, whatever the terminal."""
    return bool(os.environ.get("NO_COLOR"))


class _UnpaddedConsole(Console):
    """Output for a pipe or file: rich pads table cells and panels to the full width; without a
    terminal those trailing spaces are noise (diffs, grep, logs), so every line loses them."""

    def _render_buffer(self, buffer: Any) -> str:
        text = super()._render_buffer(buffer)
        if " \n" not in text:
            return text
        return "\n".join(line.rstrip(" ") for line in text.split("\n"))


def make_console(file: IO[str] | None = None, *, width: int | None = None,
                 force_terminal: bool | None = None, stderr: bool = False) -> Console:
    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    no_color = plain_requested()
    isatty = getattr(stream, "isatty", None)
    terminal = force_terminal is not False and callable(isatty) and bool(isatty())
    if width is None and not os.environ.get("COLUMNS") and not terminal:
        width = 120       # no terminal to wrap at: keep tables whole
    cls = Console if terminal or force_terminal else _UnpaddedConsole
    return cls(file=stream, theme=THEME, highlight=False, width=width,
                   force_terminal=force_terminal, no_color=no_color,
                   color_system=None if no_color else "auto", emoji=False,
                   soft_wrap=False)
