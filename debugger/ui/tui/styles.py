"""The TUI's look: the project theme (`debugger.ui.theme`) in a dark and a light variant, the
conversion of rich renderables to prompt_toolkit fragments, the VGA palette and the chrome
(frames, status bar, command line) -- all through semantic style names.

Panes are rendered with rich into `Segment`s and converted here, so the TUI shows exactly the
renderers the REPL uses.  NO_COLOR (or the `plain` theme) drops every colour; emphasis that
carries meaning (a rejected field, the current line, a changed register) stays as bold/reverse.
"""
from __future__ import annotations

import functools
import io
from typing import Any

from prompt_toolkit.styles import Style
from rich.console import Console
from rich.style import Style as RichStyle
from rich.theme import Theme

from debugger.ui.theme import STYLES, plain_requested

__all__ = ["THEMES", "Fragments", "rich_theme", "to_lines", "pt_style", "chrome_style",
           "vga_style", "effective_theme"]

Fragments = list[tuple[str, str]]

# Overrides of the project theme for a light background (the defaults are for a dark one).
_LIGHT = {
    "pane.title": "bold blue", "reg.name": "dark_cyan", "reg.changed": "bold dark_orange3",
    "seg.name": "dark_cyan", "asm.register": "dark_orange3", "asm.number": "blue",
    "disasm.addr": "dark_cyan", "stack.addr": "dark_cyan", "mode": "bold dark_green",
    "ok": "dark_green", "warning": "dark_orange3", "asm.keyword": "dark_cyan",
    "disasm.current": "bold dark_green", "disasm.marker": "bold dark_green",
    "stack.sp": "bold dark_green",
}
# Plain (NO_COLOR): meaning kept by attributes only.
_PLAIN = {name: "" for name in STYLES} | {
    "heading": "bold", "pane.title": "bold", "error": "bold", "bad": "bold", "seg.bad": "reverse",
    "reg.changed": "bold underline", "disasm.current": "bold", "disasm.marker": "bold",
    "disasm.breakpoint": "bold", "flag.on": "bold", "flag.prominent": "bold", "mode": "bold",
    "rule.id": "bold", "stop.kind": "bold", "stack.sp": "bold", "mem.changed": "reverse",
    "tui.selected": "reverse", "tui.cursor": "reverse",
}
# Styles only the TUI uses (the memory pane's changed bytes, list selections, the tab bar).
_TUI_EXTRA = {
    "mem.changed": "bold black on yellow", "mem.ascii": "dim", "tui.selected": "reverse",
    "tui.cursor": "underline", "tui.tab": "", "tui.tab.active": "bold reverse",
    "profile.active": "bold reverse", "profile.other": "dim",
}

THEMES = ("dark", "light", "plain")


def effective_theme(name: str) -> str:
    return "plain" if plain_requested() else name


def rich_theme(name: str) -> Theme:
    styles = dict(STYLES) | _TUI_EXTRA
    if name == "light":
        styles |= _LIGHT | {"mem.changed": "bold on yellow"}
    elif name == "plain":
        styles |= _PLAIN
    return Theme(styles)


def _color(c: Any, theme: Any) -> str | None:
    if c is None or c.is_default:
        return None
    t = c.get_truecolor(theme)
    return f"#{t.red:02x}{t.green:02x}{t.blue:02x}"


def pt_style(style: RichStyle | None, plain: bool = False) -> str:
    """A rich Style as a prompt_toolkit style string."""
    if style is None:
        return ""
    parts = []
    if not plain:
        fg, bg = _color(style.color, None), _color(style.bgcolor, None)
        if fg:
            parts.append(f"fg:{fg}")
        if bg:
            parts.append(f"bg:{bg}")
    for attr, word in (("bold", "bold"), ("dim", "dim" if plain else ""), ("italic", "italic"),
                       ("underline", "underline"), ("reverse", "reverse")):
        if getattr(style, attr) and word:
            parts.append(word)
    if style.dim and not plain and not any(p.startswith("fg:") for p in parts):
        parts.append("fg:#808080")
    return " ".join(parts)


_consoles: dict[tuple[str, int], Console] = {}


def _console(theme: str, width: int) -> Console:
    key = (theme, width)
    con = _consoles.get(key)
    if con is None:
        con = Console(file=io.StringIO(), width=max(10, width), theme=rich_theme(theme),
                      force_terminal=True, color_system="truecolor", highlight=False,
                      emoji=False, soft_wrap=False, legacy_windows=False)
        if len(_consoles) > 64:
            _consoles.clear()
        _consoles[key] = con
    return con


def to_lines(renderable: Any, width: int, theme: str = "dark") -> list[Fragments]:
    """A rich renderable (or str) rendered at `width` as lines of prompt_toolkit fragments."""
    con = _console(theme, width)
    plain = theme == "plain"
    opts = con.options.update_width(max(10, width))
    out: list[Fragments] = []
    for line in con.render_lines(renderable, opts, pad=False, new_lines=False):
        frags: Fragments = []
        for seg in line:
            if seg.control or not seg.text:
                continue
            frags.append((pt_style(seg.style, plain), seg.text))
        out.append(frags)
    while out and not any(t.strip() for _, t in out[-1]):
        out.pop()
    return out


@functools.lru_cache(maxsize=None)
def chrome_style(theme: str) -> Style:
    """Frames, status bar, command line, tab bar and the help overlay.  One Style object per
    theme: prompt_toolkit caches parsed style strings per Style, and a new object every time
    the DynamicStyle asks made each redraw parse them all again (a second per redraw)."""
    if theme == "plain":
        return Style.from_dict({
            "frame.border": "", "frame.label": "bold", "focused frame.label": "bold reverse",
            "status": "reverse", "status.running": "reverse bold", "cmdline": "",
            "tab": "", "tab.active": "reverse bold", "help": "", "completion-menu": "reverse",
        })
    dark = theme == "dark"
    return Style.from_dict({
        "": "bg:#1c1c1c fg:#d0d0d0" if dark else "bg:#fafafa fg:#202020",
        "frame.border": "fg:#4e6a8a" if dark else "fg:#8aa0bb",
        "frame.label": "fg:#6fa8dc bold" if dark else "fg:#1f4f8f bold",
        "focused frame.border": "fg:#ffd75f" if dark else "fg:#c06000",
        "focused frame.label": "fg:#ffd75f bold" if dark else "fg:#c06000 bold",
        "status": "bg:#3a3a3a fg:#e0e0e0" if dark else "bg:#d0d8e0 fg:#101010",
        "status.running": "bg:#875f00 fg:#ffffff bold",
        "cmdline": "",
        "tab": "fg:#a0a0a0" if dark else "fg:#606060",
        "tab.active": "reverse bold",
        "help": "bg:#262626" if dark else "bg:#eeeeee",
    })


# The 16 CGA/VGA text colours (default DAC), in attribute order.
VGA_COLOURS = ("#000000", "#0000aa", "#00aa00", "#00aaaa", "#aa0000", "#aa00aa", "#aa5500",
               "#aaaaaa", "#555555", "#5555ff", "#55ff55", "#55ffff", "#ff5555", "#ff55ff",
               "#ffff55", "#ffffff")


def vga_style(attr: int, plain: bool = False, blink_bg: bool = True) -> str:
    """The prompt_toolkit style of a VGA text attribute byte (bit 7 = blink: background 0-7)."""
    fg, bg = attr & 0x0F, (attr >> 4) & (0x07 if blink_bg else 0x0F)
    if plain:
        return "reverse" if bg > fg and bg != 0 else ""
    return f"fg:{VGA_COLOURS[fg]} bg:{VGA_COLOURS[bg]}"
