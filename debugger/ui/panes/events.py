"""The latest machine events (BIOS calls, exceptions, A20 changes, unknown I/O, ...)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable

from rich.text import Text

from debugger.ui.panes import pane

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["events_text", "with_symbols"]


# an address an event names: "#GP at 0x807a", "INT 19h from 0000:7C35"
_ADDRESS = re.compile(r"\b(at|from) (0x[0-9a-fA-F]+|[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4})\b")


def with_symbols(message: str, symbols: Any) -> str:
    """`message` with <name+off> after each code address it names, as in the stop lines."""
    if not symbols:
        return message

    def name(m: "re.Match[str]") -> str:
        text = m.group(2)
        if ":" in text:
            seg, off = (int(x, 16) for x in text.split(":"))
            addr = (seg << 4) + off
        else:
            addr = int(text, 16)
        where = symbols.describe(addr)
        return m.group(0) + (f" <{where}>" if where else "")
    return _ADDRESS.sub(name, message)


def events_text(events: Iterable[Any], symbols: Any = None) -> Text:
    t = Text()
    for i, ev in enumerate(events):
        if i:
            t.append("\n")
        t.append(f"[{ev.icount}] ", style="event.icount")
        t.append(f"{ev.kind}: ", style="event.kind")
        t.append(with_symbols(str(ev.message), symbols))
    return t


@pane("events", order=70, title="events")
def events_pane(view: "ContextView", width: int) -> Text | None:
    if not view.events:
        return Text("(none yet)", style="muted")
    return events_text(view.events, view.symbols)
