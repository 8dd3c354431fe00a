"""Helpers shared by the BIOS services: the caller's interrupt frame, waiting, stopping.

A service runs at its ROM stub, entered through the guest's IVT, so SS:SP points at the frame
the INT (or IRQ, or a chaining guest's `pushf; call far`) pushed: IP, CS, FLAGS.  Modules whose
name starts with `_` are not services (the BIOS skips them when it discovers services).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.cpustate import RF_IF, Activity

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall

__all__ = ["frame", "caller", "set_return", "discard_frame", "wait_for_interrupt", "unsupported"]


def _sp_addr(call: "BiosCall", delta: int = 0) -> int:
    cpu = call.machine.cpu
    ss = cpu.seg("ss")
    mask = 0xFFFFFFFF if ss.db else 0xFFFF
    return ss.base + ((cpu.gpr(4) + delta) & mask)


def frame(call: "BiosCall") -> tuple[int, int, int]:
    """(IP, CS, FLAGS) of the interrupted caller, as stacked."""
    mem = call.machine.mem
    ip = mem.read_linear_u(_sp_addr(call, 0), 2)
    cs = mem.read_linear_u(_sp_addr(call, 2), 2)
    fl = mem.read_linear_u(_sp_addr(call, 4), 2)
    return ip, cs, fl


def caller(call: "BiosCall") -> str:
    try:
        ip, cs, _ = frame(call)
    except Exception:
        return "?"
    return f"{cs:04X}:{ip:04X}"


def set_return(call: "BiosCall", cs: int, ip: int) -> None:
    """Make the stub's IRET return to CS:IP instead of the caller."""
    mem = call.machine.mem
    mem.write_linear_u(_sp_addr(call, 0), 2, ip, guest=True)
    mem.write_linear_u(_sp_addr(call, 2), 2, cs, guest=True)


def discard_frame(call: "BiosCall") -> int:
    """Pop the IP/CS/FLAGS frame (the service does not return to its caller); returns FLAGS."""
    _, _, fl = frame(call)
    cpu = call.machine.cpu
    ss = cpu.seg("ss")
    mask = 0xFFFFFFFF if ss.db else 0xFFFF
    sp = cpu.gpr(4)
    cpu.set_gpr(4, (sp & ~mask) | ((sp + 6) & mask))
    return fl


def wait_for_interrupt(call: "BiosCall") -> None:
    """Leave the service unfinished and wait like the BIOS's `sti; hlt` loop.

    The CPU halts with interrupts enabled at the service's stub, so the run loop advances time
    to the next device event; the interrupt handler returns to the stub and the service runs
    again (with the caller's registers unchanged) until it can complete.
    """
    cpu = call.machine.cpu
    cpu.rip = (cpu.rip - 1) & 0xFFFF          # back onto the stub's exit address
    cpu.eflags = cpu.eflags | RF_IF
    cpu.activity = Activity.HLT


def unsupported(call: "BiosCall", what: str, ah: int | None = None) -> None:
    """A function this BIOS does not provide: an event in the log, CF set (AH = code if given)."""
    call.machine.events.emit(
        "bios-unknown", f"INT {call.vector:02X}h AX={call.ax:04X} ({what}) from {caller(call)}: "
        "not supported (CF set)", vector=call.vector, ax=call.ax)
    call.fail(ah)
