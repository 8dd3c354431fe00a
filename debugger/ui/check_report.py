"""Rich rendering of a guest-state verdict: violations grouped by register, then the diagnosis.

`render_verdict(verdict, diagnosis=None, source=None)` returns a renderable; it never prints.
"""
from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

__all__ = ["render_verdict", "REGISTER_ORDER"]

REGISTER_ORDER = ("cr0", "cr3", "cr4", "dr7", "debugctl", "efer", "pat", "perf_global_ctrl",
                  "bndcfgs", "sysenter_esp", "sysenter_eip", "es", "cs", "ss", "ds", "fs", "gs",
                  "ldtr", "tr", "gdtr", "idtr", "rip", "rflags", "ssp", "activity",
                  "interruptibility", "pending_debug", "link_pointer")


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(int(v))
    if isinstance(v, int):
        return f"{v:#x}" if v > 9 else str(v)
    return str(v)


def _order(reg: str) -> tuple[int, str]:
    return (REGISTER_ORDER.index(reg) if reg in REGISTER_ORDER else len(REGISTER_ORDER), reg)


def render_verdict(verdict: Any, diagnosis: str | None = None, source: str | None = None) -> Any:
    head = Text()
    if source:
        head.append(source + "\n", style="muted")
    head.append(f"profile {verdict.profile}: ", style="heading")
    if verdict.ok:
        head.append("enterable (no violations)", style="ok")
    else:
        n = len(verdict.violations)
        head.append(f"NOT enterable: {n} violation{'s' if n != 1 else ''}", style="bad")
    parts: list[Any] = [head]
    if verdict.violations:
        t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="heading")
        t.add_column("reg", style="seg.name", no_wrap=True)
        t.add_column("rule", style="rule.id", no_wrap=True)
        t.add_column("field", no_wrap=True)
        t.add_column("actual", no_wrap=True)
        t.add_column("required")
        t.add_column("why", ratio=1)
        t.add_column("SDM", style="muted")
        groups: dict[str, list[Any]] = {}
        for v in verdict.violations:
            groups.setdefault(v.register, []).append(v)
        for reg in sorted(groups, key=_order):
            for i, v in enumerate(groups[reg]):
                t.add_row(reg.upper() if i == 0 else "", v.rule, v.field, _fmt(v.actual),
                          _fmt(v.required), v.text, v.sdm,
                          end_section=i == len(groups[reg]) - 1)
        parts.append(t)
    if diagnosis:
        parts.append(Text("Diagnosis: ", style="heading") + Text(diagnosis))
    if verdict.not_modelled:
        parts.append(Text("Not judged (the record lacks the data): "
                          + ", ".join(verdict.not_modelled), style="muted"))
    for note in getattr(verdict, "notes", ()):
        parts.append(Text("note: " + note, style="muted"))
    return Group(*parts)
