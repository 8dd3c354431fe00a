"""What the arrow, PageUp/PageDown, Home and End keys do in each pane.

code: move the cursor (the listing re-centres on it near its ends, so it scrolls through
memory); events: move the selection; memory: move the address by rows; serial and output:
scroll back from the end; others: scroll the lines.  Left/Right: the VGA screen sideways when
its pane is narrower than the screen.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.ui.tui.io_panes import selected_event
from debugger.ui.tui.panes import code_index

if TYPE_CHECKING:
    from debugger.ui.tui.app import TuiApp

__all__ = ["scroll_pane", "PAGE"]

PAGE = 10
_TAIL = ("serial", "output")


def _amount(delta: int | str) -> int:
    if delta == "page":
        return PAGE
    if delta == "-page":
        return -PAGE
    return int(delta)


def scroll_pane(tui: "TuiApp", pane: str, delta: int | str) -> None:
    ts, view = tui.state, tui.view
    if view is None:
        return
    if delta in ("left", "right"):
        if pane == "screen":            # sideways, when the pane is narrower than the screen
            ts.scroll["screen_x"] = max(0, ts.scroll.get("screen_x", 0) +
                                        (8 if delta == "right" else -8))
            from debugger.ui.tui.io_panes import screen_x

            info = tui.tlayout.windows["screen"].render_info
            if info is not None:         # (not past the last column)
                ts.scroll["screen_x"] = screen_x(view, ts, info.window_width)
        return
    if pane == "code":
        _code(tui, delta)
    elif pane == "events":
        n = len(view.timeline)
        if delta == "home":
            ts.selected_event = 0
        elif delta == "end":
            ts.selected_event = None
        elif n:
            ts.selected_event = max(0, min(n - 1, selected_event(view, ts) + _amount(delta)))
    elif pane == "memory":
        if delta == "home":
            ts.scroll["memory"] = 0
        elif delta != "end":
            ts.scroll_by("memory", _amount(delta) * ts.mem_per)   # by rows as shown
        tui._idle_refresh()
    elif pane in _TAIL:
        if delta == "end":
            ts.scroll[pane] = 0
        elif delta == "home":
            ts.scroll[pane] = 1 << 30
        else:
            ts.scroll_by(pane, -_amount(delta))
    else:
        if delta == "home":
            ts.scroll[pane] = 0
        elif delta == "end":
            ts.scroll[pane] = 1 << 30
        else:
            ts.scroll_by(pane, _amount(delta))


def _code(tui: "TuiApp", delta: int | str) -> None:
    ts, view = tui.state, tui.view
    assert view is not None
    code = view.context.code
    if delta in ("home", "end") or not code:
        ts.code_cursor = None
        ts.code_anchor = None
        tui._idle_refresh()
        return
    i = code_index(view, ts.code_cursor)
    if i < 0:
        i = code_index(view, None)
    i = max(0, min(len(code) - 1, (i if i >= 0 else 0) + _amount(delta)))
    ts.code_cursor = code[i].address
    if (i < 4 or i > len(code) - 5) and not tui.runner.busy:
        ts.code_anchor = code[i].address      # re-centre the listing on the cursor
        tui.refresh_view()
