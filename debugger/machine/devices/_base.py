"""What every PC device here shares: byte-wide registers, and links that checkpoints do not copy.

ISA devices are 8 bits wide.  A 16- or 32-bit IN/OUT to one of them is split by the bus into
byte accesses at `port`, `port + 1`, ... (the idiom `out dx, ax` with DX=3D4h writes the CRTC
index and then its data).  `PortDevice` does that split itself, within its own ports; a byte at
a port the device does not own reads FFh and is dropped on write.

Checkpoints (`debugger.machine.snapshot`) deep-copy each device's `__dict__`.  A device's
references to the PIC, the clock, the event log and the callbacks must survive that as the same
objects, so they are kept in a `Links` namespace whose deep copy is itself.
"""
from __future__ import annotations

from typing import Any

from debugger.machine.bus import Device

__all__ = ["Links", "PortDevice", "NullIrq"]


class Links:
    """Shared collaborators of a device (clock, event log, IRQ sink, callbacks), never copied."""

    def __init__(self, **items: Any) -> None:
        self.__dict__.update(items)

    def __deepcopy__(self, memo: dict[int, Any]) -> "Links":
        return self

    def __copy__(self) -> "Links":
        return self


class NullIrq:
    """An IRQ sink that goes nowhere (a device used without a PIC, e.g. in tests)."""

    def raise_irq(self, line: int) -> None:
        pass

    def lower_irq(self, line: int) -> None:
        pass


class PortDevice(Device):
    """A device with byte-wide registers: subclasses implement `read8` and `write8`."""

    def owns(self, port: int) -> bool:
        return any(port in r for r in self.ports)

    def io_read(self, port: int, size: int) -> int:
        value = 0
        for i in range(size):
            p = (port + i) & 0xFFFF
            byte = self.read8(p) if self.owns(p) else 0xFF
            value |= (byte & 0xFF) << (8 * i)
        return value

    def io_write(self, port: int, size: int, value: int) -> None:
        for i in range(size):
            p = (port + i) & 0xFFFF
            if self.owns(p):
                self.write8(p, (value >> (8 * i)) & 0xFF)

    def read8(self, port: int) -> int:
        return 0xFF

    def write8(self, port: int, value: int) -> None:
        pass
