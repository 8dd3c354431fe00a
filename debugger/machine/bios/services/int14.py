"""INT 14h: serial port services on the UARTs the BDA lists (0x400), through their ports.

AH=00h initialise (AL = baud/parity/stop/length as in the IBM BIOS), AH=01h send AL, AH=02h
receive into AL, AH=03h status.  AH = line status (bit 7 set on a timeout: the transmitter or
receiver was not ready), AL = modem status.  Waits are not modelled: the emulated UART
transmits instantly and a receive with no data times out at once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios.services._frame import unsupported

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall

VECTOR = 0x14

_DIVISORS = (0x417, 0x300, 0x180, 0x0C0, 0x060, 0x030, 0x018, 0x00C)   # 110 .. 9600 baud


def handle(call: "BiosCall") -> None:
    m = call.machine
    idx = call.dx
    port = m.mem.read_u(0x400 + 2 * idx, 2) if idx < 4 else 0
    if not port or m.bus.device_at(port) is None:
        call.ah = 0x80                            # timeout: no such port
        return
    bus = m.bus
    ah = call.ah
    if ah == 0x00:
        al = call.al
        div = _DIVISORS[al >> 5]
        bus.write(port + 3, 1, 0x80)
        bus.write(port, 1, div & 0xFF)
        bus.write(port + 1, 1, div >> 8)
        bus.write(port + 3, 1, al & 0x1F)
        bus.write(port + 1, 1, 0)                 # no UART interrupts
    elif ah == 0x01:
        ch = call.al
        if not bus.read(port + 5, 1) & 0x20:
            call.ah = (bus.read(port + 5, 1) | 0x80) & 0xFF
            return
        bus.write(port, 1, ch)
    elif ah == 0x02:
        if not bus.read(port + 5, 1) & 0x01:
            call.ah = (bus.read(port + 5, 1) | 0x80) & 0xFF
            return
        call.al = bus.read(port, 1)
        call.ah = bus.read(port + 5, 1) & 0x1E
        return
    elif ah != 0x03:
        unsupported(call, "serial port")
        return
    call.ah = bus.read(port + 5, 1)
    if ah != 0x01:
        call.al = bus.read(port + 6, 1)
