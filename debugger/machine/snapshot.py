"""Checkpoints of the whole machine: CPU, memory, devices, disks and counters.

A checkpoint lets the engine go back and re-execute exactly (to find the instruction that caused
a transition it detected at a block boundary, and later for reverse execution).  Memory is
captured by the machine's page journal (`pagejournal.py`: one page copy for each page written
after the checkpoint, dropped when no live checkpoint needs it; kept in Python by `pagelog.py`
without the native module); the CPU by a Unicorn context.

Checkpoints form a stack: restoring one discards every checkpoint taken after it.  `valid` says
whether a checkpoint can still be restored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from debugger.cpustate import Activity
from debugger.machine import fastcopy

if TYPE_CHECKING:
    from unicorn import UcContext

    from debugger.machine.port import MachinePort

__all__ = ["Checkpoint", "take", "restore", "valid", "devices_restored"]


@dataclass
class Checkpoint:
    icount: int
    clock: int
    context: "UcContext"
    devices: dict[str, dict[str, Any]]
    disks: dict[int, dict[int, bytes]]
    serial_len: int
    events_total: int
    activity: Activity
    ident: Any                  # the memory mark (pagejournal)
    extra: dict[str, Any] = field(default_factory=dict)


def _shared(machine: "MachinePort") -> dict[int, Any]:
    objs = [machine, machine.clock, machine.events, machine.mem, machine.bus, machine.uc,
            machine.cpu, machine.eng, machine.bios]
    return {id(o): o for o in objs}


def take(machine: "MachinePort") -> Checkpoint:
    # Device state changes only through guest I/O, device ticks, BIOS services, restores (all
    # bump the machine's device epoch or mutation count): unchanged state shares the previous
    # checkpoint's copy (copies are never modified; restore copies them again).
    key = _device_key(machine)
    cached = getattr(machine, "_snap_devices", None)
    if cached is not None and cached[0] == key:
        devs = cached[1]
    else:
        memo = _shared(machine)
        devs = {}
        for dev in machine.devices.all():
            devs[dev.name] = fastcopy.deepcopy(_state_of(dev), memo)
        machine._snap_devices = (key, devs)
    mark = machine.memsnap.mark()
    return Checkpoint(
        icount=machine.icount, clock=machine.clock.icount, context=machine.uc.context_save(),
        devices=devs, disks={n: dict(d.overlay) for n, d in machine.disks.items()},
        serial_len=len(machine.serial_out), events_total=machine.events.total,
        activity=machine.cpu.activity, ident=mark,
        extra={"lookahead": (machine._fetch_exit, machine._lookahead_probe)})


def valid(machine: "MachinePort", cp: Checkpoint) -> bool:
    """False once a restore of an earlier checkpoint has discarded this one's memory layer."""
    return machine.memsnap.valid(cp.ident)


def restore(machine: "MachinePort", cp: Checkpoint) -> None:
    if not valid(machine, cp):
        raise ValueError("checkpoint no longer valid (an earlier one was restored since)")
    pages = machine.memsnap.pages_since(cp.ident)
    machine.memsnap.rollback(cp.ident)
    machine.uc.context_restore(cp.context)
    machine.cpu.flush_tlb()
    _drop_code(machine, pages)
    cached = getattr(machine, "_snap_devices", None)
    unchanged = cached is not None and cached[1] is cp.devices and \
        cached[0] == _device_key(machine)
    if not unchanged:       # (else the devices are still in the state this checkpoint holds)
        memo = _shared(machine)
        for dev in machine.devices.all():
            saved = cp.devices.get(dev.name)
            if saved is not None:
                _set_state(dev, fastcopy.deepcopy(saved, memo))
    for n, d in machine.disks.items():
        d.overlay = dict(cp.disks.get(n, {}))
    del machine.serial_out[cp.serial_len:]
    machine.events.truncate(cp.events_total)
    machine.icount = cp.icount
    machine.clock.icount = cp.clock
    machine.cpu.activity = cp.activity
    # (a read-ahead fault being told apart, faults.py: as it was at the checkpoint)
    machine._fetch_exit, machine._lookahead_probe = cp.extra.get("lookahead", (None, None))


_PG = 1 << 31
_A20_BIT = 1 << 20


def _drop_code(machine: "MachinePort", pages: set[int] | None) -> None:
    """Translated code made from the memory the restore rewrote is dropped: only the pages
    restored when that is exact, else all of it.  Unicorn drops code by linear address, through
    the mapping in force (now the checkpoint's): exact with paging off, for pages that mapping
    reaches at their own address (A20 on, or bit 20 clear).  No page restored: nothing to drop
    (the guest's own stores since the checkpoint went through QEMU, which dropped what they hit;
    the machine's host writes dropped theirs)."""
    if pages is not None:
        if not pages:
            return
        cr0 = machine.cpu.cr(0)
        if not cr0 & _PG and (machine.cpu.a20 or not any(p << 12 & _A20_BIT for p in pages)):
            for p in sorted(pages):
                machine.uc.ctl_remove_cache(p << 12, (p + 1) << 12)
            return
    machine.uc.ctl_flush_tb()


def _device_key(machine: "MachinePort") -> tuple[int, int, int]:
    return machine._device_epoch, machine.mutations, len(machine.bus.devices)


def devices_restored(machine: "MachinePort", cp: Checkpoint) -> None:
    """After a restore: the devices are in `cp`'s state, so the next checkpoint can share it."""
    machine._snap_devices = (_device_key(machine), cp.devices)


def _state_of(dev: Any) -> dict[str, Any]:
    if hasattr(dev, "__dict__"):
        return dict(vars(dev))
    return {k: getattr(dev, k) for k in getattr(dev, "__slots__", ()) if hasattr(dev, k)}


def _set_state(dev: Any, state: dict[str, Any]) -> None:
    for k, v in state.items():
        setattr(dev, k, v)
