"""Write watchpoints over the writes the machine makes itself, with the engine at rest: the frame
interrupt delivery pushes, the buffer a BIOS service fills (INT 13h), the stack image exactfix
corrects.  Unicorn's memory hooks see only the guest's own accesses; `Memory.write_hooks` sees
these.  A watchpoint takes them as the guest's: it stops after the instruction or INT (and its
delivery or service) that caused them, with the value written.
"""
from __future__ import annotations

from typing import Any

from unicorn import UC_MEM_WRITE

from debugger.engine.points import Watchpoint
from debugger.machine.pc import Stop

__all__ = ["HostWrites"]


class HostWrites:
    """The `Memory.write_hooks` entry of one run's watchers."""

    def __init__(self, w: Any) -> None:
        """`w`: the run's `Watchers` (its points, hit list, mode and machine)."""
        self.w = w
        self.watched: list[tuple[Watchpoint, int]] = []
        for p in w.mems:
            if p.access in ("write", "access"):
                phys = w._watch_phys(p)
                if phys is not None:
                    self.watched.append((p, phys))

    def __call__(self, phys: int, size: int) -> None:
        w = self.w
        if w.muted:
            return
        for p, wphys in self.watched:
            if phys + size <= wphys or wphys + p.length <= phys \
                    or any(h[0] is p for h in w._mem_hits):
                continue
            w._mem_hits.append((p, UC_MEM_WRITE, p.address + phys - wphys, size, 0))
            if not w.exact:      # (a fast run: localised like a hook's hit at this icount)
                w._hit_icount = w.m.icount
                w.m.request_stop(Stop.EVENT, "watchpoint", event="watch")
