"""Baseline guest states for the rule tests, each valid under the rules it is judged by.

They are written from the SDM's description of each mode, not from the checker: a flat 32-bit
ring-0 protected-mode guest (paging on, as VMX without unrestricted guest requires), the same at
ring 3, an unrestricted-guest real-mode guest as left by the BIOS, a virtual-8086 guest, and a
64-bit IA-32e guest.
"""
from __future__ import annotations

from typing import Any

from debugger.checks.guest import Controls, GuestState, Processor
from debugger.cpustate import CpuState, DescriptorTable, Segment

PE, NE, ET, PG, WP = 1, 0x20, 0x10, 1 << 31, 1 << 16
VMXE, PAE, PCIDE, CET = 1 << 13, 0x20, 1 << 17, 1 << 23
LME, LMA = 1 << 8, 1 << 10
VM, IF, TF = 1 << 17, 1 << 9, 1 << 8
NONCANON = 0x0000_8000_0000_0000
CANON_HI = 0xFFFF_8000_0000_0000

CODE32 = Segment(0x08, 0, 0xFFFFFFFF, 0xC09B)
DATA32 = Segment(0x10, 0, 0xFFFFFFFF, 0xC093)
TSS = Segment(0x18, 0x1000, 0x67, 0x8B)
NO_LDT = Segment(0, 0, 0, 0x10000)

PM = CpuState(cr0=PE | ET | NE | PG, cr4=VMXE, rflags=2, cs=CODE32, ss=DATA32, ds=DATA32,
              es=DATA32, fs=DATA32, gs=DATA32, tr=TSS, ldtr=NO_LDT,
              gdtr=DescriptorTable(0x800, 0x3F), idtr=DescriptorTable(0x900, 0x7FF))
RING3 = PM.replace(cs=Segment(0x2B, 0, 0xFFFFFFFF, 0xC0FB), ss=Segment(0x33, 0, 0xFFFFFFFF, 0xC0F3),
                   ds=Segment(0x33, 0, 0xFFFFFFFF, 0xC0F3), es=Segment(0x33, 0, 0xFFFFFFFF, 0xC0F3),
                   rflags=2 | IF)
REAL = CpuState(cr0=ET | NE, cr4=VMXE)                     # reset caches, 0000:0000
V86 = PM.replace(rflags=2 | VM | IF | (3 << 12), cs=Segment.vm86(0x1000), ss=Segment.vm86(0x2000),
                 ds=Segment.vm86(0x3000), es=Segment.vm86(0), fs=Segment.vm86(0xB800),
                 gs=Segment.vm86(0xFFFF))
L64 = PM.replace(cr4=VMXE | PAE, efer=LME | LMA, cs=Segment(0x08, 0, 0xFFFFFFFF, 0xA09B),
                 tr=Segment(0x18, 0x1000, 0x67, 0x8B), rip=0xFFFFFFFF80001000)

NO_UG = Controls()
UG = Controls(unrestricted_guest=True)
IA32E = Controls(ia32e_mode_guest=True)


def g(cpu: CpuState, controls: Controls = NO_UG, processor: Processor | None = None,
      **kw: Any) -> GuestState:
    return GuestState(cpu, controls, processor or Processor(), **kw)


def pm(controls: Controls = NO_UG, **changes: Any) -> GuestState:
    return g(PM.replace(**changes), controls)


def ug(controls: Controls = UG, **changes: Any) -> GuestState:
    return g(PM.replace(**changes), controls)


def ring3(**changes: Any) -> GuestState:
    return g(RING3.replace(**changes))


def real(**changes: Any) -> GuestState:
    return g(REAL.replace(**changes), UG)


def v86(**changes: Any) -> GuestState:
    return g(V86.replace(**changes))


def l64(controls: Controls = IA32E, **changes: Any) -> GuestState:
    return g(L64.replace(**changes), controls)


def ctl(base: Controls = NO_UG, **kw: Any) -> Controls:
    from dataclasses import replace
    return replace(base, **kw)
