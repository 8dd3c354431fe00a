"""The BIOS area (C0000h-FFFFFh) read-only where the i440FX's PAM registers make it so.

After POST, SeaBIOS (under QEMU 7.2) write-protects the BIOS and the option-ROM area through
the host bridge's PAM registers (00:00.0, 59h-5Fh; `make_bios_readonly_intel`): F0000h-FFFFFh,
and C0000h-... up to its last ROM, in 16 KiB blocks.  A guest store to a read-only block is
dropped (reads keep returning what is there; nothing faults); the rest is RAM.  What
`images/rom/romprobe.asm` read back from QEMU 7.2 is `images/rom/romprobe.expect`.

- Each PAM nibble covers one block: 59h bits 4-7 the F segment (64 KiB), 5Ah-5Fh two 16 KiB
  blocks each from C0000h on (low nibble first).  Write-enable is bit 1 of the nibble.  The
  guest can reprogram them (CF8h/CFCh): the protection follows at once.  The read-enable bit
  is not modelled: reads always see the shadow RAM (QEMU would read the ROM/PCI behind it).
- C0000h-C2FFFh stays writable whatever the PAM says: QEMU 7.2 (TCG too) loads its kvmvapic
  option ROM there and maps it as RAM above the PAM setting (`vapic_map_rom_writable`: 9 KiB,
  in whole 4 KiB pages).

How: the read-only pages are mapped without UC_PROT_WRITE, so QEMU's TLB marks them
TLB_DISCARD_WRITE; a store there takes the slow path, calls our UC_HOOK_MEM_WRITE_PROT hook
(bounded to C0000h-FFFFFh), which answers "handled", and `store_helper` then drops the store
("Ignore writes to ROM").  Unaligned and page-crossing stores are split into bytes there, each
judged by its own page.  No other page changes: code that does not store there runs as before.

Host writes (`uc_mem_write`: the BIOS set up at power-on, the debugger's memory writes, restores)
still land.  Stores the machine makes for the guest (interrupt-delivery pushes, BIOS services
writing a caller's buffer) go through `Memory.write_phys(..., guest=True)`, which asks
`pieces` here and drops the same bytes.
"""
from __future__ import annotations

import ctypes
from typing import Any, Callable, Iterator

from unicorn import UC_HOOK_MEM_WRITE_PROT, UC_PROT_ALL, UC_PROT_EXEC, UC_PROT_READ, UcError

__all__ = ["RomGuard", "read_only_ranges", "BASE", "END", "EDGES", "VAPIC_END"]

BASE, END = 0xC0000, 0x100000
BLOCK = 0x4000
PAGE = 0x1000
VAPIC_END = 0xC3000          # QEMU's writable kvmvapic option ROM: C0000h up to here
_WE = 0x2
# Where the RAM is mapped as separate Unicorn regions (pagejournal.attach), so that a change of
# the PAM only changes permissions: Unicorn splitting a region copies it.
EDGES = tuple(sorted({BASE, END, VAPIC_END} | set(range(BASE, END, BLOCK))))


def _blocks(pam: bytes) -> Iterator[tuple[int, int, bool]]:
    """(start, end, writable) of every PAM-controlled block, in address order."""
    for i, reg in enumerate(pam[1:7]):
        for half in (0, 1):
            start = BASE + (2 * i + half) * BLOCK
            yield start, start + BLOCK, bool((reg >> (4 * half)) & _WE)
    yield 0xF0000, END, bool((pam[0] >> 4) & _WE)


def read_only_ranges(pam: bytes) -> list[tuple[int, int]]:
    """The physical ranges [start, end) whose stores are dropped, for PAM0-PAM6 = `pam`."""
    out: list[tuple[int, int]] = []
    for start, end, writable in _blocks(pam):
        start = max(start, VAPIC_END)
        if writable or start >= end:
            continue
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


class RomGuard:
    """Keeps the engine's write protection of C0000h-FFFFFh equal to what the PAM bytes say."""

    def __init__(self, uc: Any, pam: Callable[[], bytes],
                 on_error: Callable[[str], None] | None = None) -> None:
        self.uc = uc
        self._pam = pam
        self._on_error = on_error
        self._applied: bytes | None = None
        self.ranges: list[tuple[int, int]] = []
        self.dropped = 0            # statistics: guest stores dropped by the engine
        # The read-only pages as a mask, bit i = page C0000h + 4 KiB * i (the full-trace
        # recorder's native write hook reads it).
        self.mask = ctypes.c_uint64(0)
        uc.hook_add(UC_HOOK_MEM_WRITE_PROT, self._drop, None, BASE, END - 1)

    def _drop(self, _uc: Any, _access: int, _addr: int, _size: int, _value: int,
              _ud: Any) -> bool:
        self.dropped += 1
        return True             # handled: store_helper then discards the store (TLB_DISCARD_WRITE)

    def sync(self) -> None:
        """Apply the PAM bytes as they are now (cheap when they did not change)."""
        pam = bytes(self._pam())
        if pam == self._applied:
            return
        ranges = read_only_ranges(pam)
        try:
            for start, end in self._pages(self.ranges, ranges):
                ro = any(a <= start < b for a, b in ranges)
                self.uc.mem_protect(start, end - start,
                                    UC_PROT_READ | UC_PROT_EXEC if ro else UC_PROT_ALL)
        except UcError as e:
            # (Unicorn refuses protection changes once its own memory snapshots exist, which
            # bootdbg does not use.  The old protection stays.)
            if self._on_error is not None:
                self._on_error(f"the PAM registers changed the BIOS area's write protection, "
                               f"which this engine configuration cannot follow ({e})")
            return
        self._applied = pam
        self.ranges = ranges
        self.mask.value = sum(1 << ((p - BASE) // PAGE) for a, b in ranges
                              for p in range(a, b, PAGE))

    @staticmethod
    def _pages(old: list[tuple[int, int]], new: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
        """Runs of pages whose protection differs between `old` and `new` (region-aligned)."""
        for start, end in zip(EDGES, EDGES[1:]):
            if any(a <= start < b for a, b in old) != any(a <= start < b for a, b in new):
                yield start, end

    def read_only(self, phys: int) -> bool:
        return any(a <= phys < b for a, b in self.ranges)

    def pieces(self, phys: int, data: bytes) -> list[tuple[int, bytes]]:
        """The parts of a guest store of `data` at `phys` that land (the rest is dropped)."""
        end = phys + len(data)
        if end <= BASE or phys >= END or not self.ranges:
            return [(phys, data)]
        out: list[tuple[int, bytes]] = []
        pos = phys
        for a, b in self.ranges:
            if b <= pos or a >= end:
                continue
            if a > pos:
                out.append((pos, data[pos - phys:a - phys]))
            pos = max(pos, b)
        if pos < end:
            out.append((pos, data[pos - phys:]))
        return out
