"""The TUI's containers: one window per pane (made once, so focus survives re-layouts), arranged
by the layout chosen for the terminal size on every render.

Layouts are columns of *slots*; a slot shows one pane, or several as tabs (the focused or last
chosen one shown).  `wide` (>= 210x45) shows every pane at once, `tall` (>= 110x32) keeps the
registers, segments and code on the left and tabs the rest on the right, and `tabs` (anything
smaller, e.g. 80x24) shows one pane at a time under a tab bar.  Each pane has a one-line title
bar instead of a full frame, so small terminals keep their rows for content.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from prompt_toolkit.application.current import get_app
from prompt_toolkit.layout import (
    AnyContainer, DynamicContainer, Float, FloatContainer, HSplit, Layout,
    VSplit, Window,
)
from prompt_toolkit.layout.controls import FormattedTextControl, UIContent, UIControl
from prompt_toolkit.layout.dimension import Dimension as D
from prompt_toolkit.layout.menus import CompletionsMenu
from prompt_toolkit.layout.mouse_handlers import MouseHandlers
from prompt_toolkit.layout.screen import Screen, WritePosition

from debugger.ui.tui import io_panes, memory_pane  # noqa: F401  (registers their panes)
from debugger.ui.tui.helpbox import help_float as help_float_of
from debugger.ui.tui.panes import PANES, code_index, plugin_panes, render, title_of
from debugger.ui.tui.styles import Fragments

if TYPE_CHECKING:
    from debugger.ui.tui.state import TuiState
    from debugger.ui.tui.view import TuiView

__all__ = ["PaneControl", "TuiLayout", "choose_layout", "slots_of", "screen_text", "fit_title"]

Slot = tuple[str, ...]
# Columns of slots: (slot, height) with height None = share the rest.  A column's width: None
# shares the rest, a negative number is that percentage of the terminal (at least 44 columns).
_LAYOUTS: dict[str, list[tuple[int | None, list[tuple[Slot, int | None]]]]] = {
    "wide": [
        (58, [(("regs",), 13), (("stack",), None), (("memory",), None)]),
        (None, [(("segments",), 14), (("code",), None), (("output",), 10)]),
        (82, [(("screen",), 26), (("serial",), None), (("events",), None)]),
    ],
    "tall": [
        (None, [(("regs",), 11), (("segments",), 14), (("code", "screen"), None)]),
        (-40, [(("stack", "memory"), None), (("events", "serial"), None), (("output",), None)]),
    ],
    "tabs": [
        (None, [(("summary",), 2), (("code", "regs", "segments", "stack", "memory", "screen",
                                     "serial", "events"),
                 None), (("output",), 5)]),
    ],
}
_TAIL_PANES = ("serial", "output")     # follow their end unless scrolled back
_SELF_SCROLLED = ("memory", "events")  # the pane function handles the offset itself
_MARKED = ("regs", "segments")         # a last line says how many lines are below


def choose_layout(ts: "TuiState", cols: int, rows: int) -> str:
    if ts.layout != "auto":
        return ts.layout
    if cols >= 210 and rows >= 45:
        return "wide"
    if cols >= 110 and rows >= 32:
        return "tall"
    return "tabs"


def slots_of(name: str, shown: list[str]) -> list[tuple[int | None, list[tuple[Slot, int | None]]]]:
    """The layout's columns with hidden panes removed (empty slots and columns dropped); panes
    of loaded plugins are tabs beside the code pane."""
    out = []
    extra = tuple(plugin_panes())
    for width, slots in _LAYOUTS[name]:
        kept = [(tuple(p for p in slot + (extra if "code" in slot else ())
                       if p in shown or p in extra), h) for slot, h in slots]
        kept = [(s, h) for s, h in kept if s]
        if kept:
            out.append((width, kept))
    return out


class PaneControl(UIControl):
    """Renders one pane at the size it is given, scrolled as the TUI state says."""

    def __init__(self, name: str, ts: "TuiState", get_view: Callable[[], "TuiView | None"]
                 ) -> None:
        self.name = name
        self.ts = ts
        self.get_view = get_view
        self._cache: tuple[object, tuple[object, ...], list[Fragments]] | None = None

    def is_focusable(self) -> bool:
        return True

    def _key(self, width: int, height: int) -> tuple[object, ...]:
        """What the pane's content depends on besides the view (the status line is redrawn
        four times a second while the guest runs; the panes are not re-rendered for it)."""
        ts = self.ts
        return (width, height, ts.theme, ts.focus, ts.code_cursor, ts.selected_event,
                ts.show_help, len(ts.output) if self.name == "output" else 0,
                ts.scroll.get("screen_x", 0) if self.name == "screen" else 0)

    def lines(self, width: int, height: int) -> list[Fragments]:
        view = self.get_view()
        if view is None:
            return [[("", "(starting)")]]
        key = self._key(width, height)
        if self._cache is not None and self._cache[0] is view and self._cache[1] == key:
            lines = self._cache[2]
        else:
            try:
                lines = render(self.name, view, self.ts, width, height)
            except Exception as exc:      # a renderer bug must not take the UI down
                return [[("class:status.running",
                          f"pane {self.name}: {type(exc).__name__}: {exc}")]]
            self._cache = (view, key, lines)
        return self._scrolled(view, lines, height)

    def _scrolled(self, view: "TuiView", lines: list[Fragments], height: int) -> list[Fragments]:
        ts, n = self.ts, len(lines)
        if self.name in _SELF_SCROLLED or n <= height:
            return lines[:max(height, 0)] if self.name != "memory" else lines
        if self.name == "code":
            cur = code_index(view, ts.code_cursor if ts.focus == "code" else None)
            top = max(0, min(cur - height // 3, n - height)) if cur >= 0 else 0
        elif self.name in _TAIL_PANES:
            back = min(ts.scroll.get(self.name, 0), n - height)
            ts.scroll[self.name] = back
            top = n - height - back
        else:
            top = min(ts.scroll.get(self.name, 0), n - height)
            ts.scroll[self.name] = top
            hidden = n - top - height + 1
            if self.name in _MARKED and top + height < n and height > 1:
                # every line of these matters: say that some are below instead of hiding them
                return lines[top:top + height - 1] + [[(
                    "class:frame.label", f"↓ {hidden} more line{'s' if hidden != 1 else ''}"
                    " (focus the pane, then ↓)")]]
        return lines[top:top + height]

    def create_content(self, width: int, height: int) -> UIContent:
        lines = self.lines(width, height)
        return UIContent(get_line=lambda i: lines[i] if i < len(lines) else [],
                         line_count=max(1, len(lines)), show_cursor=False)


class TuiLayout:
    """The pane windows, the command line, the status bar and the help overlay, arranged."""

    def __init__(self, ts: "TuiState", get_view: Callable[[], "TuiView | None"],
                 cmdline: AnyContainer, cmdline_window: Window,
                 status: Callable[[], Fragments]) -> None:
        self.ts = ts
        self.get_view = get_view
        self.app: Any = None                 # the Application, once made
        self.windows = {name: Window(PaneControl(name, ts, get_view), wrap_lines=False)
                        for name in PANES}
        self.cmdline = cmdline_window
        body = DynamicContainer(self._body)
        status_bar = Window(FormattedTextControl(status), height=1, style="class:status")
        help_float = help_float_of(ts, self.size)
        root = FloatContainer(HSplit([body, status_bar, cmdline]), floats=[
            help_float,
            Float(xcursor=True, ycursor=True, content=CompletionsMenu(max_height=12)),
        ])
        self.layout = Layout(root, focused_element=cmdline_window)

    # -- arrangement ------------------------------------------------------------------------------
    def size(self) -> tuple[int, int]:
        """The terminal's size (from any thread: the command worker asks too)."""
        try:
            s = (self.app or get_app()).output.get_size()
            return s.columns, s.rows
        except Exception:
            return 120, 40

    def current(self) -> str:
        cols, rows = self.size()
        return choose_layout(self.ts, cols, rows)

    def shown_panes(self) -> list[str]:
        """The panes of the current layout in Tab order (hidden ones left out)."""
        return [p for _, slots in slots_of(self.current(), self.ts.panes + ["summary"])
                for slot, _ in slots for p in slot if p != "summary"]

    def slots(self) -> list[Slot]:
        """The slots of the current layout (a slot of more than one pane is a group of tabs)."""
        return [slot for _, slots in slots_of(self.current(), self.ts.panes + ["summary"])
                for slot, _ in slots]

    def tabbed_away(self, old: str, new: str) -> None:
        """Tab moved the focus from `old` to `new`: a group it left shows its first tab again,
        so a whole Tab cycle leaves every group as it was."""
        for slot in self.slots():
            if len(slot) > 1 and old in slot and new not in slot:
                self.ts.active["/".join(slot)] = slot[0]

    def active_in(self, slot: Slot) -> str:
        key = "/".join(slot)
        if self.ts.focus in slot:
            self.ts.active[key] = self.ts.focus
        pane = self.ts.active.get(key)
        return pane if pane in slot else slot[0]

    def _body(self) -> HSplit | VSplit:
        cols = []
        for width, slots in slots_of(self.current(), self.ts.panes + ["summary"]):
            if width is not None and width < 0:
                width = max(44, self.size()[0] * -width // 100)
            parts = []
            for slot, h in slots:
                parts.append(self._slot(slot, h))
            cols.append(HSplit(parts, width=D.exact(width) if width else D(weight=1)))
            cols.append(Window(width=1, char="│", style="class:frame.border"))
        if not cols:
            return HSplit([Window(FormattedTextControl("(no panes: layout show PANE)"))])
        return VSplit(cols[:-1])

    def _window(self, pane: str) -> Window:
        if pane not in self.windows:         # a plugin's pane, registered after the start
            self.windows[pane] = Window(PaneControl(pane, self.ts, self.get_view),
                                        wrap_lines=False)
        return self.windows[pane]

    def _slot(self, slot: Slot, height: int | None) -> HSplit:
        pane = self.active_in(slot)
        if pane == "summary":
            return HSplit([self.windows[pane]], height=D.exact(height or 1))
        title = Window(_TitleControl(lambda width: self._title(slot, pane, width)), height=1,
                       style="class:frame.border")
        return HSplit([title, self._window(pane)],
                      height=D(min=min(height, 4), preferred=height, max=height)
                      if height else D(min=2, weight=1))

    def _title(self, slot: Slot, pane: str, width: int = 400) -> Fragments:
        """`─ tab  tab ─ title ───`, fitted to `width`: the title loses its trailing parts
        (after two spaces or ` · `) first, then is cut with an ellipsis, then left out (the
        active tab stays marked)."""
        view = self.get_view()
        focused = self.ts.focus == pane
        label = "class:focused,frame.label" if focused else "class:frame.label"
        out: Fragments = [("class:frame.border", "─")]
        if len(slot) > 1:
            for p in slot:
                out.append(("class:tab.active" if p == pane else "class:tab", f" {p} "))
            out.append(("class:frame.border", "─"))
        used = sum(len(t) for _, t in out)
        text = fit_title(title_of(pane, view, self.ts, width) if view is not None else pane,
                         width - used - 3)
        if text:
            out.append((label, f" {text} "))
        used = sum(len(t) for _, t in out)
        out.append(("class:frame.border", "─" * max(0, width - used)))
        return crop(out, width)

    # -- focus ------------------------------------------------------------------------------------
    def sync_focus(self) -> None:
        """Give prompt_toolkit's focus to the window of `ts.focus` (after making it visible)."""
        focus = self.ts.focus
        target = self.cmdline if focus == "cmdline" else \
            self._window(focus) if focus in self.shown_panes() else None
        if target is None:
            self.ts.focus = "cmdline"
            target = self.cmdline
        try:
            self.layout.focus(target)
        except ValueError:
            pass


def fit_title(text: str, room: int) -> str:
    """`text` in at most `room` characters: whole leading parts (split at two spaces or
    ` · `), else the first part cut with an ellipsis, else ""."""
    import re

    if len(text) <= room:
        return text
    parts = re.split(r"(  | · )", text)
    best = ""
    for i in range(1, len(parts) + 1, 2):
        cand = "".join(parts[:i])
        if len(cand) > room:
            break
        best = cand
    if best:
        return best
    return text[:room - 1] + "…" if room >= 6 else ""


def crop(line: Fragments, width: int) -> Fragments:
    out: Fragments = []
    left = width
    for style, text in line:
        if left <= 0:
            break
        out.append((style, text[:left]))
        left -= len(text[:left])
    return out


class _TitleControl(UIControl):
    """A one-line control whose fragments are made for the width it is given."""

    def __init__(self, make: Callable[[int], Fragments]) -> None:
        self.make = make

    def create_content(self, width: int, height: int) -> UIContent:
        line = self.make(width)
        return UIContent(get_line=lambda i: line if i == 0 else [], line_count=1,
                         show_cursor=False)


def screen_text(container: object, width: int, height: int) -> list[str]:
    """Render `container` at width x height and return the characters (for tests and captures)."""
    screen = Screen(default_char=None)
    write = container.write_to_screen                        # type: ignore[attr-defined]
    write(screen, MouseHandlers(), WritePosition(0, 0, width, height), "", True, None)
    screen.draw_all_floats()
    rows = []
    for y in range(height):
        line = screen.data_buffer[y]
        rows.append("".join(line[x].char for x in range(width)).rstrip())
    return rows
