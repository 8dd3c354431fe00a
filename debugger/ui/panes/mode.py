"""The mode line: operating mode, CPL, A20, paging, icount and the checker's verdict."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from debugger.ui.panes import pane

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["mode_line"]


def mode_line(view: "ContextView") -> Text:
    st = view.state
    t = Text()
    t.append("mode ", style="muted")
    t.append(st.mode.value, style="mode")
    for label, value in (("CPL", str(st.cpl)), ("A20", "on" if st.a20 else "off"),
                         ("paging", "on" if st.pg else "off"),
                         ("activity", st.activity.name.lower()), ("icount", str(view.icount))):
        t.append(f"  {label} ", style="muted")
        t.append(value, style="mode.field")
    if view.profile:
        t.append(f"  {view.profile}: ", style="muted")
        v = view.verdict
        if v is None:
            t.append(f"unchecked ({view.verdict_error})" if view.verdict_error else "unchecked",
                     style="warning")
        elif getattr(v, "ok", False):
            t.append("enterable", style="ok")
        else:
            rules = [str(x.rule) for x in getattr(v, "violations", ())]
            shown = ", ".join(rules[:4]) + (f", +{len(rules) - 4}" if len(rules) > 4 else "")
            t.append(f"NOT enterable ({shown})", style="bad")
    return t


@pane("mode", order=10, title="")
def mode_pane(view: "ContextView", width: int) -> Text:
    return mode_line(view)
