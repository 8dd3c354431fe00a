"""INT 1Ah: time of day -- the BDA tick count and the CMOS real-time clock.

AH=00h/01h read/set the tick count the timer IRQ keeps at 0x46C (AL = midnight flag, cleared on
read).  AH=02h-07h read/set the RTC through ports 70h/71h, so the CMOS device is the one
source of truth; its clock is deterministic (derived from the instruction count), so two runs
see the same times.  Values are returned in BCD whatever mode register B selects.  AH=B1h is
the PCI BIOS (`_pcibios`), present while the machine has its PCI configuration space.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios import bda
from debugger.machine.bios.services import _pcibios
from debugger.machine.bios.services._frame import unsupported

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall
    from debugger.machine.bus import IoBus

VECTOR = 0x1A


def _to_bcd(v: int) -> int:
    return ((v // 10) << 4) | (v % 10)


def _from_bcd(v: int) -> int:
    return (v >> 4) * 10 + (v & 0xF)


def _cmos_read(bus: "IoBus", reg: int) -> int:
    bus.write(0x70, 1, reg)
    return bus.read(0x71, 1)


def _cmos_write(bus: "IoBus", reg: int, value: int) -> None:
    bus.write(0x70, 1, reg)
    bus.write(0x71, 1, value & 0xFF)


def _binary(bus: "IoBus") -> bool:
    return bool(_cmos_read(bus, 0x0B) & 0x04)


def _get(bus: "IoBus", reg: int) -> int:
    v = _cmos_read(bus, reg)
    return _to_bcd(v) if _binary(bus) else v


def _put(bus: "IoBus", reg: int, bcd: int) -> None:
    _cmos_write(bus, reg, _from_bcd(bcd) if _binary(bus) else bcd)


def handle(call: "BiosCall") -> None:
    m = call.machine
    mem = m.mem
    bus = m.bus
    ah = call.ah
    if ah == 0xB1:
        pci = getattr(m.devices, "pci", None)
        if pci is None or bus.device_at(0xCF8) is not pci:
            unsupported(call, "PCI BIOS", 0x86)          # (a plugin took the ports)
        else:
            _pcibios.handle(call, pci)
        return
    if ah == 0x00:
        ticks = mem.read_u(bda.TICKS, 4)
        call.cx, call.dx = ticks >> 16, ticks & 0xFFFF
        call.al = mem.read_u(bda.MIDNIGHT, 1)
        mem.write_u(bda.MIDNIGHT, 1, 0)
        call.cf = False
        return
    if ah == 0x01:
        mem.write_u(bda.TICKS, 4, ((call.cx << 16) | call.dx) % bda.TICKS_PER_DAY)
        mem.write_u(bda.MIDNIGHT, 1, 0)
        call.cf = False
        return
    if ah in (0x02, 0x03, 0x04, 0x05, 0x06, 0x07) and bus.device_at(0x70) is None:
        call.fail()                               # no RTC
        return
    if ah == 0x02:
        if _cmos_read(bus, 0x0A) & 0x80:          # update in progress
            call.fail()
            return
        call.ch, call.cl, call.dh = _get(bus, 0x04), _get(bus, 0x02), _get(bus, 0x00)
        call.dl = _cmos_read(bus, 0x0B) & 0x01
        call.cf = False
    elif ah == 0x03:
        b = _cmos_read(bus, 0x0B)
        _cmos_write(bus, 0x0B, b | 0x80)          # halt updates while setting
        _put(bus, 0x04, call.ch)
        _put(bus, 0x02, call.cl)
        _put(bus, 0x00, call.dh)
        _cmos_write(bus, 0x0B, (b & 0x7E) | 0x02 | (call.dl & 1))
        call.cf = False
    elif ah == 0x04:
        if _cmos_read(bus, 0x0A) & 0x80:
            call.fail()
            return
        call.ch, call.cl = _get(bus, 0x32), _get(bus, 0x09)
        call.dh, call.dl = _get(bus, 0x08), _get(bus, 0x07)
        call.cf = False
    elif ah == 0x05:
        b = _cmos_read(bus, 0x0B)
        _cmos_write(bus, 0x0B, b | 0x80)
        _put(bus, 0x32, call.ch)
        _put(bus, 0x09, call.cl)
        _put(bus, 0x08, call.dh)
        _put(bus, 0x07, call.dl)
        _cmos_write(bus, 0x0B, b & 0x7F)
        call.cf = False
    elif ah == 0x06:
        b = _cmos_read(bus, 0x0B)
        if b & 0x20:                              # alarm already set
            call.fail()
            return
        _put(bus, 0x05, call.ch)
        _put(bus, 0x03, call.cl)
        _put(bus, 0x01, call.dh)
        _cmos_write(bus, 0x0B, b | 0x20)          # alarm interrupt enable
        bus.write(0xA1, 1, bus.read(0xA1, 1) & ~0x01)   # unmask IRQ8
        call.cf = False
    elif ah == 0x07:
        _cmos_write(bus, 0x0B, _cmos_read(bus, 0x0B) & ~0x20)
        call.cf = False
    else:
        unsupported(call, "time of day", 0x86)
