"""Back to the hand-off state: the machine as it was at power-on, for gdb's `run` again.

`capture(machine)` right after power-on keeps what a checkpoint keeps except memory (CPU
context, device states, clock, event count) -- a checkpoint would hold a page-journal mark for
the whole session and copy every page the guest ever writes.  `rewind(machine, point)` then
zeroes the RAM the guest wrote, clears the disks' write overlays, rebuilds the ROM, the BIOS data
and the boot sector as power-on did, and puts the CPU and devices back into the captured states:
the machine is then indistinguishable from a freshly opened one (tests/engine/test_restart.py
compares RAM, registers, devices and the run that follows).
"""
from __future__ import annotations

import copy
import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from unicorn import unicorn_const as uconst

from debugger.cpustate import Activity

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort

__all__ = ["HandoffPoint", "capture", "rewind"]

_CHUNK = 1 << 20
_PAGE = 0x1000
_ZERO = bytes(_CHUNK)


@dataclass(frozen=True)
class HandoffPoint:
    context: Any                        # CPU-only Unicorn context
    devices: dict[str, dict[str, Any]]
    clock: int
    events_total: int
    activity: Activity


def _cpu_context(machine: "MachinePort", ctx: Any = None) -> Any:
    """Save (ctx None) or restore the CPU alone, whatever the page journal's context mode."""
    uc = machine.uc
    uc.ctl(uconst.UC_CTL_CONTEXT_MODE, uconst.UC_CTL_IO_WRITE,
           ctypes.c_int(uconst.UC_CTL_CONTEXT_CPU))
    try:
        if ctx is None:
            return uc.context_save()
        uc.context_restore(ctx)
        return ctx
    finally:
        uc.ctl(uconst.UC_CTL_CONTEXT_MODE, uconst.UC_CTL_IO_WRITE,
               ctypes.c_int(machine.memsnap.context_mode))


def capture(machine: "MachinePort") -> HandoffPoint:
    """The machine's state now (call at power-on, before the first instruction)."""
    from debugger.machine import snapshot

    memo = snapshot._shared(machine)
    devices = {dev.name: copy.deepcopy(snapshot._state_of(dev), memo)
               for dev in machine.devices.all()}
    return HandoffPoint(_cpu_context(machine), devices, machine.clock.icount,
                        machine.events.total, machine.cpu.activity)


def _zero_ram(machine: "MachinePort") -> None:
    """Zero every RAM page that is not zero (pages never touched stay unallocated)."""
    uc = machine.uc
    size = machine.config.ram_size
    for off in range(0, size, _CHUNK):
        n = min(_CHUNK, size - off)
        data = bytes(uc.mem_read(off, n))
        if data == _ZERO[:n]:
            continue
        for p in range(0, n, _PAGE):
            if any(data[p:p + _PAGE]):
                machine.memsnap.touch(off + p, _PAGE)
                uc.mem_write(off + p, _ZERO[:_PAGE])


def rewind(machine: "MachinePort", point: HandoffPoint) -> None:
    """Put `machine` back into the power-on state `point` was captured in."""
    from debugger.machine import snapshot
    from debugger.machine.bios import handoff

    for d in machine.disks.values():
        d.overlay = {}
    machine.serial_out.clear()
    machine._serial_hw = 0               # the new run's output is echoed again
    _zero_ram(machine)
    machine.bios.build_rom()
    handoff.prepare(machine)            # BIOS data, video memory, boot sector (and the CPU)
    _cpu_context(machine, point.context)
    memo = snapshot._shared(machine)
    for dev in machine.devices.all():
        saved = point.devices.get(dev.name)
        if saved is not None:
            snapshot._set_state(dev, copy.deepcopy(saved, memo))
    machine.events.truncate(point.events_total)
    machine.icount = 0
    machine.clock.icount = point.clock
    machine.cpu.activity = point.activity
    machine.cpu.flush_tlb()
    machine.uc.ctl_flush_tb()
    machine.bios.calls = 0
    machine._pending = None
    machine._external = machine._external_at = None
    machine.stop_requested = False
    machine._bios_asked = None
    machine.mutations += 1
    machine._device_epoch += 1
    machine._snap_devices = None
    machine._exits_installed = None
    machine._exits_key = None
    # (a read-ahead fault met again from here is told apart again: faults.py)
    machine._fetch_exit = machine._lookahead_probe = None
