"""Physical addresses with no RAM behind them, as on a PC.

- The top 128 KiB below 4 GiB (FFFE0000h-FFFFFFFFh) mirror the BIOS ROM at E0000h-FFFFFh (the
  reset vector's copy; reads see the low copy as it is now).
- Every other address from the end of RAM up to 1 TiB (QEMU's 40 physical address bits; above
  4 GiB reachable with PAE or long-mode paging) is open bus: reads return all ones, writes are
  dropped (instead of ending the run).

Code cannot run from either range (Unicorn executes only from RAM; QEMU 7.2 stops the machine
too): a jump there ends the run as an `unmapped` fetch.

Unicorn reaches both ranges through MMIO callbacks (no host memory behind them); the host side
(`Memory.read_phys`/`write_phys`) answers the same without going through the engine.
"""
from __future__ import annotations

from typing import Any

__all__ = ["ROM_MIRROR", "ROM_MIRROR_SIZE", "ROM_LOW", "install", "hole_read", "is_hole",
           "fetch_outside_ram"]

ROM_MIRROR = 0xFFFE0000
ROM_MIRROR_SIZE = 0x20000
ROM_LOW = 0x100000 - ROM_MIRROR_SIZE
FOUR_GIB = 1 << 32
PHYS_TOP = 1 << 40
PAGE = 0x1000


def is_hole(ram_size: int, phys: int) -> bool:
    return ram_size <= phys < PHYS_TOP


def hole_read(uc: Any, ram_size: int, phys: int, size: int) -> bytes:
    """What a read of `size` bytes at `phys` (at or above the end of RAM) sees."""
    end = phys + size
    bus = max(0, min(end, ROM_MIRROR) - phys)
    out = b"\xff" * bus
    if end > ROM_MIRROR and phys < FOUR_GIB:
        start = max(phys, ROM_MIRROR)
        out += bytes(uc.mem_read(ROM_LOW + (start - ROM_MIRROR), min(end, FOUR_GIB) - start))
    return out + b"\xff" * (size - len(out))


def install(uc: Any, ram_size: int) -> None:
    """Map the open-bus hole above RAM and the ROM mirror below 4 GiB (call once, at power-on)."""
    def rom_read(_uc: Any, offset: int, size: int, _ud: Any) -> int:
        return int.from_bytes(bytes(_uc.mem_read(ROM_LOW + offset, size)), "little")

    def bus_read(_uc: Any, _offset: int, size: int, _ud: Any) -> int:
        return (1 << (8 * size)) - 1

    def drop(_uc: Any, _offset: int, _size: int, _value: int, _ud: Any) -> None:
        return None

    start = (ram_size + PAGE - 1) & ~(PAGE - 1)
    if start < ROM_MIRROR:
        uc.mmio_map(start, ROM_MIRROR - start, bus_read, None, drop, None)
    uc.mmio_map(ROM_MIRROR, ROM_MIRROR_SIZE, rom_read, None, drop, None)
    uc.mmio_map(FOUR_GIB, PHYS_TOP - FOUR_GIB, bus_read, None, drop, None)


def fetch_outside_ram(m: Any, err: Exception) -> Any:
    """The `unmapped` stop for an engine error that is a fetch from one of these ranges."""
    if "FETCH_PROT" not in str(err):
        return None
    from debugger.machine.results import Stop

    pc = m._pc()
    try:
        phys = m.mem.translate(pc)
    except Exception:
        return None
    if not is_hole(m.config.ram_size, phys):
        return None
    return m._result(Stop.UNMAPPED, f"fetch of unmapped physical address {phys:#x} at {pc:#x}",
                     address=phys)
