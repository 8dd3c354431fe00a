"""Writing long output straight to a rich Console's file, byte for byte what `Console.print`
would write, without rich's per-segment rendering (~2 ms a line, so `x/65536i` took minutes).

`write_fast(console, obj)` handles the common simple case -- a `str` or a `Text` whose lines all
fit the console, printable Latin-1 only, spans that do not overlap -- and returns False for
anything else, which the caller then prints through rich as before.  With colour each styled
piece is rendered by its `Style` exactly as rich's console does (one escape sequence around
each piece, lines split at newlines); without colour the plain text is written.
"""
from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.style import Style
from rich.text import Text

__all__ = ["write_fast"]

# printable ASCII and Latin-1 (one cell each, no tab or control character), and newlines
_SIMPLE = re.compile(r"[\n\x20-\x7e\xa0-\xff]*")


def write_fast(console: Console, obj: Any) -> bool:
    if console.record or console.is_dumb_terminal or console.legacy_windows:
        return False
    if isinstance(obj, Text):
        if obj.justify not in (None, "default") or obj.overflow not in (None, "fold") \
                or obj.end != "\n" or obj.tab_size not in (None, 8) or obj.style:
            return False
        text, spans = obj.plain, obj.spans
    elif isinstance(obj, str) and not getattr(console, "_emoji", True):
        text, spans = obj, []     # (with emoji on, rich would replace :codes: in a str)
    else:
        return False
    width = console.width
    if not _SIMPLE.fullmatch(text) or any(len(ln) > width for ln in text.split("\n")):
        return False
    system = console._color_system
    if system is None or not spans:
        console.file.write(text + "\n")
        return True
    out = _ansi(console, text, spans, system)
    if out is None:
        return False
    console.file.write(out)
    return True


def _ansi(console: Console, text: str, spans: list[Any], system: Any) -> str | None:
    styles: dict[Any, Style] = {}
    done: dict[tuple[Any, str], str] = {}     # (style, piece) -> escaped (pieces repeat a lot)
    parts: list[str] = []
    pos = 0
    n = len(text)
    for start, end, name in spans:
        if start < pos or end <= start or end > n:
            return None                     # overlapping or empty spans: rich combines them
        if start > pos:
            parts.append(text[pos:start])
        piece = text[start:end]
        key = (name, piece)
        out = done.get(key)
        if out is None:
            style = styles.get(name)
            if style is None:
                style = styles[name] = console.get_style(name, default=Style.null())
            out = done[key] = "\n".join(style.render(p, color_system=system) if p else ""
                                        for p in piece.split("\n")) if style else piece
        parts.append(out)
        pos = end
    parts.append(text[pos:])
    parts.append("\n")
    return "".join(parts)
