"""The register view a BIOS service works on.

A service runs while the guest is stopped at the service's ROM stub, entered through the guest's
own IVT (so the stack holds IP, CS, FLAGS of the caller).  Results that a real BIOS returns in
FLAGS (CF, ZF) are written into the FLAGS image on the stack, which the stub's IRET restores --
exactly what a guest that chains with `pushf; call far [old]` expects.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from debugger.cpustate import RF_CF, RF_ZF

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort

__all__ = ["BiosCall"]

_GPR_INDEX = {"ax": 0, "cx": 1, "dx": 2, "bx": 3, "sp": 4, "bp": 5, "si": 6, "di": 7}
_SEGS = ("es", "cs", "ss", "ds", "fs", "gs")


class BiosCall:
    """Registers of the interrupted guest, by their 8/16/32-bit names, plus result flags."""

    def __init__(self, machine: "MachinePort", vector: int) -> None:
        object.__setattr__(self, "machine", machine)
        object.__setattr__(self, "vector", vector)
        object.__setattr__(self, "note", "")

    # -- registers -----------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        cpu = self.machine.cpu
        if name in _SEGS:
            return cpu.seg(name).selector
        kind, idx = _decode(name)
        v = cpu.gpr(idx)
        if kind == "l":
            return v & 0xFF
        if kind == "h":
            return (v >> 8) & 0xFF
        if kind == "x":
            return v & 0xFFFF
        return v & 0xFFFFFFFF

    def __setattr__(self, name: str, value: int) -> None:
        if name == "note" or isinstance(getattr(type(self), name, None), property):
            object.__setattr__(self, name, value)     # `note`, and the cf/zf flag setters
            return
        cpu = self.machine.cpu
        if name in _SEGS:
            self.machine.load_real_segment(name, value)
            return
        kind, idx = _decode(name)
        v = cpu.gpr(idx)
        if kind == "l":
            v = (v & ~0xFF) | (value & 0xFF)
        elif kind == "h":
            v = (v & ~0xFF00) | ((value & 0xFF) << 8)
        elif kind == "x":
            v = (v & ~0xFFFF) | (value & 0xFFFF)
        else:
            v = value & 0xFFFFFFFF
        cpu.set_gpr(idx, v)

    # -- flags returned through the stacked FLAGS ----------------------------------------------
    def _flags_addr(self) -> int:
        cpu = self.machine.cpu
        ss = cpu.seg("ss")
        sp = cpu.gpr(4) & (0xFFFFFFFF if ss.db else 0xFFFF)
        return ss.base + ((sp + 4) & (0xFFFFFFFF if ss.db else 0xFFFF))

    def _set_flag(self, bit: int, on: bool) -> None:
        mem = self.machine.mem
        addr = self._flags_addr()
        f = mem.read_linear_u(addr, 2)
        mem.write_linear_u(addr, 2, (f | bit) if on else (f & ~bit), guest=True)

    def _get_flag(self, bit: int) -> bool:
        return bool(self.machine.mem.read_linear_u(self._flags_addr(), 2) & bit)

    @property
    def cf(self) -> bool:
        return self._get_flag(RF_CF)

    @cf.setter
    def cf(self, on: bool) -> None:
        self._set_flag(RF_CF, on)

    @property
    def zf(self) -> bool:
        return self._get_flag(RF_ZF)

    @zf.setter
    def zf(self, on: bool) -> None:
        self._set_flag(RF_ZF, on)

    def caller_flags(self) -> int:
        return self.machine.mem.read_linear_u(self._flags_addr(), 2)

    def ok(self) -> None:
        """Success: CF clear, AH = 0 (the usual convention)."""
        self.cf = False

    def fail(self, ah: int | None = None) -> None:
        """Failure: CF set, AH = status code when given."""
        if ah is not None:
            self.ah = ah
        self.cf = True

    # -- memory at ES:BX-style addresses -------------------------------------------------------
    def linear(self, seg: int, off: int) -> int:
        return ((seg & 0xFFFF) << 4) + (off & 0xFFFF)

    def read(self, seg: int, off: int, size: int) -> bytes:
        return self.machine.mem.read_linear(self.linear(seg, off), size)

    def write(self, seg: int, off: int, data: bytes) -> None:
        self.machine.mem.write_linear(self.linear(seg, off), data, guest=True)


def _decode(name: str) -> tuple[str, int]:
    if len(name) == 3 and name[0] == "e" and name[1:] in _GPR_INDEX:
        return "e", _GPR_INDEX[name[1:]]
    if len(name) == 2:
        if name in _GPR_INDEX:
            return "x", _GPR_INDEX[name]
        if name[1] in "lh" and name[0] in "abcd":
            return name[1], _GPR_INDEX[name[0] + "x"]
    raise AttributeError(name)
