"""`TuiView`: everything the TUI panes show, collected from the session in one go.

The view is taken on the UI thread while the guest is stopped (or by the worker thread right
after a command), so panes never touch the engine while it runs: they render the last view.  It
extends the REPL's `ContextView` (state, previous state, verdict, code, stack, events) with the
VGA cells, the serial output, the memory pane's bytes and the event timeline.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from debugger.cpustate import CpuState, Mode
from debugger.ui.context import ContextView, view_of

if TYPE_CHECKING:
    from debugger.engine.session import Session
    from debugger.ui.tui.state import TuiState

__all__ = ["TuiView", "MemoryView", "TimelineEntry", "take_view", "transitions"]


@dataclass(frozen=True)
class MemoryView:
    expr: str
    space: str                       # "linear" or "physical"
    address: int = 0                 # first byte shown (linear or physical)
    data: bytes = b""
    previous: bytes = b""            # the same bytes at the previous view (change highlight)
    physical: Sequence[int | None] = ()   # physical address of each row (None: not mapped)
    segment: tuple[int, int] | None = None   # (selector, offset) when the expression had one
    error: str = ""


@dataclass(frozen=True)
class TimelineEntry:
    icount: int
    kind: str
    message: str
    source: str                      # "machine" (event log), "stop" or "state" (derived)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TuiView:
    context: ContextView
    screen: Sequence[Sequence[tuple[str, int]]] = ()    # VGA cells (char, attribute)
    cursor: tuple[int, int] | None = None
    serial: bytes = b""
    memory: MemoryView | None = None
    timeline: Sequence[TimelineEntry] = ()
    profiles: Sequence[str] = ()
    rule_count: int = 0
    stops: int = 0

    @property
    def state(self) -> CpuState:
        return self.context.state


def transitions(prev: CpuState | None, cur: CpuState, prev_ok: bool | None, cur_ok: bool | None,
                icount: int, profile: str) -> list[TimelineEntry]:
    """What changed between two stops that the timeline shows: mode, vm86, CPL, VM-entry."""
    if prev is None:
        return []
    out = []
    if prev.mode is not cur.mode:
        kind = ("vm86-enter" if cur.mode is Mode.VM86 else
                "vm86-leave" if prev.mode is Mode.VM86 else "mode")
        out.append(TimelineEntry(icount, kind, f"{prev.mode.value} -> {cur.mode.value}",
                                 "state", {"before": prev.mode.value, "after": cur.mode.value}))
    elif prev.cpl != cur.cpl:
        out.append(TimelineEntry(icount, "cpl", f"CPL {prev.cpl} -> {cur.cpl}", "state"))
    if prev_ok is not None and cur_ok is not None and prev_ok != cur_ok:
        kind = "vmx-valid" if cur_ok else "vmx-invalid"
        out.append(TimelineEntry(icount, kind, f"{'enterable' if cur_ok else 'not enterable'}"
                                 f" under {profile}", "state"))
    return out


def _memory(session: "Session", ts: "TuiState", old: MemoryView | None, rows: int
            ) -> MemoryView:
    from debugger.engine.addresses import parse_location, parse_physical
    from debugger.engine.expr import ExprError

    size = 16 * max(1, rows)
    physical = ts.mem_space == "physical"
    try:
        ctx = session.context()
        loc = parse_physical(ts.mem_expr, ctx) if physical else parse_location(ts.mem_expr, ctx)
    except (ExprError, Exception) as exc:       # any bad expression: one line in the pane
        return MemoryView(ts.mem_expr, ts.mem_space, error=str(exc) or type(exc).__name__)
    addr = (int(loc.value) + ts.scroll.get("memory", 0) * 16) & 0xFFFFFFFFFFFFFFFF
    seg = None
    if loc.seg is not None and loc.off is not None:
        seg = (loc.seg, loc.off + ts.scroll.get("memory", 0) * 16)
    try:
        data = session.read_memory(addr, size, ts.mem_space)
    except Exception as exc:
        return MemoryView(ts.mem_expr, ts.mem_space, addr, error=str(exc), segment=seg)
    phys: list[int | None] = []
    for r in range(0, size, 16):
        if physical:
            phys.append(addr + r)
            continue
        try:
            phys.append(session.machine.mem.translate(addr + r))
        except Exception:
            phys.append(None)
    prev = b""
    if old is not None and old.address == addr and old.space == ts.mem_space:
        prev = old.data
    return MemoryView(ts.mem_expr, ts.mem_space, addr, data, prev, phys, seg)


def take_view(session: "Session", ts: "TuiState", old: "TuiView | None" = None) -> TuiView:
    """A fresh view of the session for the panes (call only while the guest is stopped)."""
    ctx = view_of(session, before=ts.code_before, after=ts.code_after,
                  stack_slots=ts.stack_slots, events=0)
    if ts.code_anchor is not None:
        from debugger.ui.context import code_around

        code = code_around(session, ts.code_anchor, ctx.state.bits, ts.code_before,
                           ts.code_after)
        ctx = dataclasses.replace(ctx, code=code)
    m = session.machine
    vga = m.devices.vga
    try:
        cells = vga.screen_cells()
    except Exception:          # the text buffer is not readable (unmapped): no screen
        cells = []
    cursor = vga.cursor() if vga.cursor_visible else None
    mem = _memory(session, ts, old.memory if old is not None else None, ts.mem_rows)
    timeline = _timeline(session, ts)
    from debugger.checks import PROFILES

    rules = len(getattr(ctx.verdict, "violations", ()) or ())
    return TuiView(context=ctx, screen=cells, cursor=cursor, serial=bytes(session.serial),
                   memory=mem, timeline=timeline, profiles=tuple(PROFILES), rule_count=rules,
                   stops=len(session.stops))


def _timeline(session: "Session", ts: "TuiState") -> list[TimelineEntry]:
    entries = [TimelineEntry(e.icount, e.kind, str(e.message), "machine", dict(e.details))
               for e in session.machine.events]
    for n, ev in enumerate(session.stops, 1):
        if ev.kind in ("step",):
            continue
        entries.append(TimelineEntry(ev.icount, ev.kind, f"stop #{n}: {ev.summary()}", "stop",
                                     {"instruction": ev.instruction, **ev.details,
                                      **({"changes": [str(c) for c in ev.changes]}
                                         if ev.changes else {})}))
    seen = {(e.icount, e.kind) for e in entries}
    entries.extend(e for e in ts.derived if (e.icount, e.kind) not in seen)
    entries.sort(key=lambda e: e.icount)
    return entries[-ts.timeline_max:]
