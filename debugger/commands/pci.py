"""`info pci`: the PCI functions the guest sees, as QEMU's monitor lists them (`info pci`).

Read from the configuration space as it is now (what the guest wrote there included): class,
vendor:device, subsystem, the interrupt line and pin when the function has a pin, and each
implemented base address register with its range.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from debugger.commands import CommandError
from debugger.commands.info import sub

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

CLASSES = {0x0100: "SCSI controller", 0x0101: "IDE controller", 0x0200: "Ethernet controller",
           0x0300: "VGA controller", 0x0600: "Host bridge", 0x0601: "ISA bridge",
           0x0604: "PCI bridge", 0x0680: "Bridge"}


def _bars(fn: Any) -> list[str]:
    out = []
    for i in range(6):
        off = 0x10 + 4 * i
        wmask = int.from_bytes(fn.wmask[off:off + 4], "little")
        if not wmask:
            continue                                  # not implemented
        bar = fn.read(off, 4)
        if bar & 1:
            size = (~wmask & 0xFFFF) + 1 & 0xFFFF or 0x10000
            base = bar & 0xFFFC
            where = f"I/O at {base:#06x} [{base + size - 1:#06x}]"
        else:
            size = (~wmask & 0xFFFFFFFF) + 1
            base = bar & 0xFFFFFFF0
            where = f"{'prefetchable ' if bar & 8 else ''}32 bit memory at {base:#010x} " \
                    f"[{base + size - 1:#010x}]"
        out.append(f"BAR{i}: {where}.")
    return out


def pci_listing(pci: Any) -> list[str]:
    lines = []
    for fn in pci:
        bus, dev, func = fn.bdf >> 8, (fn.bdf >> 3) & 0x1F, fn.bdf & 7
        cls = fn.read(0x0A, 2)
        lines.append(f"  Bus {bus:2d}, device {dev:3d}, function {func}:")
        lines.append(f"    {CLASSES.get(cls, f'Class {cls:04x}')}: PCI device "
                     f"{fn.vendor:04x}:{fn.device:04x}")
        pin = fn.read(0x3D, 1)
        if pin:
            lines.append(f"      IRQ {fn.read(0x3C, 1)}, pin {chr(ord('A') + pin - 1)}")
        sub_vendor, sub_id = fn.read(0x2C, 2), fn.read(0x2E, 2)
        lines.append(f"      PCI subsystem {sub_vendor:04x}:{sub_id:04x}")
        lines.extend("      " + b for b in _bars(fn))
    return lines


@sub("pci", "the PCI functions: class, vendor:device, IRQ, BARs (as QEMU's info pci)")
def info_pci(ctx: "CommandContext", args: str) -> Any:
    if args.strip():
        raise CommandError("info pci takes no arguments")
    pci = getattr(ctx.session.machine.devices, "pci", None)
    if pci is None:
        raise CommandError("this machine has no PCI bus")
    return Text("\n".join(pci_listing(pci)))
