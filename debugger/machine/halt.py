"""The CPU in HLT: advance time to the next device event, or end the run when nothing can wake it.

A halted CPU wakes only for an interrupt the PIC passes on.  When IF=0, or every IRQ line is
masked at the PIC (the IMR cannot change while nothing executes), or no device has an event to
come, the CPU never wakes: the run ends with `halted` and says which.  Otherwise time jumps to the
next device event; a run that only waits keeps honouring Ctrl-C (the loop's stop request) and the
caller's wall-clock deadline (`Machine.wall_deadline`, checked here because no instruction, hence
no slice end, happens while halted).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from debugger.cpustate import RF_IF

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort
    from debugger.machine.results import RunResult

__all__ = ["wait_halted", "all_irqs_masked"]

CASCADE_BIT = 1 << 2


def all_irqs_masked(m: "MachinePort") -> bool:
    pic = m.devices.pic
    master, slave = pic.master.imr, pic.slave.imr
    return master == 0xFF or (master | CASCADE_BIT == 0xFF and slave == 0xFF)


def wait_halted(m: "MachinePort") -> "RunResult | None":
    from debugger.machine.results import Stop

    if not m.cpu.eflags & RF_IF:
        return m._result(Stop.HALTED, f"HLT with interrupts disabled at {m._pc():#x}")
    if all_irqs_masked(m):
        pic = m.devices.pic
        return m._result(Stop.HALTED, f"HLT with every IRQ masked at the PIC (IMR master="
                         f"{pic.master.imr:02X}h slave={pic.slave.imr:02X}h) at {m._pc():#x}: "
                         "nothing can wake the CPU")
    deadline = getattr(m, "wall_deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        return m._result(Stop.TIMEOUT, "wall-time budget used up (CPU halted)")
    deadline = m.bus.next_deadline()
    if deadline is None:
        return m._result(Stop.HALTED, "HLT with no interrupt source armed")
    if deadline > m.clock.icount:
        m.clock.icount = deadline
    m.bus.tick(m.clock.icount)
    m._device_epoch += 1
    if m.devices.pic.pending_vector() is None and m.bus.next_deadline() == deadline:
        return m._result(Stop.HALTED, "HLT and the pending device event raised nothing")
    return None
