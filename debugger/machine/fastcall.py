"""SYSENTER and SYSCALL, done architecturally (Unicorn only calls a hook and adds 2 to EIP).

Called with the engine at rest right after the instruction, so RIP already points past it.
Raises `GuestFault` where the SDM says the instruction faults.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.cpustate import CR0_PE, EFER_LMA, EFER_SCE, RF_IF, RF_RF, RF_VM, Segment
from debugger.machine.delivery import GuestFault

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort

__all__ = ["sysenter", "syscall"]

FLAT = 0xFFFFFFFF
CODE32, CODE64, DATA = 0xC09B, 0xA09B, 0xC093


def sysenter(m: "MachinePort") -> None:
    cpu = m.cpu
    cs_sel = cpu.uc.msr_read(0x174) & 0xFFFF
    if not cpu.cr(0) & CR0_PE or cs_sel & 0xFFFC == 0:
        raise GuestFault(13, 0)
    long_mode = bool(cpu.efer & EFER_LMA)
    cpu.eflags = cpu.eflags & ~(RF_VM | RF_IF | RF_RF)
    cpu.load_seg("cs", Segment(cs_sel & 0xFFFC, 0, FLAT, CODE64 if long_mode else CODE32),
                 update_hflags=False)
    cpu.load_seg("ss", Segment((cs_sel & 0xFFFC) + 8, 0, FLAT, DATA), update_hflags=False)
    esp = cpu.uc.msr_read(0x175)
    eip = cpu.uc.msr_read(0x176)
    cpu.set_gpr(4, esp if long_mode else esp & FLAT)
    cpu.rip = eip if long_mode else eip & FLAT
    cpu.update_hflags()


def syscall(m: "MachinePort") -> None:
    cpu = m.cpu
    efer = cpu.efer
    if not efer & EFER_SCE:
        cpu.rip -= 2
        raise GuestFault(6, None)
    star = cpu.uc.msr_read(0xC0000081)
    sel = (star >> 32) & 0xFFFC
    flags = cpu.eflags
    next_ip = cpu.rip
    if efer & EFER_LMA:
        was64 = bool(cpu.seg("cs").l)
        cpu.set_gpr(1, next_ip)
        cpu.set_gpr(11, flags & ~RF_RF)
        fmask = cpu.uc.msr_read(0xC0000084)
        cpu.eflags = flags & ~fmask & ~RF_RF
        cpu.load_seg("cs", Segment(sel, 0, FLAT, CODE64), update_hflags=False)
        cpu.load_seg("ss", Segment(sel + 8, 0, FLAT, DATA), update_hflags=False)
        cpu.rip = cpu.uc.msr_read(0xC0000082 if was64 else 0xC0000083)
    else:
        cpu.set_gpr(1, next_ip & FLAT)
        cpu.eflags = flags & ~(RF_VM | RF_IF | RF_RF)
        cpu.load_seg("cs", Segment(sel, 0, FLAT, CODE32), update_hflags=False)
        cpu.load_seg("ss", Segment(sel + 8, 0, FLAT, DATA), update_hflags=False)
        cpu.rip = star & FLAT
    cpu.update_hflags()
