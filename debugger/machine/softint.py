"""Software interrupts (INT n, INT3, INTO) and the instructions Unicorn reports wrongly around them.

- A fault raised while an `INT n`, `INT3` or `INTO` is delivered (gate DPL below CPL, gate not
  present, bad target CS, the IVT/IDT limit) is a fault *of the INT*: the CPU pushes the INT's
  own address.  Unicorn reports a software interrupt with EIP already after it and keeps no copy
  of where it started, so `int_start` finds the start from the bytes before EIP: `CC` (INT3),
  `CE` (INTO) or `CD nn`.  (A prefixed INT, e.g. `66 CD nn`, is taken as starting at its `CD`:
  a byte before it cannot be told from the end of the instruction before.)
- Unicorn reports `INT 6` (`CD 06`) through its invalid-instruction hook, as if it were #UD;
  `exception_is_int` tells the two apart (a real #UD clears it) and `exception_next_eip` holds the
  address after the INT.
- `F1` (ICEBP) is INT1, a trap delivered after it; `F6 /1` and `F7 /1` run as TEST.
- `0F 07` (SYSRET) outside 64-bit mode: Unicorn's translator (QEMU 5) raises #GP in real mode,
  where the CPU raises #UD (QEMU 7.2 and Bochs agree).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine import uc_layout

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort
    from debugger.machine.results import RunResult

__all__ = ["int_start", "software_int6", "sysret_is_ud", "deliver_int", "invalid_opcode"]

_PREFIXES = frozenset({0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3})


def _bytes_before(m: "MachinePort", linear: int, n: int) -> bytes:
    try:
        return m.mem.read_linear(linear - n, n)
    except Exception:
        return b""


def int_start(m: "MachinePort", vector: int) -> int:
    """The RIP of the software interrupt that Unicorn just reported with RIP after it."""
    rip = m.cpu.rip
    pc = m.cpu.linear_pc()
    one = _bytes_before(m, pc, 1)
    if (vector == 3 and one == b"\xcc") or (vector == 4 and one == b"\xce"):
        return rip - 1
    return rip - 2          # CD nn


def software_int6(m: "MachinePort") -> int | None:
    """At Unicorn's invalid-instruction hook: the address after the INT when it is `INT 6`."""
    if m.eng.i32(uc_layout.OFF_IS_INT):
        return m.eng.u64(uc_layout.OFF_NEXT_EIP)
    return None


def sysret_is_ud(m: "MachinePort") -> bool:
    """Is the #GP Unicorn reports at RIP really SYSRET (0F 07) outside 64-bit mode (#UD)?"""
    if m.cpu.where()[3] == 64:
        return False
    try:
        code = m.mem.read_linear(m.cpu.linear_pc(), 15)
    except Exception:
        return False
    i = 0
    while i < len(code) and code[i] in _PREFIXES:
        i += 1
    return code[i:i + 2] == b"\x0f\x07"


def deliver_int(m: "MachinePort", vector: int, next_rip: int | None) -> "RunResult | None":
    """Deliver a software interrupt Unicorn reported (`next_rip`: INT 6, reported as #UD)."""
    if next_rip is not None:
        m.cpu.rip = next_rip
    return m.raise_exception(vector, None, software=True, int_rip=int_start(m, vector))


def invalid_opcode(m: "MachinePort") -> "RunResult | None":
    """Unicorn's invalid-instruction report: ICEBP (F1, a trap after it), the undocumented
    encodings real CPUs execute (undocumented.py), else #UD at the instruction."""
    from debugger.machine import undocumented

    code = m.mem.read_linear(m._pc(), 1) if m._safe_pc() else b""
    if code == b"\xf1":
        m.cpu.rip += 1
        return m.raise_exception(1, None, software=False)
    done = undocumented.execute_test_alias(m)
    if done is not undocumented.NOT_HANDLED:
        return done     # type: ignore[return-value]
    return m.raise_exception(6, None)
