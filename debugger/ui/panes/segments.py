"""The segment table: selector and hidden cache (base, limit, access rights decoded) for every
segment register, with each field the checker's profile rejects marked and its rule IDs."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from debugger.cpustate import CpuState, Mode, Segment
from debugger.ui.fmt import seg_type
from debugger.ui.panes import pane

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["segment_table", "column_of"]

COLUMNS = ("reg", "sel", "base", "limit", "AR", "type", "S", "DPL", "P", "D/B", "G", "L", "U",
           "rules")

_FIELD_COLUMNS = {
    "selector": "sel", "sel": "sel", "rpl": "sel", "ti": "sel", "base": "base",
    "limit": "limit", "type": "type", "s": "S", "dpl": "DPL", "p": "P", "present": "P",
    "db": "D/B", "d/b": "D/B", "d": "D/B", "b": "D/B", "g": "G", "l": "L",
    "unusable": "U", "ar": "AR", "access": "AR", "attributes": "AR",
}


def column_of(field: str) -> str:
    """The table column a violation's field names ('ds.ar.dpl' -> 'DPL', 'ds.base' -> 'base')."""
    parts = [p for p in field.lower().replace("_", ".").split(".") if p]
    for p in reversed(parts):
        if p in _FIELD_COLUMNS:
            return _FIELD_COLUMNS[p]
    return "AR" if any("ar" == p[:2] for p in parts[1:]) else "rules"


def _cells(name: str, seg: Segment, wide: bool) -> dict[str, str]:
    bw = 16 if wide else 8
    return {
        "reg": name.upper(), "sel": f"{seg.selector:04x}", "base": f"{seg.base:0{bw}x}",
        "limit": f"{seg.limit:08x}", "AR": f"{seg.ar:05x}", "type": seg_type(seg),
        "S": str(seg.s), "DPL": str(seg.dpl), "P": str(seg.present), "D/B": str(seg.db),
        "G": str(seg.g), "L": str(seg.l), "U": "yes" if seg.unusable else "",
    }


def segment_table(st: CpuState, prev: CpuState | None = None,
                  bad: dict[str, list[tuple[str, str]]] | None = None) -> Table:
    bad = bad or {}
    wide = st.mode in (Mode.LONG, Mode.COMPAT) or any(s.base >> 32 for _, s in st.segments())
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
              header_style="muted")
    rows = {name: _cells(name, seg, wide) for name, seg in st.segments()}
    for c in COLUMNS:
        if c == "rules":
            t.add_column(c, overflow="fold", ratio=1)
        else:
            width = max(len(c), *(len(r[c]) for r in rows.values()))
            t.add_column(c, no_wrap=True, min_width=width)
    for name, seg in st.segments():
        cells = _cells(name, seg, wide)
        old = _cells(name, getattr(prev, name), wide) if prev is not None else cells
        marks: dict[str, list[str]] = {}
        for fld, rule in bad.get(name, []):
            marks.setdefault(column_of(fld), []).append(rule)
        row: list[Any] = []
        for c in COLUMNS[:-1]:
            style = "seg.name" if c == "reg" else (
                "seg.bad" if c in marks else "reg.changed" if cells[c] != old[c] else
                "seg.unusable" if seg.unusable else "seg.field")
            row.append(Text(cells[c], style=style))
        rules = sorted({r for rs in marks.values() for r in rs})
        row.append(Text(" ".join(rules), style="rule.id"))
        t.add_row(*row)
    return t


def dtr_line(st: CpuState) -> Text:
    t = Text()
    for name in ("gdtr", "idtr"):
        d = getattr(st, name)
        t.append(f"{name.upper()} ", style="seg.name")
        t.append(f"base {d.base:08x} limit {d.limit:04x}   ")
    return t


@pane("segments", order=30, title="segments (hidden caches)")
def segments_pane(view: "ContextView", width: int) -> Any:
    from rich.console import Group

    from debugger.ui.verdicts import violations_by_register

    bad = violations_by_register(view.verdict)
    return Group(segment_table(view.state, view.previous, bad), dtr_line(view.state))
