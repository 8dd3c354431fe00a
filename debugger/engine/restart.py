"""gdb's `run` again: the session's guest back at the hand-off state.

The machine is rewound to its power-on state (`debugger.machine.rewind`: 0000:7C00, the same
disks -- their writes forgotten -- RAM size, keys and serial input).  What the user set up stays:
breakpoints, watchpoints and catchpoints (with their hit counts, as gdb keeps them), displays,
symbols, convenience variables.  What described the old run goes: the interrupt-delivery log,
the activity log, and time travel's history (its icounts would now name two moments; the caller
turns it on again).  Recording to a trace file must be stopped first (the file describes one run).
"""
from __future__ import annotations

from typing import Any

from debugger.engine.points import ExprWatch
from debugger.engine.stops import StopEvent
from debugger.machine.rewind import rewind

__all__ = ["restart"]


def restart(s: Any, error: type[Exception]) -> StopEvent:
    """Rewind the session `s` (a debugger.engine.session.Session); `error` is raised (its
    SessionError) when it cannot be done."""
    rec = getattr(s, "recorder", None)
    if rec is not None:
        raise error("recording to a trace file (it holds one run): 'record stop' first")
    with s._lock:
        if getattr(s, "timeline", None) is not None:
            s.timeline = None                  # type: ignore[attr-defined]
        rewind(s.machine, s.handoff)
        s.deliveries.records.clear()
        log = getattr(s, "activity", None)
        if log is not None:
            log.forget_after(-1)
        s._mut += 1
        s.interrupt_requested = False
        s._state_cache = None
    for w in list(s.points):
        if isinstance(w, ExprWatch):
            try:
                w.last_value = s.eval(w.expr)
            except Exception:
                pass
    cs, rip, linear, bits = s.machine.cpu.where()
    ev = StopEvent("start", 0, cs, rip, linear, bits=bits,
                   message="restarted at the hand-off state")
    return s._stopped(None, ev)
