"""The guest's page tables, read the way the MMU reads them: one walk level by level, and every
mapping at once.

`walk(read, regs, linear)` follows one linear address through 32-bit paging (4 KiB and, with
CR4.PSE, 4 MiB pages), PAE paging (4 KiB / 2 MiB) or 4-level paging (4 KiB / 2 MiB / 1 GiB) and
returns every entry it read (where, its value, its bits), the physical address, the effective
permissions (RW and US ANDed over the levels, NX ORed), and the #PF the access would raise, with
its error code as the SDM defines it (P, W/R, U/S, RSVD, I/D).  Nothing is written: unlike the
CPU, a walk never sets Accessed/Dirty bits.

`mappings(read, regs)` lists every present leaf (what QEMU's `info tlb` prints) and
`ranges(mappings)` merges them by permission into QEMU's `info mem` ranges.

`read(phys, size) -> bytes` reads physical memory and raises for an address with no RAM; `regs`
is (cr0, cr3, cr4, efer).  The A20 mask is applied by the caller's `a20` argument.  Pure code:
no Unicorn, no session; the session wraps it (`Session.translate`, `Session.mappings`).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable, Iterator

from debugger.cpustate import CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, EFER_LMA, EFER_NXE

__all__ = ["Level", "Walk", "Mapping", "Range", "walk", "mappings", "ranges", "scheme",
           "error_code_text", "qemu_tlb_line", "qemu_mem_line", "PF_P", "PF_W", "PF_U",
           "PF_RSVD", "PF_ID"]

Reader = Callable[[int, int], bytes]
PF_P, PF_W, PF_U, PF_RSVD, PF_ID = 1, 2, 4, 8, 16
CR4_SMEP = 1 << 20
_ADDR52 = 0x000FFFFFFFFFF000
_NX = 1 << 63
# Bits of an entry, in the order QEMU's `info tlb` prints them (letter, bit).
_QEMU_FLAGS = (("X", 63), ("G", 8), ("P", 7), ("D", 6), ("A", 5), ("C", 4), ("T", 3),
               ("U", 2), ("W", 1))
_BIT_NAMES = ((0, "P"), (1, "RW"), (2, "US"), (3, "PWT"), (4, "PCD"), (5, "A"), (6, "D"),
              (7, "PS"), (8, "G"), (63, "NX"))


@dataclass(frozen=True)
class Level:
    """One entry read during a walk."""

    name: str            # PML4E, PDPTE, PDE, PTE
    index: int           # index in its table
    address: int         # physical address of the entry
    value: int
    width: int           # 4 or 8 bytes
    leaf: bool = False   # maps a page (a PTE, or a PDE/PDPTE with PS)
    target: int = 0      # the next table, or the page frame for a leaf
    reserved: bool = False   # a reserved bit is set (the walk stops with RSVD)

    @property
    def present(self) -> bool:
        return bool(self.value & 1)

    def bits(self, pae_pdpte: bool = False) -> str:
        """The set bits by name ('P RW US A'), with RW/US absent shown as R/S."""
        out = []
        for bit, name in _BIT_NAMES:
            if pae_pdpte and name not in ("P", "PWT", "PCD"):
                continue
            if bit == 7 and self.name == "PTE":
                name = "PAT"
            if self.value >> bit & 1:
                out.append(name)
        return " ".join(out) if out else "-"


@dataclass(frozen=True)
class Walk:
    """A linear address followed through the page tables."""

    linear: int
    scheme: str                     # "off", "32-bit", "PAE", "4-level"
    cr3: int
    levels: tuple[Level, ...] = ()
    physical: int | None = None     # None when the walk faults
    page_size: int = 0
    writable: bool = True           # effective permissions over all levels
    user: bool = True
    executable: bool = True
    fault: str = ""                 # why the walk stopped (not present, reserved bit, ...)
    error_code: int | None = None   # the #PF error code, when the access faults

    @property
    def ok(self) -> bool:
        return self.physical is not None

    @property
    def failed_level(self) -> Level | None:
        """The entry the walk stopped at (not present / reserved), if it did."""
        if self.physical is None and self.levels:
            return self.levels[-1]
        return None


@dataclass(frozen=True)
class Mapping:
    """One present leaf: `size` bytes of linear space at `linear` mapped to `physical`."""

    linear: int
    physical: int
    size: int
    entry: int                      # the leaf entry (for its bits)
    writable: bool                  # effective over all levels
    user: bool
    executable: bool


@dataclass(frozen=True)
class Range:
    """Consecutive mappings with the same permissions (QEMU's `info mem`)."""

    start: int
    end: int
    user: bool
    writable: bool
    executable: bool = True
    pages: list[Mapping] = field(default_factory=list, compare=False, repr=False)

    @property
    def size(self) -> int:
        return self.end - self.start


def scheme(regs: tuple[int, int, int, int]) -> str:
    cr0, _cr3, cr4, efer = regs
    if not cr0 & CR0_PG:
        return "off"
    if efer & EFER_LMA:
        return "4-level"
    return "PAE" if cr4 & CR4_PAE else "32-bit"


def canonical(linear: int) -> int:
    """Sign-extend a 48-bit linear address (as 4-level paging sees it)."""
    linear &= (1 << 48) - 1
    return linear | 0xFFFF000000000000 if linear >> 47 else linear


def _entry(read: Reader, addr: int, width: int) -> int:
    return int.from_bytes(read(addr, width), "little")


def walk(read: Reader, regs: tuple[int, int, int, int], linear: int, *, write: bool = False,
         user: bool = False, fetch: bool = False, a20: bool = True) -> Walk:
    """Translate `linear` for one access (`write`/`fetch`, `user` = CPL 3) as the MMU would.

    A table outside RAM reads as not present (the walk says so)."""
    cr0, cr3, cr4, efer = regs
    kind = scheme(regs)
    amask = ~0 if a20 else ~(1 << 20)
    if kind == "off":
        return Walk(linear, kind, cr3, physical=linear & 0xFFFFFFFF & amask, page_size=0)
    nxe = bool(efer & EFER_NXE) and kind != "32-bit"
    err = (PF_W if write else 0) | (PF_U if user else 0) | \
        (PF_ID if fetch and (nxe or cr4 & CR4_SMEP) else 0)
    levels: list[Level] = []
    rw = us = True
    nx = False

    def stop(fault: str, code: int) -> Walk:
        return Walk(linear, kind, cr3, tuple(levels), None, 0, rw, us, not nx, fault, code)

    if kind == "4-level":
        if linear >> 47 not in (0, 0x1FFFF):
            return Walk(linear, kind, cr3, fault="non-canonical address (#GP, not #PF)")
        width = 8
        plan = [("PML4E", 39, None), ("PDPTE", 30, 1 << 30), ("PDE", 21, 1 << 21),
                ("PTE", 12, None)]
        table = cr3 & _ADDR52
        addr_mask = _ADDR52
    elif kind == "PAE":
        linear &= 0xFFFFFFFF
        width = 8
        plan = [("PDPTE", 30, None), ("PDE", 21, 1 << 21), ("PTE", 12, None)]
        table = cr3 & 0xFFFFFFE0
        addr_mask = _ADDR52
    else:
        linear &= 0xFFFFFFFF
        width = 4
        plan = [("PDE", 22, (1 << 22) if cr4 & CR4_PSE else None), ("PTE", 12, None)]
        table = cr3 & 0xFFFFF000
        addr_mask = 0xFFFFF000
    idx_bits = 0x3FF if width == 4 else 0x1FF
    phys = page = 0
    for i, (name, shift, big) in enumerate(plan):
        index = (linear >> shift) & (3 if kind == "PAE" and i == 0 else idx_bits)
        at = (table + index * width) & amask
        try:
            e = _entry(read, at, width)
        except Exception:
            levels.append(Level(name, index, at, 0, width))
            return stop(f"{name} at physical {at:#x} is outside RAM", err)
        pae_pdpte = kind == "PAE" and i == 0
        leaf = name == "PTE" or (big is not None and bool(e & 0x80) and bool(e & 1))
        reserved = bool(e & 1) and (
            (e & _NX and not nxe and width == 8)
            or (name == "PML4E" and e & 0x80)
            or (pae_pdpte and e & 0x1E6))
        if leaf:
            size = big or 0x1000
            if name == "PDE" and width == 4:
                target = (e & 0xFFC00000) | ((e & 0x1FE000) << 19)
            else:
                target = e & addr_mask & ~(size - 1)
        else:
            size, target = 0, e & addr_mask
        levels.append(Level(name, index, at, e, width, leaf, target, reserved))
        if not e & 1:
            return stop(f"{name} {index:#x} is not present", err)
        if reserved:
            return stop(f"{name} {index:#x} has a reserved bit set", err | PF_P | PF_RSVD)
        if not pae_pdpte:
            rw, us = rw and bool(e & 2), us and bool(e & 4)
            nx = nx or (nxe and bool(e & _NX))
        if leaf:
            page = size
            phys = target | (linear & (size - 1))
            break
        table = target
    w = Walk(linear, kind, cr3, tuple(levels), phys & amask, page, rw, us, not nx)
    why = ""
    if user and not us:
        why = "a user access to a supervisor page"
    elif write and not rw and (user or cr0 & CR0_WP):
        why = "a write to a read-only page" + ("" if user else " (CR0.WP=1)")
    elif fetch and nx:
        why = "an instruction fetch from a no-execute page"
    elif fetch and not user and us and cr4 & CR4_SMEP:
        why = "a supervisor fetch from a user page (CR4.SMEP=1)"
    if why:
        return Walk(linear, kind, cr3, tuple(levels), None, page, rw, us, not nx, why,
                    err | PF_P)
    return w


def error_code_text(code: int) -> str:
    parts = ["protection" if code & PF_P else "not present",
             "write" if code & PF_W else "read", "user" if code & PF_U else "supervisor"]
    if code & PF_RSVD:
        parts.append("reserved bit")
    if code & PF_ID:
        parts.append("instruction fetch")
    return ", ".join(parts)


# -- every mapping -------------------------------------------------------------------------------
def _table(read: Reader, addr: int, count: int, width: int) -> tuple[int, ...]:
    try:
        data = read(addr, count * width)
    except Exception:
        return (0,) * count
    return struct.unpack(f"<{count}{'I' if width == 4 else 'Q'}", data)


def mappings(read: Reader, regs: tuple[int, int, int, int]) -> Iterator[Mapping]:
    """Every present leaf in linear order (entries with a reserved bit set are left out, as they
    map nothing)."""
    cr0, cr3, cr4, efer = regs
    kind = scheme(regs)
    if kind == "off":
        return
    nxe = bool(efer & EFER_NXE) and kind != "32-bit"
    if kind == "32-bit":
        for i, pde in enumerate(_table(read, cr3 & 0xFFFFF000, 1024, 4)):
            if not pde & 1:
                continue
            if pde & 0x80 and cr4 & CR4_PSE:
                yield Mapping(i << 22, (pde & 0xFFC00000) | ((pde & 0x1FE000) << 19), 1 << 22,
                              pde, bool(pde & 2), bool(pde & 4), True)
                continue
            for j, pte in enumerate(_table(read, pde & 0xFFFFF000, 1024, 4)):
                if pte & 1:
                    yield Mapping((i << 22) | (j << 12), pte & 0xFFFFF000, 0x1000, pte,
                                  bool(pde & pte & 2), bool(pde & pte & 4), True)
        return
    if kind == "PAE":
        tops = [(i << 30, e, True) for i, e in
                enumerate(_table(read, cr3 & 0xFFFFFFE0, 4, 8))]
        plan = [(30, None), (21, 1 << 21), (12, None)]
        yield from _descend(read, tops, plan[1:], nxe, pae=True)
        return
    tops = [(i << 39, e, False) for i, e in enumerate(_table(read, cr3 & _ADDR52, 512, 8))]
    yield from _descend(read, tops, [(30, 1 << 30), (21, 1 << 21), (12, None)], nxe, pae=False)


def _descend(read: Reader, entries: list[tuple[int, int, bool]],
             plan: list[tuple[int, int | None]], nxe: bool, pae: bool,
             rw: bool = True, us: bool = True, nx: bool = False) -> Iterator[Mapping]:
    shift, big = plan[0]
    for base, e, pdpte in entries:
        if not e & 1 or (e & _NX and not nxe) or (pdpte and e & 0x1E6) \
                or (not pae and not pdpte and len(plan) == 3 and e & 0x80):
            continue
        rw1, us1 = (rw, us) if pdpte else (rw and bool(e & 2), us and bool(e & 4))
        nx1 = nx or (nxe and bool(e & _NX))
        table = e & _ADDR52
        for j, child in enumerate(_table(read, table, 512, 8)):
            if not child & 1 or (child & _NX and not nxe):
                continue
            lin = canonical(base | (j << shift)) if not pae else base | (j << shift)
            leaf = len(plan) == 1 or (big is not None and child & 0x80)
            if leaf:
                size = big if len(plan) > 1 else 0x1000
                yield Mapping(lin, child & _ADDR52 & ~(size - 1), size, child,
                              rw1 and bool(child & 2), us1 and bool(child & 4),
                              not (nx1 or (nxe and bool(child & _NX))))
            else:
                yield from _descend(read, [(lin, child, False)], plan[1:], nxe, pae,
                                    rw1, us1, nx1)


def ranges(maps: Iterator[Mapping] | list[Mapping]) -> list[Range]:
    """Merge consecutive mappings with equal user/write permissions (QEMU's `info mem`: the
    physical side is not looked at)."""
    out: list[Range] = []
    for m in maps:
        last = out[-1] if out else None
        if last is not None and last.end == m.linear and last.user == m.user \
                and last.writable == m.writable:
            out[-1] = Range(last.start, m.linear + m.size, last.user, last.writable,
                            last.executable or m.executable, last.pages)
            last.pages.append(m)
        else:
            out.append(Range(m.linear, m.linear + m.size, m.user, m.writable, m.executable,
                             [m]))
    return out


def qemu_tlb_line(m: Mapping) -> str:
    """A mapping as QEMU's `info tlb` prints it: virtual, physical, leaf entry bits."""
    flags = "".join(c if (m.entry >> bit & 1) and not (c == "P" and m.size == 0x1000) else "-"
                    for c, bit in _QEMU_FLAGS)
    return f"{m.linear & 0xFFFFFFFFFFFFFFFF:016x}: {m.physical:016x} {flags}"


def qemu_mem_line(r: Range) -> str:
    """A range as QEMU's `info mem` prints it: start-end size, then u r w."""
    end = r.end
    if r.start >> 47 == 0x1FFFF:        # the high half: QEMU counts in 48 bits, then extends
        e48 = (r.start & ((1 << 48) - 1)) + r.size
        end = e48 if e48 >= 1 << 48 else canonical(e48)
    return (f"{r.start & 0xFFFFFFFFFFFFFFFF:016x}-{end & 0xFFFFFFFFFFFFFFFF:016x} "
            f"{r.size:016x} {'u' if r.user else '-'}r{'w' if r.writable else '-'}")
