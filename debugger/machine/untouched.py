"""Unicorn's code invalidation, made invisible to the guest.

Unicorn drops translated code by *linear* address (the uc_struct's `uc_invalidate_tb`): at the
end of every `emu_start` for each exit address (bootdbg's breakpoints) minus one, when a hook is
deleted for every region it was translated in, and for `ctl_remove_cache`.  It translates the
address through the guest's page tables as an instruction fetch: that walk sets Accessed bits in
page-table entries no instruction used (a breakpoint on a page the guest never runs marks it
accessed), and on a page that is not present records a fault (CR2, the error code, QEMU's
nested-fault counter) nobody raised.

`install(machine)` puts a wrapper in that function pointer: with paging on it reads the entries
the walk visits, calls Unicorn's function, and writes back each entry and fault field that
changed.  The wrapper is C (`_untouched.c`); without the build, the same steps run in Python
as a ctypes callback.  The pointer's offset is private to unicorn 2.1.4, so installing it checks
that the slot holds the function `ctl_remove_cache` calls (`LayoutError` otherwise).
"""
from __future__ import annotations

import ctypes
import weakref
from typing import Any

from debugger.machine import nativelib
from debugger.machine import uc_layout as L

__all__ = ["install", "Guard", "walk_entries"]

_UC_INVALIDATE_TB = 376          # uc_struct: void (*uc_invalidate_tb)(uc, uint64_t start, size_t len)
_PG = 1 << 31
_ADDR = 0x000FFFFFFFFFF000

_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t)


class _G(ctypes.Structure):
    _fields_ = [("uc", ctypes.c_void_p), ("env", ctypes.c_void_p), ("orig", ctypes.c_void_p),
                ("mem_read", ctypes.c_void_p), ("mem_write", ctypes.c_void_p),
                ("off_cr", ctypes.c_int32), ("off_a20", ctypes.c_int32),
                ("off_efer", ctypes.c_int32), ("off_error_code", ctypes.c_int32),
                ("off_is_int", ctypes.c_int32), ("off_next_eip", ctypes.c_int32),
                ("off_old_exception", ctypes.c_int32), ("enabled", ctypes.c_int32),
                ("calls", ctypes.c_uint64), ("restored", ctypes.c_uint64)]


def _lib() -> ctypes.CDLL | None:
    lib, _why = nativelib.load("debugger.machine._untouched", "bootdbg_untouched_size", _G, (
        ("bootdbg_untouched_register", (ctypes.POINTER(_G),)),
        ("bootdbg_untouched_unregister", (ctypes.POINTER(_G),)),
        ("bootdbg_untouched_registered", (ctypes.POINTER(_G),)),
    ))
    return lib


def walk_entries(read: Any, la: int, cr0: int, cr3: int, cr4: int, efer: int,
                 a20_mask: int) -> list[tuple[int, int]]:
    """(physical address, size) of each page-table entry an instruction fetch of `la` reads, in
    QEMU's order, stopping after a non-present or large-page entry.  `read(phys, size)` gives
    the entry's value or None (no RAM there)."""
    if not cr0 & _PG:
        return []
    out: list[tuple[int, int]] = []
    if cr4 & (1 << 5):                                   # PAE, long mode included
        if efer & (1 << 10):
            levels, table = (5 if cr4 & (1 << 12) else 4), cr3 & _ADDR
        else:
            levels, table = 3, cr3 & 0xFFFFFFE0
        for level in range(levels, 0, -1):
            index = (la >> (12 + 9 * (level - 1))) & (3 if levels == 3 and level == 3 else 0x1FF)
            addr = (table + index * 8) & a20_mask
            value = read(addr, 8)
            if value is None:
                return out
            out.append((addr, 8))
            if not value & 1:
                return out
            if 2 <= level <= 3 and value & 0x80 and not (levels == 3 and level == 3):
                return out
            table = value & _ADDR
        return out
    addr = ((cr3 & 0xFFFFF000) + ((la >> 22) & 0x3FF) * 4) & a20_mask
    pde = read(addr, 4)
    if pde is None:
        return out
    out.append((addr, 4))
    if not pde & 1 or (pde & 0x80 and cr4 & (1 << 4)):
        return out
    addr = ((pde & 0xFFFFF000) + ((la >> 12) & 0x3FF) * 4) & a20_mask
    if read(addr, 4) is not None:
        out.append((addr, 4))
    return out


class Guard:
    """The wrapper installed on one engine (see the module docstring)."""

    def __init__(self, uc: Any, env: int) -> None:
        from unicorn.unicorn_py3.unicorn import uclib

        self._uc = weakref.ref(uc)          # (the finalizer below keeps this guard alive)
        self.uch = uc._uch.value if hasattr(uc._uch, "value") else int(uc._uch)
        self.env = env
        self._slot = ctypes.c_void_p.from_address(self.uch + _UC_INVALIDATE_TB)
        orig = self._slot.value
        if not orig:
            raise L.LayoutError("unicorn's uc_invalidate_tb slot is empty: not unicorn 2.1.4?")
        self.orig = orig
        self._orig_fn = _FN(orig)
        self.lib = _lib()
        self.py_calls = 0
        self.py_restored = 0
        if self.lib is not None:
            g = _G(uc=self.uch, env=env, orig=orig,
                   mem_read=ctypes.cast(uclib.uc_mem_read, ctypes.c_void_p).value,
                   mem_write=ctypes.cast(uclib.uc_mem_write, ctypes.c_void_p).value,
                   off_cr=L.OFF_CR, off_a20=L.OFF_A20, off_efer=L.OFF_EFER,
                   off_error_code=L.OFF_ERROR_CODE, off_is_int=L.OFF_IS_INT,
                   off_next_eip=L.OFF_NEXT_EIP, off_old_exception=L.OFF_OLD_EXCEPTION,
                   enabled=1)
            self.g = g
            if self.lib.bootdbg_untouched_register(ctypes.byref(g)) != 0:
                raise RuntimeError("too many machines for the native invalidation guard")
            wrapper = ctypes.cast(self.lib.bootdbg_untouched_invalidate, ctypes.c_void_p).value
        else:
            self._py_fn = _FN(self._invalidate)     # (kept alive as long as the guard)
            wrapper = ctypes.cast(self._py_fn, ctypes.c_void_p).value
        self._slot.value = wrapper
        # Undone when the engine goes: registered after the page journal's finalizer, so it runs
        # before that one closes the engine (weakref callbacks run newest first); Unicorn's own
        # function is back in place for uc_close, and the wrapper's data lives until then.
        weakref.finalize(uc, Guard._remove, self._slot, orig, self.lib, getattr(self, "g", None),
                         getattr(self, "_py_fn", None))
        self._self_test()

    @staticmethod
    def _remove(slot: Any, orig: int, lib: Any, g: Any, _py_fn: Any) -> None:
        # (only while this guard is still the engine's: a newer engine at the same address
        # displaced it, and its slot is not ours to write)
        if lib is not None and g is not None:
            if lib.bootdbg_untouched_registered(ctypes.byref(g)):
                slot.value = orig
                lib.bootdbg_untouched_unregister(ctypes.byref(g))
        elif _py_fn is not None and slot.value == ctypes.cast(_py_fn, ctypes.c_void_p).value:
            slot.value = orig

    @property
    def calls(self) -> int:
        return int(self.g.calls) if self.lib is not None else self.py_calls

    @property
    def restored(self) -> int:
        """Entries and fault records put back so far (each one a change the guest never made)."""
        return int(self.g.restored) if self.lib is not None else self.py_restored

    def _self_test(self) -> None:
        before = self.calls
        self._uc().ctl_remove_cache(0, 1)
        if self.calls != before + 1:
            self._slot.value = self.orig
            raise L.LayoutError("unicorn's uc_invalidate_tb is not where unicorn 2.1.4 keeps it")

    # -- the pure-Python wrapper (the same steps as _untouched.c) --------------------------------
    def _invalidate(self, uc: int, start: int, length: int) -> None:
        self.py_calls += 1
        env = self.env
        cr = [ctypes.c_uint64.from_address(env + L.OFF_CR + 8 * i).value for i in range(5)]
        if not cr[0] & _PG:
            self._orig_fn(uc, start, length)
            return
        efer = ctypes.c_uint64.from_address(env + L.OFF_EFER).value
        a20 = ctypes.c_int32.from_address(env + L.OFF_A20).value & ((1 << 64) - 1)
        mem = self._uc()
        if mem is None:
            self._orig_fn(uc, start, length)
            return

        def read(addr: int, size: int) -> int | None:
            try:
                return int.from_bytes(mem.mem_read(addr, size), "little")
            except Exception:
                return None
        saved = [(a, n, read(a, n)) for a, n in walk_entries(read, start, cr[0], cr[3], cr[4],
                                                             efer, a20)]
        fields = [(L.OFF_CR + 16, ctypes.c_uint64), (L.OFF_NEXT_EIP, ctypes.c_uint64),
                  (L.OFF_ERROR_CODE, ctypes.c_int32), (L.OFF_IS_INT, ctypes.c_int32),
                  (L.OFF_OLD_EXCEPTION, ctypes.c_int32)]
        before = [(t.from_address(env + off), t.from_address(env + off).value)
                  for off, t in fields]
        self._orig_fn(uc, start, length)
        for addr, n, value in saved:
            if value is not None and read(addr, n) != value:
                mem.mem_write(addr, value.to_bytes(n, "little"))
                self.py_restored += 1
        if any(ref.value != v for ref, v in before[:1] + before[2:3] + before[4:]):
            self.py_restored += 1
        for ref, v in before:
            ref.value = v


def install(uc: Any, env: int) -> Guard:
    return Guard(uc, env)
