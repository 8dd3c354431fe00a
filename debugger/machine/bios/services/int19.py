"""INT 19h: bootstrap loader -- load the boot sector of the boot drive at 0000:7C00 and run it.

The caller's interrupt frame is discarded (INT 19h never returns): CS:IP = 0000:7C00, DL = boot
drive, interrupts enabled, the rest of the registers and the stack as the caller left them.  A
boot sector without the 55AAh signature, or no boot drive at all, goes on to INT 18h (the run
ends with "boot-failed").  The IVT and BIOS data are not reinitialised, as on a real warm boot
through INT 19h.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.cpustate import RF_IF
from debugger.machine.bios.services._frame import caller, discard_frame
from debugger.machine.disk import SECTOR, DiskError

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall

VECTOR = 0x19


def handle(call: "BiosCall") -> None:
    from debugger.machine.results import Stop, StopRequest

    m = call.machine
    disk = m.boot_disk()
    where = caller(call)
    problem = None
    sector = b""
    if disk is None:
        problem = "no boot drive"
    else:
        try:
            sector = disk.read(0, 1)[:SECTOR]
        except DiskError as exc:
            problem = str(exc)
        else:
            if sector[510:512] != b"\x55\xaa":
                problem = f"{disk.name} has no boot signature"
    if problem is not None:
        msg = f"INT 19h from {where}: {problem}; no bootable device"
        m.events.emit("boot-failed", msg, caller=where)
        raise StopRequest(Stop.BOOT_FAILED, msg, caller=where)
    assert disk is not None
    m.mem.write_phys(0x7C00, sector)
    m.events.emit("bios", f"INT 19h from {where}: booting {disk.name} at 0000:7C00",
                  vector=0x19, drive=disk.bios_number)
    discard_frame(call)
    call.dl = disk.bios_number
    m.load_real_segment("cs", 0)
    m.cpu.rip = 0x7C00
    m.cpu.eflags = m.cpu.eflags | RF_IF
