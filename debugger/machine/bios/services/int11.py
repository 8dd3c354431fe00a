"""INT 11h: equipment list (AX = the BDA equipment word at 0x410)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios import bda

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall

VECTOR = 0x11


def handle(call: "BiosCall") -> None:
    call.ax = call.machine.mem.read_u(bda.EQUIPMENT, 2)
