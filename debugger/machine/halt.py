"""The CPU in HLT: advance time to the next device event, or end the run when nothing can wake it.

A halted CPU wakes only for an interrupt the PIC passes on.  The PIC's masks, in-service levels
and priorities cannot change while nothing executes, so the lines that could wake the CPU are
known (`Pic.deliverable_lines`).  When IF=0, or no line could, or no device with an event to come
can raise one of them (the timer ticking behind its mask, a keyboard with no key to come, IRQ0 in
service because its handler returned without an EOI), the CPU never wakes: the run ends with
`halted` and says why.  Otherwise time jumps to the next event of a device that can wake it
(devices due by then tick too); a run that only waits keeps honouring Ctrl-C (the loop's stop request) and the
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

__all__ = ["wait_halted", "wake", "all_irqs_masked"]

CASCADE_BIT = 1 << 2


def all_irqs_masked(m: "MachinePort") -> bool:
    pic = m.devices.pic
    master, slave = pic.master.imr, pic.slave.imr
    return master == 0xFF or (master | CASCADE_BIT == 0xFF and slave == 0xFF)


def wait_halted(m: "MachinePort") -> "RunResult | None":
    from debugger.machine.results import Stop

    if not m.cpu.eflags & RF_IF:
        return m._result(Stop.HALTED, f"HLT with interrupts disabled at {m._pc():#x}")
    pic = m.devices.pic
    if all_irqs_masked(m):
        return m._result(Stop.HALTED, f"HLT with every IRQ masked at the PIC (IMR master="
                         f"{pic.master.imr:02X}h slave={pic.slave.imr:02X}h) at {m._pc():#x}: "
                         "nothing can wake the CPU")
    lines = pic.deliverable_lines()
    if not lines:
        return m._result(Stop.HALTED, f"HLT while the PIC passes on no IRQ (IMR master="
                         f"{pic.master.imr:02X}h slave={pic.slave.imr:02X}h, in service master="
                         f"{pic.master.isr:02X}h slave={pic.slave.isr:02X}h: no EOI) at "
                         f"{m._pc():#x}: nothing can wake the CPU")
    deadline = getattr(m, "wall_deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        return m._result(Stop.TIMEOUT, "wall-time budget used up (CPU halted)")
    deadline = m.bus.next_deadline(lines)
    if deadline is None:
        open_ = ", ".join(str(n) for n in range(16) if lines >> n & 1)
        return m._result(Stop.HALTED, f"HLT at {m._pc():#x} with IRQ {open_} open at the PIC "
                         "and no device event to come that raises one: nothing can wake the "
                         "CPU")
    if deadline > m.clock.icount:
        m.clock.icount = deadline
    m.bus.tick(m.clock.icount)
    m._device_epoch += 1
    if pic.pending_vector() is None and m.bus.next_deadline(lines) == deadline:
        return m._result(Stop.HALTED, "HLT and the pending device event raised nothing")
    return None


def wake(m: "MachinePort") -> "RunResult | None":
    """A CPU waiting in HLT: wait for what wakes it and deliver it, executing nothing -- what
    `run(1)` does before its instruction.  None: awake (the next instruction is the handler's
    first); else what ended the wait (`halted`, an event the event filter took, ...)."""
    from debugger.cpustate import Activity

    while m.cpu.activity is Activity.HLT:
        r = m._wait_halted()
        if r is None:
            r = m._deliver_irq()
        if r is not None:
            return r
    return None
