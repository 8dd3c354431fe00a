"""INT 18h: no bootable device (ROM BASIC on the IBM PC) -- the run ends with "boot-failed"."""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios.services._frame import caller

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall

VECTOR = 0x18


def handle(call: "BiosCall") -> None:
    from debugger.machine.results import Stop, StopRequest

    where = caller(call)
    msg = f"INT 18h from {where}: no bootable device (the boot code gave up)"
    call.machine.events.emit("boot-failed", msg, caller=where)
    raise StopRequest(Stop.BOOT_FAILED, msg, caller=where)
