"""CR0, CR2, CR3, CR4 and EFER decoded, with the checker's rule IDs on rejected registers."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from debugger.cpustate import CpuState
from debugger.ui.fmt import CR0_BITS, CR4_BITS, EFER_BITS, bit_names
from debugger.ui.panes import pane

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["control_registers"]


def control_registers(st: CpuState, prev: CpuState | None = None,
                      bad: dict[str, list[tuple[str, str]]] | None = None) -> Text:
    bad = bad or {}
    t = Text()
    rows = (("cr0", CR0_BITS, 8), ("cr4", CR4_BITS, 8), ("efer", EFER_BITS, 4))
    for name, table, digits in rows:
        v = getattr(st, name)
        changed = prev is not None and getattr(prev, name) != v
        rules = sorted({r for _, r in bad.get(name, [])})
        t.append(f"{name.upper():<4} ", style="reg.name")
        t.append(f"{v:0{digits}x}", style="seg.bad" if rules else
                 "reg.changed" if changed else "reg.value")
        t.append(" [" + " ".join(bit_names(v, table)) + "]")
        if rules:
            t.append("  " + " ".join(rules), style="rule.id")
        t.append("\n")
    for name in ("cr2", "cr3"):
        v = getattr(st, name)
        changed = prev is not None and getattr(prev, name) != v
        t.append(f"{name.upper():<4} ", style="reg.name")
        t.append(f"{v:08x}", style="reg.changed" if changed else "reg.value")
        t.append("  ")
    other = sorted({r for reg, rs in bad.items() if reg not in (
        "cr0", "cr4", "efer", "es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr") for _, r in rs})
    if other:
        t.append("  other rules: ", style="muted")
        t.append(" ".join(other), style="rule.id")
    return t


@pane("control", order=40, title="control registers")
def control_pane(view: "ContextView", width: int) -> Text:
    from debugger.ui.verdicts import violations_by_register

    return control_registers(view.state, view.previous, violations_by_register(view.verdict))
