"""ctypes bindings for the native transition detector (`_native.c`), with availability check.

`bootdbg --version` reports whether it is in use; without it the engine uses a Python block hook
that stops in exactly the same places (tests run both).
"""
from __future__ import annotations

import ctypes
from typing import Any

from debugger.machine import nativelib
from debugger.machine import uc_layout as L

__all__ = ["available", "NativeDetector", "WATCHED_RANGES", "why_unavailable"]

MAX_RANGES = 8
# The same fields as debugger.engine.transitions.signature().
WATCHED_RANGES = ((L.OFF_SEGS, L.OFF_CR + 5 * 8 - L.OFF_SEGS), (L.OFF_A20, 4), (L.OFF_EFER, 8))



class _Det(ctypes.Structure):
    _fields_ = [
        ("env", ctypes.c_void_p), ("counter", ctypes.c_void_p), ("emu_stop", ctypes.c_void_p),
        ("base", ctypes.c_uint64), ("prev", ctypes.c_uint64),
        ("hit_prev", ctypes.c_uint64), ("hit_now", ctypes.c_uint64),
        ("hit", ctypes.c_int32), ("armed", ctypes.c_int32), ("nranges", ctypes.c_int32),
        ("eflags_off", ctypes.c_int32), ("eflags_mask", ctypes.c_uint32),
        ("hflags_off", ctypes.c_int32), ("hflags_mask", ctypes.c_uint32),
        ("off", ctypes.c_int32 * MAX_RANGES), ("len", ctypes.c_int32 * MAX_RANGES),
        ("baseline", ctypes.c_uint8 * 1024),
        ("base_eflags", ctypes.c_uint32), ("base_hflags", ctypes.c_uint32),
        ("suspects_on", ctypes.c_int32), ("hit_kind", ctypes.c_int32),
        ("hit_addr", ctypes.c_uint64), ("hit_size", ctypes.c_uint32),
        ("hit_bits", ctypes.c_uint32),
        ("keys", ctypes.c_void_p), ("vals", ctypes.c_void_p),
        ("table_bits", ctypes.c_uint32), ("pad", ctypes.c_uint32),
        ("last_addr", ctypes.c_uint64), ("last_size", ctypes.c_uint32),
        ("last_bits", ctypes.c_uint32),
    ]

TABLE_BITS = 16
_BITS = {0: 16, 1: 32, 2: 64}


_ARGTYPES = (("bootdbg_det_sync", (ctypes.c_void_p,)),
             ("bootdbg_det_mark", (ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                                   ctypes.c_uint32, ctypes.c_int)))


def _loaded() -> tuple[ctypes.CDLL | None, str]:
    return nativelib.load("debugger.engine._native", "bootdbg_det_size", _Det, _ARGTYPES)


def available() -> bool:
    return _loaded()[0] is not None


def why_unavailable() -> str:
    return _loaded()[1]


class NativeDetector:
    """The C block hook installed on one machine's engine."""

    def __init__(self, machine: Any) -> None:
        lib = _loaded()[0]
        assert lib is not None
        from unicorn import UC_HOOK_BLOCK
        from unicorn.unicorn_py3.unicorn import uclib

        self.lib = lib
        self.m = machine
        self.uc = machine.uc
        d = _Det()
        d.env = machine.eng.env
        d.counter = machine.eng.uch + L._UC_EMU_COUNTER
        d.emu_stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
        for i, (off, n) in enumerate(WATCHED_RANGES):
            d.off[i], d.len[i] = off, n
        d.eflags_off = L.OFF_EFLAGS
        d.hflags_off = L.OFF_HFLAGS
        d.nranges = len(WATCHED_RANGES)
        d.eflags_mask, d.hflags_mask = 0x23000, 3
        self._keys = (ctypes.c_uint64 * (1 << TABLE_BITS))()
        self._vals = (ctypes.c_uint8 * (1 << TABLE_BITS))()
        d.keys = ctypes.addressof(self._keys)
        d.vals = ctypes.addressof(self._vals)
        d.table_bits = TABLE_BITS
        self.d = d
        self.classify: Any = None        # (address, size, bits) -> bool (suspect)
        self.handle = ctypes.c_size_t()
        cb = ctypes.cast(lib.bootdbg_block_cb, ctypes.c_void_p)
        err = uclib.uc_hook_add(machine.uc._uch, ctypes.byref(self.handle), UC_HOOK_BLOCK, cb,
                                ctypes.cast(ctypes.pointer(d), ctypes.c_void_p),
                                ctypes.c_uint64(1), ctypes.c_uint64(0))
        if err:
            raise RuntimeError(f"cannot install the native block hook (unicorn error {err})")
        machine.uc.ctl_flush_tb()
        machine._blocks.quiet_block_hook(+1)
        self._quiet = True
        self.table_key: Any = None       # what the classification table was filled for
        self.resume()

    def resume(self) -> None:
        """Take part in the machine's slices again (after `__init__` or `park`)."""
        self.m.slice_listeners.append(self._slice)
        self.m.slice_end_checks.append(self._slice_end)

    def park(self) -> None:
        """Disarmed and out of the machine's slices, but the hook stays installed (no flush of
        the translated blocks) and the classification table is kept, for the next run that
        arms the same detector (`resume`).  A disarmed hook returns at once."""
        self.d.armed = 0
        self.d.hit = 0
        if self._slice in self.m.slice_listeners:
            self.m.slice_listeners.remove(self._slice)
        if self._slice_end in self.m.slice_end_checks:
            self.m.slice_end_checks.remove(self._slice_end)

    def widen(self) -> None:
        """Watch the whole transition signature (the default; `narrow` watches less)."""
        d = self.d
        d.nranges = len(WATCHED_RANGES)
        d.eflags_mask, d.hflags_mask = 0x23000, 3

    def classify_for(self, key: Any) -> None:
        """The table is about to classify for `key` (the armed categories): emptied if it was
        filled for something else."""
        if key != self.table_key:
            self._clear_table()
            self.table_key = key

    def narrow(self, hflags_mask: int, eflags_mask: int) -> None:
        """Watch only these hflags and EFLAGS bits (transitions.mode_signature)."""
        self.d.nranges = 0
        self.d.hflags_mask, self.d.eflags_mask = hflags_mask, eflags_mask

    def _slice(self, base: int) -> None:
        self.d.base = base

    def _slice_end(self) -> Any:
        d = self.d
        if not (d.hit and d.armed):
            return None
        from debugger.machine.pc import RunResult, Stop

        if d.hit_kind == 2:          # a block seen for the first time: classify it
            bits = _BITS[d.hit_bits]
            bad = bool(self.classify and self.classify(d.hit_addr, d.hit_size, bits))
            if not self.lib.bootdbg_det_mark(ctypes.byref(d), d.hit_addr, d.hit_size,
                                             d.hit_bits, 2 if bad else 1):
                self._clear_table()
            if not bad:
                d.hit = 0
                d.hit_kind = 0
                return RunResult(Stop.EVENT, "classified", self.m.icount, {"event": "classified"})
            d.hit_kind = 3
        d.armed = 0
        if d.hit_kind == 3:
            return RunResult(Stop.EVENT, "suspect", self.m.icount, {"event": "suspect"})
        return RunResult(Stop.EVENT, "transition", self.m.icount, {"event": "detector"})

    def _clear_table(self) -> None:
        ctypes.memset(self._keys, 0, ctypes.sizeof(self._keys))

    @property
    def suspect(self) -> tuple[int, int] | None:
        d = self.d
        return (d.hit_addr, d.hit_size) if d.hit and d.hit_kind == 3 else None

    def sync(self, icount: int) -> None:
        self.lib.bootdbg_det_sync(ctypes.byref(self.d))
        self.d.prev = icount
        self.d.armed = 1

    @property
    def last_block(self) -> tuple[int, int, int] | None:
        """(address, size, bits) of the last block that started with the watched state as at
        the sync: after a transition hit, the block whose instructions made the change."""
        d = self.d
        return (d.last_addr, d.last_size, _BITS[d.last_bits]) if d.last_size else None

    @property
    def hit(self) -> tuple[int, int] | None:
        d = self.d
        return (d.hit_prev, d.hit_now) if d.hit and d.hit_kind == 1 else None

    def remove(self) -> None:
        from unicorn.unicorn_py3.unicorn import uclib

        self.park()
        uclib.uc_hook_del(self.m.uc._uch, self.handle)
        if self._quiet:
            self._quiet = False
            self.m._blocks.quiet_block_hook(-1)
        self.m.uc.ctl_flush_tb()
