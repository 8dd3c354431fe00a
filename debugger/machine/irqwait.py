"""Stop the engine when interrupts become enabled while an IRQ is waiting.

A pending IRQ with IF=0 must be delivered right after the STI/POPF/IRET that sets IF (after
STI's one-instruction shadow).  Those instructions end Unicorn translation blocks, so a block
hook that stops when IF=1 is exact.  The native hook (`_irqwait.c`) costs almost nothing; without
it a Python block hook does the same, slowly, and only while an IRQ is waiting.
"""
from __future__ import annotations

import ctypes
from typing import Any, Callable

from unicorn import UC_HOOK_BLOCK

from debugger.machine import nativelib
from debugger.machine import uc_layout as L

__all__ = ["IrqWait"]


class _W(ctypes.Structure):
    _fields_ = [("env", ctypes.c_void_p), ("emu_stop", ctypes.c_void_p),
                ("eflags_off", ctypes.c_int32), ("fired", ctypes.c_int32),
                ("armed_", ctypes.c_int32), ("pad", ctypes.c_int32)]


def _lib() -> ctypes.CDLL | None:
    return nativelib.load("debugger.machine._irqwait", "bootdbg_irqwait_size", _W)[0]


class IrqWait:
    def __init__(self, eng: L.Engine, flush: Callable[[], None]) -> None:
        from unicorn.unicorn_py3.unicorn import uclib

        self.eng = eng
        self._flush = flush
        self._lib = _lib()
        self._uclib = uclib
        self._handle: Any = None
        self._w = _W(eng.env, ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value,
                     L.OFF_EFLAGS, 0)

    @property
    def armed(self) -> bool:
        return self._handle is not None

    @property
    def armed_address(self) -> int:
        """Where native code reads whether the hook is installed (an int32)."""
        return ctypes.addressof(self._w) + _W.armed_.offset

    @property
    def fired(self) -> bool:
        """The hook stopped the engine (at the start of a block, which did not run)."""
        return bool(self._w.fired)

    def arm(self) -> None:
        if self._handle is not None:
            self._w.fired = 0
            return
        self._w.fired = 0
        if self._lib is not None:
            h = ctypes.c_size_t()
            self._uclib.uc_hook_add(self.eng.uc._uch, ctypes.byref(h), UC_HOOK_BLOCK,
                                    ctypes.cast(self._lib.bootdbg_irqwait_cb, ctypes.c_void_p),
                                    ctypes.cast(ctypes.pointer(self._w), ctypes.c_void_p),
                                    ctypes.c_uint64(1), ctypes.c_uint64(0))
            self._handle = ("native", h)
        else:
            self._handle = ("py", self.eng.uc.hook_add(UC_HOOK_BLOCK, self._py_cb))
        self._w.armed_ = 1
        self._flush()

    def hold(self) -> None:
        """Keep the hook from stopping the next run (it has one instruction to execute)."""
        self._w.fired = 1

    def _py_cb(self, uc: Any, address: int, size: int, _ud: Any) -> None:
        if not self._w.fired and self.eng.u64(L.OFF_EFLAGS) & 0x200:
            self._w.fired = 1
            uc.emu_stop()

    def disarm(self) -> None:
        if self._handle is None:
            return
        kind, h = self._handle
        if kind == "native":
            self._uclib.uc_hook_del(self.eng.uc._uch, h)
        else:
            self.eng.uc.hook_del(h)
        self._handle = None
        self._w.armed_ = 0
        self._flush()
