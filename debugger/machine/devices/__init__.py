"""The PC's deterministic devices, as pure Python port devices attached to an `IoBus`.

`standard_devices(...)` builds the set a PC has at the boot sector: the 8259A pair (also the IRQ
sink of the others), the 8254 PIT with port 61h, CMOS/RTC, the 8042 with port 92h, COM1, the
VGA text screen, the POST/debug-console ports and the PCI configuration space (CF8h/CFCh).
Every device derives time from the machine's `Clock` (see `debugger.machine.bus`), so a run
repeats exactly.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from debugger.machine.bus import Clock, Device
from debugger.machine.devices.cmos import DEFAULT_START, Cmos
from debugger.machine.devices.debugport import DebugPort
from debugger.machine.devices.kbc import Kbc
from debugger.machine.devices.pci import PciHost
from debugger.machine.devices.pic import Pic
from debugger.machine.devices.pit import Pit
from debugger.machine.devices.uart import Uart
from debugger.machine.devices.vga import Vga

__all__ = ["Devices", "standard_devices", "Pic", "Pit", "Cmos", "Kbc", "Uart", "Vga",
           "DebugPort", "PciHost"]


@dataclass
class Devices:
    pic: Pic
    pit: Pit
    cmos: Cmos
    kbc: Kbc
    com1: Uart
    vga: Vga
    debugcon: DebugPort
    pci: PciHost

    def all(self) -> list[Device]:
        """Every device, in attach order (the names are unique: checkpoints key on them)."""
        return [self.pic, self.pit, self.cmos, self.kbc, self.com1, self.vga, self.debugcon,
                self.pci]


def standard_devices(clock: Clock, events: Any, read_mem: Callable[[int, int], bytes],
                     on_a20: Callable[[bool], None] | None = None,
                     on_reset: Callable[[], None] | None = None, ram_size: int = 64 << 20,
                     disks: Iterable[Any] = (), *,
                     rtc_start: dt.datetime = DEFAULT_START) -> Devices:
    """The PC's devices.  `disks` are objects with `kind` ("floppy"/"hd"), `bios_number` and
    `geometry` (cylinders, heads, sectors, floppy_type), used for the CMOS drive bytes."""
    pic = Pic()
    return Devices(
        pic=pic,
        pit=Pit(clock, pic, events),
        cmos=Cmos(clock, pic, events, ram_size=ram_size, disks=disks, start=rtc_start),
        kbc=Kbc(clock, pic, events, on_a20=on_a20, on_reset=on_reset),
        com1=Uart(pic, events, base=0x3F8, irq_line=4, name="com1"),
        vga=Vga(clock, read_mem),
        debugcon=DebugPort(events),
        pci=PciHost(on_reset=on_reset),
    )
