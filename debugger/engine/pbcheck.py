"""Physical breakpoints in a fast run: which linear address runs the breakpoint's byte.

An exit (Unicorn's way of stopping before an instruction) is linear; a physical breakpoint's
byte can run at any linear address that maps to it, under paging, through an alias, or with A20
masked.  A block hook (native: `_pbcheck.c`, else the same in Python) translates every block's
bytes about to run through the mapping in force and, when one holds an armed physical
breakpoint at a linear address that is not an exit yet, stops the engine before the block runs;
the watchers then make that address an exit, and the run goes on (so it stops exactly there, and
at every later run of it).  An exit left from an older mapping that no longer runs the byte is
told apart where it stops: the breakpoint compares the PC's physical address.
"""
from __future__ import annotations

import ctypes
from typing import Any

from unicorn import UC_HOOK_BLOCK

from debugger.machine import nativelib
from debugger.machine import uc_layout as L
from debugger.machine.memory import MemoryError_, PageFault
from debugger.machine.results import RunResult, Stop

__all__ = ["PbChecker", "PB_MAX", "KNOWN_MAX"]

PB_MAX = 16
KNOWN_MAX = 64


class _Pb(ctypes.Structure):
    _fields_ = [("env", ctypes.c_void_p), ("emu_stop", ctypes.c_void_p),
                ("translate", ctypes.c_void_p), ("cr0_off", ctypes.c_int32),
                ("a20_off", ctypes.c_int32), ("armed", ctypes.c_int32),
                ("fired", ctypes.c_int32), ("n", ctypes.c_int32), ("nknown", ctypes.c_int32),
                ("hit_linear", ctypes.c_uint64), ("phys", ctypes.c_uint64 * PB_MAX),
                ("known", ctypes.c_uint64 * KNOWN_MAX)]


def _lib() -> ctypes.CDLL | None:
    return nativelib.load("debugger.engine._pbcheck", "bootdbg_pb_size", _Pb)[0]


class PbChecker:
    """The block hook for the physical breakpoints `phys` on one machine."""

    def __init__(self, machine: Any, phys: set[int], native: bool) -> None:
        from unicorn.unicorn_py3.unicorn import uclib

        self.m = machine
        self.phys = sorted(phys)
        self.known: set[int] = set()
        self.hit: int | None = None
        self.active = False
        self._uclib = uclib
        lib = _lib() if native and len(self.phys) <= PB_MAX else None
        self._d: _Pb | None = None
        if lib is not None:
            d = self._d = _Pb()
            d.env = machine.eng.env
            d.emu_stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
            d.translate = ctypes.cast(uclib.uc_vmem_translate, ctypes.c_void_p).value
            d.cr0_off, d.a20_off = L.OFF_CR, L.OFF_A20
            d.n = len(self.phys)
            for i, p in enumerate(self.phys):
                d.phys[i] = p
            self._handle = ctypes.c_size_t()
            err = uclib.uc_hook_add(machine.uc._uch, ctypes.byref(self._handle), UC_HOOK_BLOCK,
                                    ctypes.cast(lib.bootdbg_pb_cb, ctypes.c_void_p),
                                    ctypes.cast(ctypes.pointer(d), ctypes.c_void_p),
                                    ctypes.c_uint64(1), ctypes.c_uint64(0))
            if err:
                raise RuntimeError(f"cannot install the native block hook (unicorn error {err})")
        else:
            self._handle = machine.uc.hook_add(UC_HOOK_BLOCK, self._block_cb)
        machine.uc.ctl_flush_tb()
        machine.slice_end_checks.append(self._slice_end)

    # -- the hook ------------------------------------------------------------------------------
    def _block_cb(self, uc: Any, address: int, size: int, _ud: Any) -> None:
        if not self.active or self.hit is not None:
            return
        at = self.alias_in(address, max(size, 1))
        if at is not None:
            self.hit = at
            self.m.uc.emu_stop()

    def alias_in(self, address: int, size: int) -> int | None:
        """The first linear address in [address, +size) that runs an armed physical
        breakpoint's byte and is not an exit yet."""
        lin, end = address, address + size
        mem = self.m.mem
        while lin < end:
            n = min(end - lin, 0x1000 - (lin & 0xFFF))
            try:
                p = mem.translate(lin, fetch=True)
            except (PageFault, MemoryError_):
                p = None
            if p is not None:
                for q in self.phys:
                    if p <= q < p + n and lin + (q - p) not in self.known:
                        return lin + (q - p)
            lin += n
        return None

    def _slice_end(self) -> RunResult | None:
        d = self._d
        if d is not None and d.fired and d.armed:
            d.armed = 0
            self.hit = d.hit_linear
        if self.hit is None or not self.active:
            return None
        self.active = False
        return RunResult(Stop.EVENT, "physical breakpoint", self.m.icount,
                         {"event": "pb-alias"})

    # -- control -------------------------------------------------------------------------------
    def learn(self, exits: set[int]) -> None:
        """These linear addresses are exits now (not reported again)."""
        self.known |= exits
        d = self._d
        if d is not None:
            ks = sorted(self.known)[-KNOWN_MAX:]
            for i, k in enumerate(ks):
                d.known[i] = k
            d.nknown = len(ks)

    def sync(self) -> None:
        self.hit = None
        self.active = True
        if self._d is not None:
            self._d.fired = 0
            self._d.armed = 1

    def pause(self) -> None:
        self.active = False
        if self._d is not None:
            self._d.armed = 0

    def remove(self) -> None:
        self.pause()
        if self._d is not None:
            self._uclib.uc_hook_del(self.m.uc._uch, self._handle)
        else:
            self.m.uc.hook_del(self._handle)
        self.m.uc.ctl_flush_tb()
        if self._slice_end in self.m.slice_end_checks:
            self.m.slice_end_checks.remove(self._slice_end)
