"""Guest RAM and its checkpoints: a page journal (native, or the same kept in Python).

`attach(uc, size)` maps the machine's RAM at physical 0 and returns the object that takes and
restores memory checkpoints:

- `Journal` (the native `_pagejournal.c`): RAM is host memory of ours mapped with
  `uc_mem_map_ptr`; a checkpoint write-protects the pages written since the previous one, and
  the first store to each page afterwards saves its old contents (a fault handled in C).  A
  checkpoint costs the pages written after it (a signal, an mprotect and a 4 KiB copy each),
  and the copies no live checkpoint needs are dropped as soon as the checkpoints that needed
  them are gone.  CPU contexts are then saved without memory.
- `PageLog` (fallback, `BOOTDBG_NO_NATIVE=1` or no build; `pagelog.py`): the same journal,
  with the old contents saved by a Unicorn write hook and by the machine before its own writes.
  The same answers, slower (a Python call for each guest store while a checkpoint lives).

Both have the same stack discipline: restoring a checkpoint discards every checkpoint taken
after it (`valid` says whether one can still be restored).
"""
from __future__ import annotations

import ctypes
import weakref
from typing import TYPE_CHECKING, Any

from unicorn import UC_PROT_ALL
from unicorn import unicorn_const as uconst

from debugger.machine import nativelib

if TYPE_CHECKING:
    from debugger.machine.pagelog import PageLog

__all__ = ["attach", "Journal", "JournalError", "available"]

CPU_ONLY = uconst.UC_CTL_CONTEXT_CPU


class JournalError(Exception):
    """A checkpoint cannot be taken or restored (out of journal room, or mprotect failed)."""


class _J(ctypes.Structure):
    _fields_ = [("ram", ctypes.c_void_p), ("size", ctypes.c_uint64), ("npages", ctypes.c_uint32),
                ("active", ctypes.c_int32), ("all_writable", ctypes.c_int32),
                ("len", ctypes.c_uint32), ("cap", ctypes.c_uint32),
                ("log_page", ctypes.c_void_p), ("log_prev", ctypes.c_void_p),
                ("last", ctypes.c_void_p), ("arena", ctypes.c_void_p),
                ("committed", ctypes.c_uint64), ("unprot", ctypes.c_void_p),
                ("nunprot", ctypes.c_uint32), ("is_unprot", ctypes.c_void_p),
                ("faults", ctypes.c_uint64), ("saved", ctypes.c_uint64),
                ("failed", ctypes.c_int32), ("pad", ctypes.c_int32),
                ("prepared", ctypes.c_uint64)]


_P = ctypes.POINTER(_J)
_ARGTYPES = (
    ("bootdbg_pagejournal_new", (ctypes.c_uint64, ctypes.c_uint32)),
    ("bootdbg_pagejournal_free", (_P,)),
    ("bootdbg_pagejournal_mark", (_P,)),
    ("bootdbg_pagejournal_rollback", (_P, ctypes.c_uint32)),
    ("bootdbg_pagejournal_clear", (_P,)),
    ("bootdbg_pagejournal_compact", (_P, ctypes.POINTER(ctypes.c_uint32), ctypes.c_uint32)),
)


def _lib() -> ctypes.CDLL | None:
    lib = nativelib.load("debugger.machine._pagejournal", "bootdbg_pagejournal_size", _J,
                         _ARGTYPES)[0]
    if lib is not None:
        lib.bootdbg_pagejournal_new.restype = _P
        lib.bootdbg_pagejournal_mark.restype = ctypes.c_int64
        lib.bootdbg_pagejournal_compact.restype = ctypes.c_uint32
    return lib


def available() -> bool:
    return _lib() is not None


def attach(uc: Any, size: int, edges: tuple[int, ...] = ()) -> "Journal | PageLog":
    """Map `size` bytes of RAM at physical 0 of `uc`, with the best checkpoint backend.
    `edges`: addresses where the RAM is mapped as separate Unicorn regions, so that their
    protection can later change without Unicorn splitting a region (which copies it)."""
    lib = _lib()
    if lib is not None:
        j = lib.bootdbg_pagejournal_new(size, _capacity(size))
        if j:
            return Journal(uc, size, lib, j, edges)
    from debugger.machine.pagelog import PageLog

    return PageLog(uc, size, _pieces(size, edges))


def _pieces(size: int, edges: tuple[int, ...]) -> list[tuple[int, int]]:
    cuts = sorted({0, size} | {e for e in edges if 0 < e < size})
    return list(zip(cuts, cuts[1:]))


def _capacity(size: int) -> int:
    # Saved pages the journal can hold (virtual address space, committed as used): room for
    # every page written after each of several checkpoints, and at least 1 Mi pages.
    return min(max(8 * (size // 0x1000), 1 << 20), (1 << 32) - 1)


def _free(lib: ctypes.CDLL, j: Any, uch: Any, freed: list[bool]) -> None:
    # The engine first (it must not outlive the memory it runs in), then the memory.  A Journal
    # or a checkpoint can outlive both (dropped later, or torn down after this finalizer ran at
    # interpreter exit): `freed` tells them the journal is gone.
    from unicorn.unicorn_py3.unicorn import uclib

    freed[0] = True
    if uch:
        uclib.uc_close(uch)
    lib.bootdbg_pagejournal_free(j)


class Journal:
    native = True

    def __init__(self, uc: Any, size: int, lib: ctypes.CDLL, j: Any,
                 edges: tuple[int, ...] = ()) -> None:
        self._lib = lib
        self._j = j
        self.size = size
        self._live: list[int] = []          # idents of live marks, oldest first
        self._pos: dict[int, int] = {}      # ident -> log position
        self._next = 0
        self._compacted_len = 0
        for lo, hi in _pieces(size, edges):
            uc.mem_map_ptr(lo, hi - lo, UC_PROT_ALL, j.contents.ram + lo)
        uc.ctl(uconst.UC_CTL_CONTEXT_MODE, uconst.UC_CTL_IO_WRITE, ctypes.c_int(CPU_ONLY))
        # Unicorn's own finalizer would close the engine whenever it likes; ours closes it and
        # then frees the RAM it runs in.
        fin = getattr(uc, "_Uc__finalizer", None)
        if fin is not None:
            fin.detach()
        self._freed = [False]
        weakref.finalize(uc, _free, lib, j, uc._uch, self._freed)
        self.context_mode = CPU_ONLY
        self.host_ram: int | None = j.contents.ram   # (RAM at physical 0, in our memory)

    @property
    def ram_address(self) -> int:
        """The host address of guest physical 0 (RAM is one host buffer, physical order)."""
        return int(self._j.contents.ram)

    # -- statistics ------------------------------------------------------------------------------
    @property
    def live(self) -> int:
        return len(self._live)

    @property
    def saved_pages(self) -> int:
        """Page copies the journal holds now."""
        return 0 if self._freed[0] else int(self._j.contents.len)

    @property
    def faults(self) -> int:
        return 0 if self._freed[0] else int(self._j.contents.faults)

    @property
    def prepared(self) -> int:
        """Pages native writers opened before writing them (no fault each)."""
        return 0 if self._freed[0] else int(self._j.contents.prepared)

    def prepare_hook(self) -> tuple[int, int]:
        """(bootdbg_pagejournal_prepare, the journal): for native code of ours that writes
        RAM (`blockcount.BlockCounter.enable_rep`), to open a range of pages before writing
        it instead of faulting on each."""
        fn = ctypes.cast(self._lib.bootdbg_pagejournal_prepare, ctypes.c_void_p).value
        return int(fn or 0), ctypes.cast(self._j, ctypes.c_void_p).value or 0

    def touch(self, phys: int, size: int) -> None:
        """(Writes of the machine's own are caught like the guest's: nothing to do.)"""

    # -- marks -----------------------------------------------------------------------------------
    def _check_alive(self) -> None:
        if self._freed[0]:
            raise JournalError("the machine of this checkpoint is gone")

    def mark(self) -> "_Mark":
        self._check_alive()
        pos = self._lib.bootdbg_pagejournal_mark(self._j)
        if pos < 0 and self._j.contents.failed:
            # A page could not be saved or unprotected: the live checkpoints cannot be restored
            # any more (they say so); start again from here.
            self._live.clear()
            self._pos.clear()
            self._lib.bootdbg_pagejournal_clear(self._j)
            pos = self._lib.bootdbg_pagejournal_mark(self._j)
        if pos < 0:
            self._compact()
            pos = self._lib.bootdbg_pagejournal_mark(self._j)
            if pos < 0:
                raise JournalError("cannot take a memory checkpoint: "
                                   f"{self.live} checkpoints hold {self.saved_pages} pages")
        self._next += 1
        self._live.append(self._next)
        self._pos[self._next] = pos
        return _Mark(self, self._next)

    def valid(self, mark: "_Mark") -> bool:
        return not self._freed[0] and mark.ident in self._pos

    def rollback(self, mark: "_Mark") -> None:
        self._check_alive()
        pos = self._pos.get(mark.ident)
        if pos is None:
            raise ValueError("checkpoint no longer valid (an earlier one was restored since)")
        if self._lib.bootdbg_pagejournal_rollback(self._j, pos) != 0:
            raise JournalError("cannot restore the memory checkpoint (the journal overflowed)")
        k = self._live.index(mark.ident)
        for ident in self._live[k + 1:]:
            del self._pos[ident]
        del self._live[k + 1:]

    def pages_since(self, mark: "_Mark") -> set[int] | None:
        """The RAM pages (numbers) written since `mark`: what rolling back to it restores
        (None: not known)."""
        pos = self._pos.get(mark.ident)
        if pos is None or self._freed[0]:
            return None
        c = self._j.contents
        log = ctypes.cast(c.log_page, ctypes.POINTER(ctypes.c_uint32))
        return {log[i] for i in range(pos, c.len)}

    def release(self, ident: int) -> None:
        """A checkpoint is gone: the pages only it needed go with it."""
        if self._freed[0] or self._pos.pop(ident, None) is None:
            return
        self._live.remove(ident)
        if not self._live:
            self._lib.bootdbg_pagejournal_clear(self._j)
            self._compacted_len = 0
        elif self._j.contents.len > 2 * self._compacted_len + 4096:
            self._compact()

    def _compact(self) -> None:
        n = len(self._live)
        bounds = (ctypes.c_uint32 * max(1, n))(*[self._pos[i] for i in self._live])
        self._compacted_len = self._lib.bootdbg_pagejournal_compact(self._j, bounds, n)
        for k, ident in enumerate(self._live):
            self._pos[ident] = bounds[k]


class _Mark:
    __slots__ = ("_journal", "ident", "__weakref__")

    def __init__(self, journal: Journal, ident: int) -> None:
        self._journal = weakref.ref(journal)
        self.ident = ident

    def __del__(self) -> None:
        j = self._journal()
        if j is not None:
            j.release(self.ident)
