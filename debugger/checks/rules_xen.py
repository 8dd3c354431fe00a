"""Xen's decision to run a guest natively or in its instruction emulator, without unrestricted
guest (vmx-guest-state.md section 4.1; xen/arch/x86/hvm/vmx/vmx.c and realmode.c).

Real mode: Xen runs the guest in virtual-8086 mode when every segment is "safe"
(`base < 1 MiB`, 16-byte aligned, `limit >= 0xFFFF`, present); an unsafe segment sets its bit
in `vm86_segment_mask` and Xen emulates.  Leaving real mode: Xen keeps emulating while CS.RPL
or SS.RPL is not 0.  That continuation happens only right after CR0.PE is set, when CS and SS
still hold ring-0 caches, so the rule applies to protected-mode states whose CS and SS caches
have DPL 0 (a selector with RPL != 0 there has not been reloaded since real mode).
The vm86 TSS (HVM_PARAM_VM86_TSS) is assumed configured, as every current toolstack does.
"""
from __future__ import annotations

from debugger.checks.verdict import Rule
from debugger.cpustate import AR_UNUSABLE, RF_VM

__all__ = ["RULES"]

SRC = "Xen vmx.c vmx_set_segment_register / realmode.c"
REGS = ("es", "cs", "ss", "ds", "fs", "gs")


def _rm(x) -> bool:
    return not x.pe


def _pm_from_rm(x) -> bool:
    return x.pe and not x.c.rflags & RF_VM and x.c.cs.dpl == 0 and x.c.ss.dpl == 0


def _seg_rules(r: str) -> tuple[Rule, ...]:
    R = r.upper()
    seg = lambda x: getattr(x.c, r)  # noqa: E731
    return (
        Rule(f"XEN.RM.{R}.BASE", SRC, r, f"{r}.base",
             f"Xen runs real mode in virtual-8086 mode only if {R}'s base is below 1 MiB and a "
             "multiple of 16.", lambda x: seg(x).base < 0x100000 and not seg(x).base & 0xF,
             lambda x: seg(x).base, "< 0x100000, 16-byte aligned", applies=_rm),
        Rule(f"XEN.RM.{R}.LIMIT", SRC, r, f"{r}.limit",
             f"Xen runs real mode in virtual-8086 mode only if {R}'s limit is at least 0xFFFF.",
             lambda x: seg(x).limit >= 0xFFFF, lambda x: seg(x).limit, ">= 0xFFFF", applies=_rm),
        Rule(f"XEN.RM.{R}.P", SRC, r, f"{r}.ar.p",
             f"Xen runs real mode in virtual-8086 mode only if {R} is present.",
             lambda x: bool(seg(x).ar & 0x80) and not seg(x).ar & AR_UNUSABLE,
             lambda x: seg(x).present, 1, applies=_rm),
    )


RULES: tuple[Rule, ...] = (
    *(rule for r in REGS for rule in _seg_rules(r)),
    Rule("XEN.PM.CS.RPL", SRC, "cs", "cs.selector",
         "After leaving real mode Xen keeps emulating until CS is reloaded with RPL 0.",
         lambda x: x.c.cs.rpl == 0, lambda x: x.c.cs.rpl, 0, applies=_pm_from_rm),
    Rule("XEN.PM.SS.RPL", SRC, "ss", "ss.selector",
         "After leaving real mode Xen keeps emulating until SS is reloaded with RPL 0.",
         lambda x: x.c.ss.rpl == 0, lambda x: x.c.ss.rpl, 0, applies=_pm_from_rm),
)
