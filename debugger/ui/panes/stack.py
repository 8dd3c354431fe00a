"""The stack at SS.base + SP, in the stack's width (16-bit SS: words, 32-bit: dwords, long: qwords)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from debugger.cpustate import CpuState, Mode
from debugger.ui.panes import pane

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["stack_text"]


def stack_text(st: CpuState, data: bytes) -> Text:
    width = 8 if st.mode is Mode.LONG else 4 if st.ss.db else 2
    mask = (1 << 64) - 1 if width == 8 else 0xFFFFFFFF if width == 4 else 0xFFFF
    sp = st.rsp & mask
    t = Text()
    if not data:
        return Text(f"(stack at linear {st.sp_linear:#x} is not readable)", style="muted")
    for i in range(len(data) // width):
        if i:
            t.append("\n")
        off = (sp + i * width) & mask
        value = int.from_bytes(data[i * width:(i + 1) * width], "little")
        t.append("SP=> " if i == 0 else "     ", style="stack.sp")
        t.append(f"{st.ss.selector:04x}:{off:0{2 * min(width, 4)}x}", style="stack.addr")
        lin = off if st.mode is Mode.LONG else (st.ss.base + off) & 0xFFFFFFFF
        t.append(f" {lin:08x}  ", style="muted")
        t.append(f"{value:0{2 * width}x}")
    return t


@pane("stack", order=60, title="stack")
def stack_pane(view: "ContextView", width: int) -> Text:
    return stack_text(view.state, view.stack)
