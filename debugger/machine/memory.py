"""Guest memory: physical RAM, linear-to-physical translation, and host-side writes done safely.

Unicorn's `mem_read`/`mem_write` are physical.  The debugger and the interrupt-delivery code also
need linear accesses (through paging, with the A20 gate applied), so the page walk is done here in
Python over the guest's own tables: 32-bit (with 4 MiB pages), PAE and 4-level long-mode paging.

Host-side writes (every INT 13h read, every state patch) go through `write_phys`, which also
invalidates Unicorn's translated code for the touched range: Unicorn does not notice host writes
over code it has already translated (unicorn issue #2258).
"""
from __future__ import annotations

import ctypes

import struct
from dataclasses import dataclass
from typing import Any, Callable

from unicorn import Uc, UcError

from debugger.cpustate import CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, EFER_LMA
from debugger.machine.holes import hole_read, is_hole

__all__ = ["Memory", "PageFault", "MemoryError_"]

PAGE = 0x1000


class MemoryError_(Exception):
    """An access to a physical address with no RAM behind it."""


@dataclass
class PageFault(Exception):
    """Translation failed: what the CPU would report as #PF (linear address, error code)."""

    linear: int
    error_code: int

    def __str__(self) -> str:
        return f"page fault at linear {self.linear:#x} (error code {self.error_code:#x})"


class Memory:
    def __init__(self, uc: Uc, ram_size: int, paging_regs: Callable[[], tuple[int, int, int, int]],
                 a20: Callable[[], bool]) -> None:
        self.uc = uc
        self.ram_size = ram_size
        self._paging_regs = paging_regs      # () -> (cr0, cr3, cr4, efer)
        self._a20 = a20
        self.write_hooks: list[Callable[[int, int], None]] = []
        # (before a host write: the checkpoint journal saves what it overwrites)
        self.before_write: Callable[[int, int], None] | None = None
        self.flush_pending = False      # a host write under paging: flush translated code
        self.rom: Any = None            # rom.RomGuard: what a guest store into C0000h-FFFFFh drops
        # Where the RAM is in our own memory when it is ours (the page journal's): reads of it
        # need no call into Unicorn (a stop reads the instruction bytes of every step)
        self.host_ram: int | None = None

    # -- physical ------------------------------------------------------------------------------
    def mapped(self, phys: int, size: int = 1) -> bool:
        return 0 <= phys and phys + size <= self.ram_size

    def read_phys(self, phys: int, size: int) -> bytes:
        base = self.host_ram
        if base is not None and 0 <= phys and phys + size <= self.ram_size and size > 0:
            return ctypes.string_at(base + phys, size)
        try:
            if phys + size > self.ram_size and is_hole(self.ram_size, phys + size - 1):
                # (no RAM: open bus, or the ROM mirror below 4 GiB -- see holes.py)
                head = max(0, self.ram_size - phys)
                return (bytes(self.uc.mem_read(phys, head)) if head else b"") + \
                    hole_read(self.uc, self.ram_size, phys + head, size - head)
            return bytes(self.uc.mem_read(phys, size))
        except UcError:
            raise MemoryError_(f"no memory at physical {phys:#x}") from None

    def write_phys(self, phys: int, data: bytes, *, guest: bool = False) -> None:
        """Write `data` at `phys`.  guest=True: a store the machine makes for the guest (an
        interrupt push, a BIOS service filling the caller's buffer): bytes in a read-only part of
        the BIOS area are dropped, as the CPU's own stores are (rom.py).  Otherwise a host write
        (power-on set-up, the debugger's memory writes), which always lands."""
        if not data:
            return
        if guest and self.rom is not None:
            for p, chunk in self.rom.pieces(phys, data):
                self.write_phys(p, chunk)
            return
        self._write(phys, data)
        # Drop translated code overlapping the write (Unicorn does not do it for host writes).
        # Unicorn's cache removal takes *linear* addresses and translates them through the
        # guest's page tables as an instruction fetch at the current CPL; a failed walk raises a
        # hidden #PF that overwrites CR2 and QEMU's fault bookkeeping.  So with paging on, a
        # host write flushes all translated code before the next run instead.
        # With A20 off, a linear address with bit 20 set names the page 1 MiB lower, so code
        # translated there (while A20 was on) is flushed the same way.
        end = phys + len(data) - 1
        if self._paging_regs()[0] & CR0_PG or (
                not self._a20() and ((phys | end) & (1 << 20) or end - phys >= 1 << 20)):
            self.flush_pending = True
        else:
            self._remove_cache(phys, len(data))

    def _write(self, phys: int, data: bytes) -> None:
        if phys + len(data) > self.ram_size and is_hole(self.ram_size, phys + len(data) - 1):
            data = data[:max(0, self.ram_size - phys)]      # (no RAM there: dropped)
            if not data:
                return
        if self.before_write is not None:
            self.before_write(phys, len(data))
        try:
            self.uc.mem_write(phys, bytes(data))
        except UcError:
            raise MemoryError_(f"no memory at physical {phys:#x}") from None
        for hook in self.write_hooks:
            hook(phys, len(data))

    def _remove_cache(self, linear: int, size: int) -> None:
        self.uc.ctl_remove_cache(linear & ~(PAGE - 1),
                                 (linear + size + PAGE - 1) & ~(PAGE - 1))

    def read_u(self, phys: int, size: int) -> int:
        return int.from_bytes(self.read_phys(phys, size), "little")

    def write_u(self, phys: int, size: int, value: int, *, guest: bool = False) -> None:
        self.write_phys(phys, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"),
                        guest=guest)

    # -- linear --------------------------------------------------------------------------------
    def translate(self, linear: int, write: bool = False, user: bool = False,
                  fetch: bool = False) -> int:
        """Linear -> physical as the MMU would do it; raises PageFault."""
        cr0, cr3, cr4, efer = self._paging_regs()
        a20 = 0xFFFFFFFFFFFFFFFF if self._a20() else ~(1 << 20)
        if not cr0 & CR0_PG:
            return linear & 0xFFFFFFFF & a20
        err_base = (2 if write else 0) | (4 if user else 0) | (16 if fetch else 0)
        wp = bool(cr0 & CR0_WP)

        def entry(addr: int, size: int) -> int:
            return self.read_u(addr & a20, size)

        def check(e: int, allowed_rw: bool, allowed_us: bool) -> tuple[bool, bool]:
            if not e & 1:
                raise PageFault(linear, err_base)
            return allowed_rw and bool(e & 2), allowed_us and bool(e & 4)

        rw, us = True, True
        if efer & EFER_LMA:
            if not (linear >> 47 in (0, 0x1FFFF)):
                raise PageFault(linear, err_base)   # non-canonical: #GP in reality
            table = cr3 & 0x000FFFFFFFFFF000
            levels = ((39, None), (30, 1 << 30), (21, 1 << 21), (12, None))
            for shift, big in levels:
                e = entry(table + ((linear >> shift) & 0x1FF) * 8, 8)
                rw, us = check(e, rw, us)
                if big is not None and e & 0x80:
                    phys = (e & 0x000FFFFFFFFFF000 & ~(big - 1)) | (linear & (big - 1))
                    break
                table = e & 0x000FFFFFFFFFF000
            else:
                phys = table | (linear & 0xFFF)
        elif cr4 & CR4_PAE:
            linear &= 0xFFFFFFFF
            pdpte = entry((cr3 & 0xFFFFFFE0) + ((linear >> 30) & 3) * 8, 8)
            if not pdpte & 1:
                raise PageFault(linear, err_base)
            pde = entry((pdpte & 0x000FFFFFFFFFF000) + ((linear >> 21) & 0x1FF) * 8, 8)
            rw, us = check(pde, rw, us)
            if pde & 0x80:
                phys = (pde & 0x000FFFFFFFE00000) | (linear & 0x1FFFFF)
            else:
                pte = entry((pde & 0x000FFFFFFFFFF000) + ((linear >> 12) & 0x1FF) * 8, 8)
                rw, us = check(pte, rw, us)
                phys = (pte & 0x000FFFFFFFFFF000) | (linear & 0xFFF)
        else:
            linear &= 0xFFFFFFFF
            pde = entry((cr3 & 0xFFFFF000) + (linear >> 22) * 4, 4)
            rw, us = check(pde, rw, us)
            if pde & 0x80 and cr4 & CR4_PSE:
                phys = (pde & 0xFFC00000) | ((pde & 0x1FE000) << 19) | (linear & 0x3FFFFF)
            else:
                pte = entry((pde & 0xFFFFF000) + ((linear >> 12) & 0x3FF) * 4, 4)
                rw, us = check(pte, rw, us)
                phys = (pte & 0xFFFFF000) | (linear & 0xFFF)
        if user and not us:
            raise PageFault(linear, err_base | 1)
        if write and not rw and (user or wp):
            raise PageFault(linear, err_base | 1)
        return phys & a20

    def read_linear(self, linear: int, size: int, *, user: bool = False) -> bytes:
        if 0 < size <= PAGE - (linear & (PAGE - 1)):      # (within one page: one piece)
            return self.read_phys(self.translate(linear, user=user), size)
        out = bytearray()
        while size > 0:
            n = min(size, PAGE - (linear & (PAGE - 1)))
            out += self.read_phys(self.translate(linear, user=user), n)
            linear += n
            size -= n
        return bytes(out)

    def write_linear(self, linear: int, data: bytes, *, user: bool = False,
                     guest: bool = False) -> None:
        # Translate every page first so a fault leaves memory untouched.
        pieces = []
        pos = 0
        while pos < len(data):
            n = min(len(data) - pos, PAGE - (linear & (PAGE - 1)))
            pieces.append((self.translate(linear, write=True, user=user), data[pos:pos + n]))
            linear += n
            pos += n
        for phys, chunk in pieces:
            self.write_phys(phys, chunk, guest=guest)

    def read_linear_u(self, linear: int, size: int) -> int:
        return int.from_bytes(self.read_linear(linear, size), "little")

    def write_linear_u(self, linear: int, size: int, value: int, *, guest: bool = False) -> None:
        self.write_linear(linear, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"),
                          guest=guest)

    def read_descriptor(self, linear: int) -> int:
        return struct.unpack("<Q", self.read_linear(linear, 8))[0]
