"""The TUI's memory pane: `tui memory EXPR [linear|physical]`, re-evaluated at every stop.

Each row is SEL:OFF (when the expression had one), the linear and physical addresses, the
bytes in hex and the same bytes as ASCII.  How many bytes a row holds and which address columns
are shown follow the pane's width, so a row is always whole: its ASCII column is never cut."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from debugger.ui.tui.panes import tui_pane
from debugger.ui.tui.styles import Fragments, to_lines

if TYPE_CHECKING:
    from debugger.ui.tui.state import TuiState
    from debugger.ui.tui.view import TuiView

__all__ = ["memory", "memory_form", "memory_row_width"]


def _crop(text: Text) -> Text:
    text.no_wrap = True
    text.overflow = "crop"
    return text


def _mem_title(view: "TuiView", ts: "TuiState") -> str:
    return f"memory {ts.mem_expr} ({ts.mem_space})"


# (bytes per row, linear address column, physical address column), best first
_MEM_FORMS = ((16, True, True), (16, True, False), (16, False, False), (8, True, False),
              (8, False, False), (4, False, False), (2, False, False), (1, False, False))


def memory_form(width: int, seg_digits: int | None) -> tuple[int, bool, bool]:
    """How a memory row fits in `width` columns with its whole ASCII column: bytes per row and
    whether the linear and physical address columns are shown (`seg_digits`: the offset's
    digits when rows start with SEL:OFF; without it the linear address is always shown)."""
    for per, lin, phys in _MEM_FORMS:
        if seg_digits is None and not lin:
            continue
        if memory_row_width(per, seg_digits, lin, phys) <= width:
            return per, lin, phys
    return 1, seg_digits is None, False


def memory_row_width(per: int, seg_digits: int | None, lin: bool, phys: bool) -> int:
    prefix = (0 if seg_digits is None else 6 + seg_digits) + (9 if lin else 0) + \
        (11 if phys else 0)
    return prefix + 3 * per + (1 if per >= 2 else 0) + 1 + per


@tui_pane("memory", _mem_title)
def memory(view: "TuiView", ts: "TuiState", width: int, height: int) -> list[Fragments]:
    mv = view.memory
    if mv is None or mv.error:
        msg = mv.error if mv is not None else "(no memory view)"
        return to_lines(Text(msg, style="error"), width, ts.theme) + to_lines(
            Text("tui memory EXPR [linear|physical] chooses the address", style="muted"),
            width, ts.theme)
    digits = None
    if mv.segment is not None:
        last = (mv.segment[1] + max(0, len(mv.data) - 1)) & 0xFFFFFFFF
        digits = 4 if last <= 0xFFFF and mv.segment[1] <= 0xFFFF else 8
    per, show_lin, show_phys = memory_form(width, digits)
    ts.mem_per = per                          # (the arrows move by one row as shown)
    t = Text()
    for r in range(0, len(mv.data), per):
        if r:
            t.append("\n")
        addr = mv.address + r
        if mv.segment is not None:
            sel, off = mv.segment
            t.append(f"{sel:04x}:{(off + r) & 0xFFFFFFFF:0{digits}x} ", style="stack.addr")
        if show_lin:
            t.append(f"{addr:08x} ", style="stack.addr")
        if show_phys:
            rows = mv.physical
            ph = rows[r // 16] if r // 16 < len(rows) else None
            if ph is not None:
                ph += r % 16
            t.append("p:" + (f"{ph:08x} " if ph is not None else "-------- "), style="muted")
        chunk = mv.data[r:r + per]
        old = mv.previous[r:r + per] if mv.previous else chunk
        for i, b in enumerate(chunk):
            changed = i < len(old) and old[i] != b
            t.append(f"{b:02x}", style="mem.changed" if changed else "")
            t.append(" " if i != per // 2 - 1 else "  ")
        t.append(" " + "   " * (per - len(chunk)) + (" " if len(chunk) <= per // 2 - 1 else ""))
        t.append("".join(chr(b) if 32 <= b < 127 else "." for b in chunk), style="mem.ascii")
    return to_lines(_crop(t), width, ts.theme)
