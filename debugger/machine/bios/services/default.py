"""Vectors a BIOS points at a plain IRET, and the real-mode CPU exception vectors 00h-07h.

User hooks (1Bh Ctrl-Break, 1Ch timer tick, 4Ah RTC alarm) do nothing until the guest hooks
them.  INT 02h (NMI), 01h (single step, a trap) and 03h/04h (INT3/INTO, traps) return normally:
the instruction after them continues, as with a BIOS's dummy handler.

Faults (#DE 00h, #UD 06h, #NM 07h, #BR 05h from BOUND) leave IP on the faulting instruction, so
a dummy IRET would re-execute it forever: the run stops instead with an "unhandled-exception"
event naming the vector and CS:IP.  A software `INT n` to these vectors returns normally.  Vector
05h is also Print Screen: it prints nothing here and returns, unless the instruction at the
return address is a BOUND (the #BR case).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios.services._frame import frame

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall

VECTORS = (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x1B, 0x1C, 0x4A)

_FAULTS = {0x00: "#DE divide error", 0x05: "#BR BOUND range exceeded",
           0x06: "#UD invalid opcode", 0x07: "#NM device not available",
           0x08: "#DF double fault", 0x0A: "#TS invalid TSS", 0x0B: "#NP segment not present",
           0x0C: "#SS stack fault", 0x0D: "#GP general protection", 0x0E: "#PF page fault"}
_PREFIXES = {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3}


def handle(call: "BiosCall") -> None:
    v = call.vector
    if v not in _FAULTS:
        return
    try:
        ip, cs, _ = frame(call)
        before = call.read(cs, (ip - 2) & 0xFFFF, 2)
        at = call.read(cs, ip, 4)
    except Exception:
        before, at = b"", b""
    if before == bytes([0xCD, v]):
        return                                   # software INT n: return to the caller
    if v == 0x05 and _opcode(at) != 0x62:
        return                                   # Print Screen
    exception_stop(call)


def _opcode(code: bytes) -> int | None:
    for b in code:
        if b not in _PREFIXES:
            return b
    return None


def exception_stop(call: "BiosCall") -> None:
    """A CPU exception reached the BIOS's dummy handler: log it and end the run."""
    from debugger.machine.results import Stop, StopRequest

    v = call.vector
    try:
        ip, cs, _ = frame(call)
        where = f"{cs:04X}:{ip:04X}"
    except Exception:
        ip = cs = None
        where = "?"
    name = _FAULTS.get(v, f"exception {v:02X}h")
    msg = (f"unhandled {name} (vector {v:02X}h) at {where}: the BIOS's handler would return "
           "to the faulting instruction forever")
    call.machine.events.emit("unhandled-exception", msg, vector=v, cs=cs, ip=ip)
    raise StopRequest(Stop.HALTED, msg, vector=v, cs=cs, ip=ip)
