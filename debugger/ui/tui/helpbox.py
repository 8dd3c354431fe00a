"""The key help overlay (F2 or `?`): a framed box centred on the terminal, at most 78 columns
wide and as tall as the terminal allows.  Each description wraps under its own column; when
the terminal is too short for all of it, the arrows, PgUp/PgDn, Home and End page through it
(the bottom border says which lines are shown) and any other key closes it."""
from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Callable

from prompt_toolkit.filters import Condition
from prompt_toolkit.layout import ConditionalContainer, Float, Window
from prompt_toolkit.layout.controls import UIContent, UIControl

from debugger.ui.tui.styles import Fragments

if TYPE_CHECKING:
    from debugger.ui.tui.state import TuiState

__all__ = ["KEY_HELP", "help_text", "help_float", "HelpControl", "scroll_help"]

KEY_HELP = (
    ("F5  c", "continue (Ctrl-C interrupts)"),
    ("F7  s", "step one instruction"),
    ("F8  n", "next (step over CALL/INT/REP/LOOP)"),
    ("F9", "toggle a breakpoint at the code cursor"),
    ("Ctrl-C", "interrupt the running guest / clear the command line"),
    ("Tab  Shift-Tab", "next / previous pane (Tab in a command: completion)"),
    ("arrows PgUp PgDn", "scroll the pane; code: move the cursor; events: select"),
    ("Home / End", "back to CS:EIP (code), first / newest entry"),
    ("Left Right", "screen: scroll sideways (a pane narrower than 80 columns)"),
    ("< >", "segments: previous / next checker profile"),
    (": or Enter", "focus the command line; Esc goes back to the last pane"),
    ("Enter in events", "go to the selected event (time travel: `record` first)"),
    ("t", "switch between the dark, light and plain theme"),
    ("? or F2", "this help"),
    ("F1  q", "leave the TUI (back to the prompt); `quit` ends bootdbg"),
    ("commands", "every REPL command works on the command line; `layout` and `tui memory EXPR`"),
)
TITLE = "bootdbg TUI keys"
KEY_COL = 16


def help_text(width: int) -> list[Fragments]:
    """The help's lines for a box `width` characters wide inside its borders (one space of
    padding each side): keys in a column, descriptions wrapped beside them."""
    room = max(10, width - 2 - KEY_COL - 2)
    out: list[Fragments] = []
    for keys, what in KEY_HELP:
        parts = textwrap.wrap(what, room) or [""]
        out.append([("class:help.key bold", f"{keys:<{KEY_COL}}  "), ("class:help", parts[0])])
        out.extend([("class:help", " " * (KEY_COL + 2) + p)] for p in parts[1:])
    return out


def box_size(cols: int, rows: int, lines: int) -> tuple[int, int]:
    """(width, height) of the box, borders included, on a cols x rows terminal."""
    return max(20, min(78, cols - 2)), max(3, min(lines + 2, rows - 2))


def scroll_help(ts: "TuiState", delta: int | str, cols: int, rows: int) -> None:
    width, height = box_size(cols, rows, 0)
    n = len(help_text(width - 2))
    page = max(1, box_size(cols, rows, n)[1] - 2)
    last = max(0, n - page)
    if delta == "home":
        ts.help_top = 0
    elif delta == "end":
        ts.help_top = last
    else:
        step = page if delta == "page" else -page if delta == "-page" else int(delta)
        ts.help_top = max(0, min(last, ts.help_top + step))


class HelpControl(UIControl):
    """The framed help at the size the float gives it, from line `ts.help_top`."""

    def __init__(self, ts: "TuiState") -> None:
        self.ts = ts

    def create_content(self, width: int, height: int) -> UIContent:
        inner, page = width - 2, max(1, height - 2)
        body = help_text(inner)
        n = len(body)
        top = max(0, min(self.ts.help_top, n - page))
        self.ts.help_top = top
        shown = body[top:top + page]
        head = f"─ {TITLE} "
        lines: list[Fragments] = [[("class:help.border", "┌" + _fill(head, inner) + "┐")]]
        for ln in shown + [[]] * (page - len(shown)):
            used = sum(len(t) for _, t in ln) + 1
            lines.append([("class:help.border", "│"), ("class:help", " ")] + ln +
                         [("class:help", " " * max(0, inner - used)), ("class:help.border", "│")])
        if n <= page:
            foot = "─ any key closes "
        else:
            more = "PgDn more" if top + page < n else "PgUp back"
            foot = f"─ lines {top + 1}-{min(n, top + page)} of {n} · {more} · " \
                   f"any other key closes "
        lines.append([("class:help.border", "└" + _fill(foot, inner) + "┘")])
        return UIContent(get_line=lambda i: lines[i] if i < len(lines) else [],
                         line_count=len(lines), show_cursor=False)


def _fill(text: str, width: int) -> str:
    if len(text) > width:
        text = text[:max(0, width - 1)] + "…" if width > 1 else ""
    return text + "─" * (width - len(text))


def help_float(ts: "TuiState", size: Callable[[], tuple[int, int]]) -> Float:
    """The overlay, centred, shown while `ts.show_help`."""
    def dims() -> tuple[int, int]:
        cols, rows = size()
        return box_size(cols, rows, len(help_text(box_size(cols, rows, 0)[0] - 2)))

    win = Window(HelpControl(ts), style="class:help")
    return Float(ConditionalContainer(win, filter=Condition(lambda: ts.show_help)),
                 width=lambda: dims()[0], height=lambda: dims()[1])
