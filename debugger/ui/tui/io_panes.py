"""The TUI's I/O panes: the guest's VGA text screen (real attribute bytes), the serial console,
the event timeline with the selected event's details, and the command output.
Pure functions of the view and the TUI state, like `panes`."""
from __future__ import annotations

from typing import TYPE_CHECKING

from prompt_toolkit.formatted_text import ANSI, to_formatted_text
from rich.text import Text

from debugger.ui.tui.panes import tui_pane, width_title
from debugger.ui.tui.styles import Fragments, to_lines, vga_style

if TYPE_CHECKING:
    from debugger.ui.tui.state import TuiState
    from debugger.ui.tui.view import TimelineEntry, TuiView

__all__ = ["screen", "serial", "events", "output", "selected_event"]


def _screen_size(view: "TuiView") -> tuple[int, int]:
    return (len(view.screen[0]) if view.screen else 80), (len(view.screen) or 25)


def screen_x(view: "TuiView", ts: "TuiState", width: int) -> int:
    """The first VGA column shown in a pane `width` wide (Left/Right scroll it)."""
    cols = _screen_size(view)[0]
    return max(0, min(ts.scroll.get("screen_x", 0), cols - width))


@width_title("screen")
def _screen_title(view: "TuiView", ts: "TuiState", width: int) -> str:
    cols, rows = _screen_size(view)
    if width >= cols:
        return f"VGA screen ({cols}x{rows})"
    x0 = screen_x(view, ts, width)
    return f"VGA screen ({cols}x{rows})  columns {x0 + 1}-{x0 + width} of {cols}, ←→ scroll"


@tui_pane("screen", lambda v, s: "VGA screen ({}x{})".format(*_screen_size(v)))
def screen(view: "TuiView", ts: "TuiState", width: int, height: int) -> list[Fragments]:
    plain = ts.theme == "plain"
    x0 = screen_x(view, ts, width)
    out: list[Fragments] = []
    for y, row in enumerate(view.screen):
        frags: Fragments = []
        for x, (ch, attr) in enumerate(row[x0:x0 + width], x0):
            style = vga_style(attr, plain)
            if view.cursor == (y, x):
                style += " underline"
            if frags and frags[-1][0] == style:
                frags[-1] = (style, frags[-1][1] + ch)
            else:
                frags.append((style, ch))
        out.append(frags)
    if not out:
        out.append([("", "(no text screen)")])
    return out


def serial_lines(data: bytes) -> list[str]:
    text = []
    for b in data:
        text.append(chr(b) if b in (9, 10) or 32 <= b < 127 else "" if b == 13 else
                    f"\\x{b:02x}")
    return "".join(text).split("\n")


@tui_pane("serial", lambda v, s: f"serial COM1 ({len(v.serial)} bytes)")
def serial(view: "TuiView", ts: "TuiState", width: int, height: int) -> list[Fragments]:
    if not view.serial:
        return [[("", "(no serial output yet)")]]
    lines = serial_lines(view.serial)
    if lines and lines[-1] == "":
        lines.pop()
    return [[("", ln.expandtabs(8)[:width])] for ln in lines]


def selected_event(view: "TuiView", ts: "TuiState") -> int:
    n = len(view.timeline)
    if ts.selected_event is None or not n:
        return n - 1
    return max(0, min(n - 1, ts.selected_event))


def _where(e: "TimelineEntry") -> str:
    if e.cs is None or e.eip is None:
        return "-"
    return f"{e.cs:04x}:{e.eip:04x}" if e.eip <= 0xFFFF else f"{e.cs:04x}:{e.eip:08x}"


def _details(e: "TimelineEntry", view: "TuiView", travel: bool) -> Text:
    t = Text()
    t.append(f"{e.kind}", style="stop.kind")
    span = f"icount {e.icount}" + (f"..{e.last} ({e.count} of them)" if e.count > 1 else "")
    t.append(f" at {span}, CS:EIP {_where(e)}\n", style="muted")
    t.append(f"Enter: go to icount {e.icount}\n" if travel else
             "time travel is off (`record` turns it on; then Enter goes there)\n",
             style="muted")
    t.append(e.message + "\n")
    for k, v in e.details.items():
        if v is None or v == "" or v == []:
            continue
        if k == "each":
            for line in v:
                t.append(f"  {line}\n")
            continue
        if isinstance(v, int) and not isinstance(v, bool):
            v = f"{v:#x}" if k not in ("from", "to") else str(v)
        elif isinstance(v, bytes):
            v = v.hex()
        elif isinstance(v, (list, tuple)):
            v = "; ".join(str(x) for x in v)
        t.append(f"  {k}: ", style="reg.name")
        t.append(f"{v}\n")
    return t


@tui_pane("events", lambda v, s: f"event timeline ({len(v.timeline)})")
def events(view: "TuiView", ts: "TuiState", width: int, height: int) -> list[Fragments]:
    """The timeline, newest last; the selected entry's details fill the pane's bottom part.
    Entries after the current position (after going back in time) are dimmed."""
    if not view.timeline:
        return to_lines(Text("(no events yet)", style="muted"), width, ts.theme)
    sel = selected_event(view, ts)
    detail = to_lines(_details(view.timeline[sel], view, view.time_travel), width, ts.theme)
    # the details get the rows the list does not need, and up to half the pane; a last line
    # counts the detail lines that still do not fit
    n = len(view.timeline)
    room = max(2, height - 1 - n, min(len(detail), height // 2))
    if len(detail) > room:
        left = len(detail) - room + 1
        detail = detail[:room - 1] + [[("fg:#808080", f"… {left} more line"
                                        f"{'s' if left != 1 else ''}")]]
    list_h = max(1, height - len(detail) - 1)
    start = max(0, min(sel - list_h // 2, len(view.timeline) - list_h))
    now = view.context.icount
    out: list[Fragments] = []
    for i in range(start, min(len(view.timeline), start + list_h)):
        e = view.timeline[i]
        future = e.icount > now
        t = Text(no_wrap=True, overflow="ellipsis", style="muted" if future else "")
        t.append(f"{e.icount:>10} ", style="muted" if future else "event.icount")
        t.append(f"{e.kind:<11} ", style="muted" if future else "event.kind")
        t.append(f"{_where(e):<9} ", style="muted" if future else "disasm.addr")
        t.append(e.message)
        line = to_lines(t, width, ts.theme)[:1] or [[]]
        if i == sel:
            line = [[(s + " reverse" if s else "reverse", x) for s, x in line[0]]]
        out.extend(line)
    while len(out) < list_h:
        out.append([])
    out.append([("fg:#808080", "─" * width)])
    return out + detail


@tui_pane("output", "output")
def output(view: "TuiView", ts: "TuiState", width: int, height: int) -> list[Fragments]:
    with ts.lock:
        lines = list(ts.output[-max(height, 1) * 20:])
    out: list[Fragments] = []
    for ln in lines:
        frags = to_formatted_text(ANSI(ln.replace("\t", "    ")))
        out.extend(wrap([(s, t) for s, t, *_ in frags], width))
    return out


def wrap(line: Fragments, width: int) -> list[Fragments]:
    """Split one line of fragments into lines of at most `width` characters, between words
    where a line has a space in its second half (else at the width)."""
    width = max(1, width)
    text = "".join(t for _, t in line)
    cuts, pos = [], 0
    while len(text) - pos > width:
        space = text.rfind(" ", pos + width // 2, pos + width)
        end = space + 1 if space > 0 else pos + width
        cuts.append(end)
        pos = end
    out: list[Fragments] = [[]]
    at, i = 0, 0
    for style, chunk in line:
        while chunk:
            limit = cuts[i] if i < len(cuts) else at + len(chunk)
            take = chunk[:max(0, limit - at)]
            if take:
                out[-1].append((style, take))
                at += len(take)
                chunk = chunk[len(take):]
            if i < len(cuts) and at == cuts[i]:
                out.append([])
                i += 1
    if len(out) > 1 and not out[-1]:
        out.pop()
    return out
