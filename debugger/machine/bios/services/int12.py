"""INT 12h: conventional memory size (AX = KiB below the EBDA, the BDA word at 0x413)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios import bda

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall

VECTOR = 0x12


def handle(call: "BiosCall") -> None:
    call.ax = call.machine.mem.read_u(bda.MEMORY_KB, 2)
