"""Write watchpoints over the writes the machine makes itself, with the engine at rest: the frame
interrupt delivery pushes, the buffer a BIOS service fills (INT 13h), the stack image exactfix
corrects.  Unicorn's memory hooks see only the guest's own accesses; `Memory.write_hooks` sees
these.  A watchpoint takes them as the guest's: it stops after the instruction or INT (and its
delivery or service) that caused them, with the value written.
"""
from __future__ import annotations

from typing import Any

from unicorn import UC_MEM_WRITE

from debugger.machine.pc import Stop

__all__ = ["HostWrites"]


class HostWrites:
    """The `Memory.write_hooks` entry of one run's watchers."""

    def __init__(self, w: Any) -> None:
        """`w`: the run's `Watchers` (its points, hit list, mode, machine, and the physical
        bytes each watch covers under the current mapping: `w._remap.layout`)."""
        self.w = w
        self.watched = any(p.access in ("write", "access") for p in w.mems)

    def __call__(self, phys: int, size: int) -> None:
        w = self.w
        if w.muted:
            return
        for p, lo, hi in w._remap.layout.pieces:      # (re-armed whenever the mapping changes)
            if p.access not in ("write", "access") or phys + size <= lo or hi < phys \
                    or any(h[0] is p for h in w._mem_hits):
                continue
            w._mem_hits.append((p, UC_MEM_WRITE, max(phys, lo), size, 0))
            if not w.exact:      # (a fast run: localised like a hook's hit at this icount)
                w._hit_icount = w.m.icount
                w.m.request_stop(Stop.EVENT, "watchpoint", event="watch")
