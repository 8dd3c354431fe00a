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

from debugger.cpustate import CpuState
from debugger.ui.context import ContextView, view_of

if TYPE_CHECKING:
    from debugger.engine.session import Session
    from debugger.ui.tui.state import TuiState

__all__ = ["TuiView", "MemoryView", "TimelineEntry", "take_view", "build_timeline"]


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
    source: str                      # activity source ("transition", "io", ...), or "stop"
    details: dict[str, Any] = field(default_factory=dict)
    cs: int | None = None            # where it happened (None: not known, e.g. before the TUI)
    eip: int | None = None
    count: int = 1                   # > 1: consecutive like happenings shown as one row
    last: int | None = None          # the last one's icount when count > 1


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
    time_travel: bool = False        # the session can go to an icount (Enter on an event)
    code_guessed: frozenset[int] = frozenset()   # listing lines not known to be boundaries

    @property
    def state(self) -> CpuState:
        return self.context.state


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
    addr = (int(loc.value) + ts.scroll.get("memory", 0)) & 0xFFFFFFFFFFFFFFFF   # (bytes)
    seg = None
    if loc.seg is not None and loc.off is not None:
        seg = (loc.seg, loc.off + ts.scroll.get("memory", 0))
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
    ctx = view_of(session, before=0, after=ts.code_after, stack_slots=ts.stack_slots,
                  events=0)
    code, guessed = _code(session, ts, ctx, old)
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
                   stops=len(session.stops), code_guessed=guessed,
                   time_travel=getattr(session, "timeline", None) is not None)


def _code(session: "Session", ts: "TuiState", ctx: ContextView, old: "TuiView | None"
          ) -> tuple[list[Any], frozenset[int]]:
    """The listing around CS:EIP (or the cursor's anchor) and the lines that are guesses.

    The instruction at CS:EIP and the last stop's instruction are remembered as known starts
    first; the lines before the target are real boundaries where a known start leads to them
    (`codeview`)."""
    from debugger.ui.tui.codeview import listing_before

    st = ctx.state
    known = ts.known_starts
    if ctx.code:
        known.add(ctx.code[0].address, st.bits, ctx.code[0].bytes)
    ev = session.last_stop
    if ev is not None and ev.instruction_address is not None and ev.instruction_bytes:
        _ = ev.instruction                   # (decoding trims the bytes to the instruction)
        known.add(ev.instruction_address, ev.bits, ev.instruction_bytes)
    target = st.pc if ts.code_anchor is None else ts.code_anchor
    forward = list(ctx.code) if ts.code_anchor is None else \
        session.disassemble(target, ts.code_after + 1, st.bits)
    floor = 0 if st.bits == 64 else st.cs.base

    def read(addr: int, n: int) -> bytes:
        return session.read_memory(addr, n)
    back, real = listing_before(read, target, st.bits, ts.code_before, known, floor)
    guessed = {i.address for i in back if i.address not in real}
    if ts.code_anchor is not None and old is not None and target in old.code_guessed and \
            not known.is_start(target, st.bits, forward[0].bytes if forward else b""):
        # scrolled onto a guessed line: what follows it is a guess up to a known start
        for ins in forward:
            if ins.address == st.pc or known.is_start(ins.address, st.bits, ins.bytes):
                break
            guessed.add(ins.address)
    return back + forward, frozenset(guessed)


def _timeline(session: "Session", ts: "TuiState") -> list[TimelineEntry]:
    log = getattr(session, "activity", None)
    key = (id(log), getattr(log, "changes", 0), len(session.stops), session.profile,
           ts.timeline_max)
    cached = ts.timeline_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    entries = build_timeline(session, ts.timeline_max)
    ts.timeline_cache = (key, entries)
    return entries


def build_timeline(session: "Session", limit: int = 2000) -> list[TimelineEntry]:
    """The activity log (or, without one, the machine's event log) and the stops, oldest
    first; VM-entry verdict changes only under the session's profile; runs of port I/O (and of
    one interrupt or BIOS function repeated) are grouped into one row."""
    log = getattr(session, "activity", None)
    out: list[TimelineEntry] = []
    seen: set[tuple[int, str]] = set()
    if log is not None:
        for a in log.entries:
            if a.kind in ("vmx-invalid", "vmx-valid") and \
                    a.details.get("profile") != session.profile:
                continue
            out.append(TimelineEntry(a.icount, a.kind, a.message, a.source, a.details,
                                     a.cs, a.eip))
            seen.add((a.icount, a.kind))
    else:
        out.extend(TimelineEntry(e.icount, e.kind, str(e.message), "machine", dict(e.details))
                   for e in session.machine.events)
    for n, ev in enumerate(session.stops, 1):
        if ev.kind in ("step", "goto", "history") or (ev.icount, ev.kind) in seen:
            continue
        out.append(TimelineEntry(ev.icount, ev.kind, f"stop #{n}: {ev.summary()}", "stop",
                                 {"instruction": ev.instruction, **ev.details,
                                  **({"changes": [str(c) for c in ev.changes]}
                                     if ev.changes else {})}, ev.cs, ev.eip))
    out.sort(key=lambda e: e.icount)
    return _grouped(out)[-limit:]


def _group_key(e: TimelineEntry) -> Any:
    if e.kind == "io":
        return "io"
    if e.kind in ("irq", "int", "bios"):
        return (e.kind, e.details.get("vector"), (e.details.get("ax") or 0) >> 8, e.cs)
    return None


def _grouped(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    out: list[TimelineEntry] = []
    run: list[TimelineEntry] = []

    def flush() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.append(_group(run))
        run.clear()
    for e in entries:
        k = _group_key(e)
        if run and (k is None or k != _group_key(run[0])):
            flush()
        if k is None:
            out.append(e)
        else:
            run.append(e)
    flush()
    return out


def _group(run: list[TimelineEntry]) -> TimelineEntry:
    first = run[0]
    if first.kind == "io":
        counts: dict[str, int] = {}
        for e in run:
            d = e.details
            name = f"{d.get('direction')} {d.get('port', 0):#06x}"
            counts[name] = counts.get(name, 0) + 1
        msg = f"{len(run)} port accesses: " + ", ".join(
            f"{k} x{n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])[:4])
    else:
        msg = f"{first.message} x{len(run)}"
    lines = [f"{e.icount}: " + (f"{e.cs:04x}:{e.eip:04x} " if e.cs is not None and
                                e.eip is not None else "") + e.message for e in run[:40]]
    if len(run) > 40:
        lines.append(f"... and {len(run) - 40} more up to icount {run[-1].icount}")
    return TimelineEntry(first.icount, first.kind, msg, first.source,
                         {"each": lines}, first.cs, first.eip, count=len(run),
                         last=run[-1].icount)
