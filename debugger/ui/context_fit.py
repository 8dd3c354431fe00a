"""The context cut to a terminal's height: the least useful parts go first.

A stop display taller than the terminal scrolls its top -- the mode line and the registers -- out
of sight.  `fit(view, width, height, panes)` renders each pane, and while the whole is taller
than `height` lines applies the next step of `STEPS`:

1. plugin panes (anything not in the default set), then the events pane;
2. the stack, down to 2 slots, then gone;
3. the code, down to 1 instruction before and 2 after CS:EIP;
4. the control registers, then the segment caches;
5. the code, down to the current instruction alone;
6. the code pane itself.

The mode line and the registers are never dropped (the stop line above them is not part of the
context).  A pane's title rule counts as one line.
"""
from __future__ import annotations

import io
from dataclasses import replace
from typing import Any, Callable, Sequence

from rich.console import Console, RenderableType

from debugger.cpustate import Mode

ContextView = Any        # debugger.ui.context.ContextView (which imports this module)

__all__ = ["fit", "STEPS"]

_CORE = ("mode", "regs", "segments", "control", "code", "stack", "events")


def _lines(body: RenderableType, width: int) -> int:
    from debugger.ui.theme import THEME

    con = Console(file=io.StringIO(), width=width, color_system=None, highlight=False,
                  emoji=False, legacy_windows=False, theme=THEME)
    return len(con.render_lines(body, con.options.update(width=width), pad=False))


def _code_window(view: ContextView, before: int, after: int) -> ContextView:
    pc = view.state.pc
    idx = next((i for i, ins in enumerate(view.code) if ins.address == pc), None)
    if idx is None:
        return replace(view, code=tuple(view.code)[:before + after + 1])
    return replace(view, code=tuple(view.code)[max(0, idx - before):idx + after + 1])


def _stack_slots(view: ContextView, slots: int) -> ContextView:
    st = view.state
    width = 8 if st.mode is Mode.LONG else 4 if st.ss.db else 2
    return replace(view, stack=view.stack[:slots * width])


# Each step: (pane name or "*plugins", how it changes the view, or None: drop the pane)
STEPS: Sequence[tuple[str, Callable[[ContextView], ContextView] | None]] = (
    ("*plugins", None),
    ("events", None),
    ("stack", lambda v: _stack_slots(v, 4)),
    ("stack", lambda v: _stack_slots(v, 2)),
    ("stack", None),
    ("code", lambda v: _code_window(v, 2, 4)),
    ("code", lambda v: _code_window(v, 1, 2)),
    ("control", None),
    ("segments", None),
    ("code", lambda v: _code_window(v, 0, 1)),
    ("code", lambda v: _code_window(v, 0, 0)),
    ("code", None),
)


def fit(view: ContextView, width: int, height: int, panes: Sequence[str],
        render: Callable[[str, ContextView], list[RenderableType]]
        ) -> list[tuple[str, ContextView]]:
    """The panes to show, in order, each with the view to render it from (narrowed for the
    code and stack panes); `render(name, view)` gives a pane's renderables (rule and body)."""
    views: dict[str, Any] = {name: view for name in panes}
    shown = list(panes)

    def size(name: str) -> int:
        return sum(_lines(r, width) for r in render(name, views[name]))

    sizes = {name: size(name) for name in shown}
    for target, change in STEPS:
        if sum(sizes[n] for n in shown) <= height:
            break
        names = [n for n in shown if n not in _CORE] if target == "*plugins" else \
            [target] if target in shown else []
        for name in names:
            if change is None:
                shown.remove(name)
            else:
                views[name] = change(views[name])
                sizes[name] = size(name)
    return [(name, views[name]) for name in shown]
