"""Memory checkpoints without the native page journal: the same journal, kept in Python.

`_pagejournal.c` write-protects the RAM and saves each page's old contents on the first store
after a checkpoint (a fault it handles in C).  This fallback (`BOOTDBG_NO_NATIVE=1`, or no build)
saves them from a Unicorn write hook instead, installed from the first checkpoint on, and from
`touch`, which the machine calls before each write of its own (the memory, a rewind, the time
line).  RAM stays where it is: QEMU keeps seeing stores into code it translated, exactly as
without a checkpoint.  (Unicorn's copy-on-write snapshots moved a written page, so that a store
into the running block no longer reached QEMU's self-modifying-code check: the rest of the block,
and blocks chained to it, ran the old bytes.)

Marks form a stack as in the native journal: restoring one discards every mark taken after it.
Each live mark owns the pages first written while it was the newest: their contents at the
mark.  Going back to a mark writes back those pages of it and of every later mark (newest
first, so the oldest contents win).

The MMU sets Accessed/Dirty bits in paging structures without a store the hook sees: a mark
saves the structures reachable from CR3 then.  Tables built before a mark and first reached after
it (a CR3 switch, a table linked in) keep those bits when going back (the native journal, which
catches every write to RAM, restores them).
"""
from __future__ import annotations

import ctypes
import weakref
from typing import Any, Callable, Iterator

from unicorn import UC_HOOK_MEM_WRITE
from unicorn import unicorn_const as uconst

__all__ = ["PageLog"]

PAGE = 0x1000


class PageLog:
    """The Python page journal of one engine's RAM (mapped by `map`)."""

    native = False

    def __init__(self, uc: Any, size: int, pieces: list[tuple[int, int]]) -> None:
        self.size = size
        self._uc = weakref.ref(uc)
        for lo, hi in pieces:
            uc.mem_map(lo, hi - lo)
        uc.ctl(uconst.UC_CTL_CONTEXT_MODE, uconst.UC_CTL_IO_WRITE,
               ctypes.c_int(uconst.UC_CTL_CONTEXT_CPU))
        self.context_mode = uconst.UC_CTL_CONTEXT_CPU
        self.host_ram: int | None = None          # (Unicorn's own memory: read through it)
        self._live: list[int] = []              # idents of live marks, oldest first
        self._pages: list[dict[int, bytes]] = []  # per live mark: page -> contents at the mark
        self._next = 0
        self._hooked = False
        # () -> (cr0, cr3, cr4, efer): the paging structures in force at a mark are saved with
        # it, because the MMU sets their Accessed/Dirty bits without a store the hook sees
        self.paging_regs: Callable[[], tuple[int, int, int, int]] | None = None

    # -- statistics ------------------------------------------------------------------------------
    @property
    def live(self) -> int:
        return len(self._live)

    @property
    def saved_pages(self) -> int:
        return sum(len(p) for p in self._pages)

    # -- writes ----------------------------------------------------------------------------------
    def touch(self, phys: int, size: int) -> None:
        """Before a write of `size` bytes at `phys` (the guest's, through the hook, or the
        machine's own): save the pages it changes that the newest mark has not saved."""
        if not self._pages or size <= 0:
            return
        newest = self._pages[-1]
        end = min(phys + size, self.size)
        uc = self._uc()
        for page in range(max(phys, 0) // PAGE, (end + PAGE - 1) // PAGE):
            if page not in newest:
                newest[page] = bytes(uc.mem_read(page * PAGE, PAGE))

    def _on_write(self, _uc: Any, _access: int, address: int, size: int, _value: int,
                  _ud: Any) -> None:
        pages = self._pages
        if pages and (address >> 12 not in pages[-1]
                      or (address + size - 1) >> 12 not in pages[-1]):
            self.touch(address, size)

    # -- marks -----------------------------------------------------------------------------------
    def mark(self) -> "_Mark":
        if not self._hooked:
            # (from now on: stores translated before the hook bypass it, so translate again)
            uc = self._uc()
            uc.hook_add(UC_HOOK_MEM_WRITE, self._on_write, None, 0, self.size - 1)
            uc.ctl_flush_tb()
            self._hooked = True
        self._next += 1
        self._live.append(self._next)
        self._pages.append({})
        if self.paging_regs is not None:
            for page in paging_structures(self._read_u64, *self.paging_regs()):
                self.touch(page * PAGE, PAGE)
        return _Mark(self, self._next)

    def _read_u64(self, phys: int, n: int) -> list[int]:
        """`n` little-endian 8-byte (n < 0: -n 4-byte) entries at `phys`; [] beyond RAM."""
        size = 8 * n if n > 0 else -4 * n
        if phys < 0 or phys + size > self.size:
            return []
        data = bytes(self._uc().mem_read(phys, size))
        return list(memoryview(data).cast("Q" if n > 0 else "I"))

    def valid(self, mark: "_Mark") -> bool:
        return mark.ident in self._live

    def pages_since(self, mark: "_Mark") -> set[int] | None:
        """(Not known here: a restore drops every translated block, as it always did.)"""
        return None

    def rollback(self, mark: "_Mark") -> None:
        if mark.ident not in self._live:
            raise ValueError("checkpoint no longer valid (an earlier one was restored since)")
        k = self._live.index(mark.ident)
        uc = self._uc()
        for pages in reversed(self._pages[k:]):
            for page, data in pages.items():
                uc.mem_write(page * PAGE, data)
        del self._live[k + 1:]
        del self._pages[k + 1:]
        self._pages[k] = {}                 # (RAM is as at the mark again)

    def release(self, ident: int) -> None:
        """A checkpoint is gone: its pages go to the mark before it (they are that mark's
        contents too, where it saved none of its own), or away."""
        if ident not in self._live:
            return
        k = self._live.index(ident)
        pages = self._pages.pop(k)
        del self._live[k]
        if k > 0:
            older = self._pages[k - 1]
            for page, data in pages.items():
                older.setdefault(page, data)


def paging_structures(read: Callable[[int, int], list[int]], cr0: int, cr3: int, cr4: int,
                      efer: int) -> Iterator[int]:
    """Page numbers of the paging structures reachable from CR3 (none with paging off)."""
    if not cr0 & 0x80000000:
        return
    seen: set[int] = set()

    def table(phys: int, entries: int) -> list[int]:
        page = phys >> 12
        if page in seen:
            return []
        seen.add(page)
        return read(phys, entries)

    addr = 0x000FFFFFFFFFF000
    if efer & 0x400:                                        # long mode: 4 levels
        levels = [(cr3 & addr, 3)]
        while levels:
            phys, depth = levels.pop()
            for e in table(phys, 512):
                if e & 1 and depth > 0 and not (depth < 3 and e & 0x80):
                    levels.append((e & addr, depth - 1))
    elif cr4 & 0x20:                                        # PAE
        for pdpte in table(cr3 & 0xFFFFFFE0, 4):            # (the PDPT's page)
            if pdpte & 1:
                for pde in table(pdpte & addr, 512):
                    if pde & 1 and not pde & 0x80:
                        table(pde & addr, 512)
    else:
        for pde in table(cr3 & 0xFFFFF000, -1024):
            if pde & 1 and not (pde & 0x80 and cr4 & 0x10):
                table(pde & 0xFFFFF000, -1024)
    yield from sorted(seen)


class _Mark:
    __slots__ = ("_log", "ident", "__weakref__")

    def __init__(self, log: PageLog, ident: int) -> None:
        self._log = weakref.ref(log)
        self.ident = ident

    def __del__(self) -> None:
        log = self._log()
        if log is not None:
            log.release(self.ident)
