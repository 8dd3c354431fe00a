"""The state a PC BIOS leaves at 0000:7C00, and the BIOS data it has set up by then.

Modelled on what qemu-system-i386 with SeaBIOS shows at the first instruction of the boot sector
(`-d cpu`): real mode, CS=0 with a code-segment cache (AR 0x9B, limit 0xFFFF), data segments AR
0x93, LDTR/TR present, IDTR = the IVT (base 0, limit 0x3FF), A20 enabled, DL = boot drive,
interrupts enabled.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.cpustate import Activity, CpuState, DescriptorTable, Segment
from debugger.machine.disk import SECTOR

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort

__all__ = ["prepare", "handoff_state", "HANDOFF_SP"]

HANDOFF_SP = 0x6F00          # SeaBIOS runs the boot sector on a stack below 0000:7000


def handoff_state(boot_drive: int) -> CpuState:
    real = Segment.real
    return CpuState(
        rax=0xAA55, rdx=boot_drive, rsp=HANDOFF_SP, rip=0x7C00, rflags=0x202,
        cr0=0x10,
        es=real(0), cs=real(0, code=True), ss=real(0), ds=real(0), fs=real(0), gs=real(0),
        ldtr=Segment(0, 0, 0xFFFF, 0x82), tr=Segment(0, 0, 0xFFFF, 0x8B),
        gdtr=DescriptorTable(0, 0), idtr=DescriptorTable(0, 0x3FF),
        activity=Activity.ACTIVE, a20=True,
    )


def prepare(machine: "MachinePort") -> None:
    """Set up BIOS data, devices and the boot sector, then put the CPU in the hand-off state."""
    from debugger.machine.bios import bda
    from debugger.machine.bios.services.int10 import set_mode

    bda.initialise(machine)
    set_mode(machine, 3)                 # 80x25 colour text, screen cleared, cursor at 0,0
    disk = machine.boot_disk()
    drive = disk.bios_number if disk is not None else 0
    if disk is not None:
        machine.mem.write_phys(0x7C00, disk.read(0, 1)[:SECTOR])
    machine.set_state(handoff_state(drive))
