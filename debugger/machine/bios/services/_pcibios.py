"""INT 1Ah AH=B1h: the PCI BIOS (PCI BIOS specification 2.1), the real-mode functions SeaBIOS has.

AL=01h installation check: AX=0001h (present, configuration mechanism #1), BX=0210h (version
2.10), CL = the last bus number, EDX = "PCI " (20494350h).  EDI is left alone: there is no
protected-mode entry point (nor a BIOS32 directory), so software uses the ports instead.
AL=02h find device (CX device, DX vendor, SI index -> BX = bus:dev.fn), AL=03h find class code
(ECX, SI -> BX); not found: AH=86h.  AL=08h/09h/0Ah read a byte/word/dword of bus:dev.fn BX at
register DI into CL/CX/ECX; AL=0Bh/0Ch/0Dh write CL/CX/ECX.  As SeaBIOS does, a register number
that is not aligned is aligned down (no BAD_REGISTER_NUMBER), and an absent function reads all
ones.  Other functions (0Eh IRQ routing: this BIOS has no $PIR table) fail with AH=81h.

The functions reach the configuration space through the machine's PCI device (no port I/O, so
the address register at CF8h keeps what the guest last wrote there).  Success: AH=00h, CF clear.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios.services._frame import unsupported

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall
    from debugger.machine.devices.pci import PciHost

__all__ = ["handle", "SIGNATURE"]

SIGNATURE = 0x20494350           # "PCI "
FUNC_NOT_SUPPORTED = 0x81
DEVICE_NOT_FOUND = 0x86


def _scan(pci: "PciHost", last_bus: int):
    """bus:dev.fn of every present function, in SeaBIOS's `foreachbdf` order (functions 1-7
    only when function 0 is multi-function)."""
    for bus in range(last_bus + 1):
        for dev in range(32):
            base = (bus << 8) | (dev << 3)
            for fn in range(8):
                bdf = base | fn
                vendor = pci.config_read(bdf, 0, 2)
                if vendor not in (0, 0xFFFF):
                    yield bdf
                if fn == 0 and not pci.config_read(base, 0x0E, 1) & 0x80:
                    break


def last_bus(pci: "PciHost") -> int:
    return max((f.bdf >> 8 for f in pci), default=0)


def _ok(call: "BiosCall") -> None:
    call.ah = 0
    call.cf = False


def _find(call: "BiosCall", pci: "PciHost", match) -> None:
    index = call.si
    for bdf in _scan(pci, last_bus(pci)):
        if match(bdf):
            if index == 0:
                call.bx = bdf
                _ok(call)
                return
            index -= 1
    call.fail(DEVICE_NOT_FOUND)


def handle(call: "BiosCall", pci: "PciHost") -> None:
    al = call.al
    if al == 0x01:
        call.al = 0x01
        call.bx = 0x0210
        call.cl = last_bus(pci)
        call.edx = SIGNATURE
        _ok(call)
    elif al == 0x02:
        wanted = call.cx << 16 | call.dx
        if call.dx == 0xFFFF:
            call.fail(DEVICE_NOT_FOUND)
            return
        _find(call, pci, lambda bdf: pci.config_read(bdf, 0, 4) == wanted)
    elif al == 0x03:
        wanted = call.ecx
        _find(call, pci, lambda bdf: pci.config_read(bdf, 0x08, 4) >> 8 == wanted)
    elif al in (0x08, 0x09, 0x0A):
        size = {0x08: 1, 0x09: 2, 0x0A: 4}[al]
        value = pci.config_read(call.bx, call.di & (0x100 - size), size)
        if size == 1:
            call.cl = value
        elif size == 2:
            call.cx = value
        else:
            call.ecx = value
        _ok(call)
    elif al in (0x0B, 0x0C, 0x0D):
        size = {0x0B: 1, 0x0C: 2, 0x0D: 4}[al]
        pci.config_write(call.bx, call.di & (0x100 - size), size,
                         call.ecx & ((1 << (8 * size)) - 1))
        _ok(call)
    else:
        unsupported(call, "PCI BIOS", FUNC_NOT_SUPPORTED)
