"""General registers (changed ones highlighted) and EFLAGS with VM, IOPL and IF up front."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text

from debugger.cpustate import CpuState, Mode
from debugger.ui.fmt import EFLAGS_BITS
from debugger.ui.panes import pane

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["registers", "eflags_line"]

_LEGACY = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp")
_EXTRA = ("r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


def _wide(st: CpuState) -> bool:
    return st.mode in (Mode.LONG, Mode.COMPAT) or any(
        getattr(st, r) >> 32 for r in _LEGACY + _EXTRA)


def registers(st: CpuState, prev: CpuState | None, width: int = 100) -> Text:
    wide = _wide(st)
    names = _LEGACY + (_EXTRA if wide else ())
    digits = 16 if wide else 8
    cell = 4 + digits + 2
    per_line = max(1, min(4, width // cell))
    t = Text()
    for i, n in enumerate(names):
        label = n.upper() if wide else "E" + n[1:].upper()
        val = getattr(st, n) & ((1 << (4 * digits)) - 1)
        changed = prev is not None and getattr(prev, n) != getattr(st, n)
        t.append(f"{label:>3} ", style="reg.name")
        t.append(f"{val:0{digits}x}", style="reg.changed" if changed else "reg.value")
        t.append("\n" if (i + 1) % per_line == 0 else "  ")
    ip_name = "RIP" if wide else "EIP"
    ip_val = st.rip if wide else st.rip & 0xFFFFFFFF
    changed = prev is not None and prev.rip != st.rip
    t.append(f"{ip_name} ", style="reg.name")
    t.append(f"{ip_val:0{digits}x}", style="reg.changed" if changed else "reg.value")
    flags = eflags_line(st, prev)
    # EFLAGS beside EIP if the whole line fits, else on a line of its own, its [flag list] on
    # the next one if that is still too wide (never broken mid-list)
    t.append("  " if 4 + digits + 2 + len(flags.plain) <= width else "\n")
    cut = flags.plain.find("  [")
    if len(flags.plain) > width and cut > 0:
        flags = Text("\n").join([flags[:cut], flags[cut + 2:]])
    t.append_text(flags)
    return t


def eflags_line(st: CpuState, prev: CpuState | None = None) -> Text:
    f = st.rflags
    changed = prev is not None and prev.rflags != f
    t = Text()
    t.append("EFLAGS ", style="reg.name")
    t.append(f"{f & 0xFFFFFFFF:08x}", style="reg.changed" if changed else "reg.value")
    for label, value in (("VM", int(st.vm)), ("IOPL", st.iopl), ("IF", f >> 9 & 1)):
        t.append(f"  {label}=", style="flag.prominent")
        t.append(str(value), style="flag.prominent")
    t.append("  [")
    first = True
    for bit, name in EFLAGS_BITS:
        if name in ("VM", "IF"):
            continue
        on = f >> bit & 1
        if not on and bit > 11:
            continue          # rare high flags only when set
        if not first:
            t.append(" ")
        first = False
        t.append(name if on else name.lower(), style="flag.on" if on else "flag.off")
    t.append("]")
    return t


@pane("regs", order=20, title="registers")
def regs_pane(view: "ContextView", width: int) -> Group:
    return Group(registers(view.state, view.previous, width))
