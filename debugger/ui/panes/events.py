"""The latest machine events (BIOS calls, exceptions, A20 changes, unknown I/O, ...)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from rich.text import Text

from debugger.ui.panes import pane

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["events_text"]


def events_text(events: Iterable[Any]) -> Text:
    t = Text()
    for i, ev in enumerate(events):
        if i:
            t.append("\n")
        t.append(f"[{ev.icount}] ", style="event.icount")
        t.append(f"{ev.kind}: ", style="event.kind")
        t.append(str(ev.message))
    return t


@pane("events", order=70, title="events")
def events_pane(view: "ContextView", width: int) -> Text | None:
    if not view.events:
        return Text("(none yet)", style="muted")
    return events_text(view.events)
