"""KVM's emulation-required rule: `__vmx_guest_state_valid()` (vmx-guest-state.md section 2.2).

KVM without unrestricted guest runs a state natively only if this reduced check passes on the
guest-visible state; otherwise it emulates instructions until it does.  So a violation here
means "KVM must emulate", not "VM entry fails".  The rules mirror vmx.c, including its older
RPL-based CS DPL check and its view of P as "not unusable" (`vmx_get_segment` sets
present = !unusable; `vmx_segment_access_rights` marks non-present segments unusable).
"""
from __future__ import annotations

from debugger.checks.verdict import Rule
from debugger.cpustate import AR_UNUSABLE, RF_VM

__all__ = ["RULES"]

SRC = "KVM vmx.c __vmx_guest_state_valid"
REGS = ("cs", "ss", "ds", "es", "fs", "gs")


def _rm(x) -> bool:
    """Branch A: guest CR0.PE=0 or guest RFLAGS.VM=1."""
    return not x.pe or bool(x.c.rflags & RF_VM)


def _pm(x) -> bool:
    return not _rm(x)


def rmode_ar(seg, is_cs: bool) -> int:
    """The AR value `rmode_segment_valid` compares with 0xF3: DPL forced to 3 (CS type 3)."""
    if seg.ar & AR_UNUSABLE:
        return AR_UNUSABLE
    ar = (seg.ar & 0xF01F) | 0x80 | 0x60
    return (ar & ~0xF) | 3 if is_cs else ar


def _rm_rules(r: str) -> tuple[Rule, ...]:
    R = r.upper()
    seg = lambda x: getattr(x.c, r)  # noqa: E731
    return (
        Rule(f"KVM.RM.{R}.BASE", SRC, r, f"{r}.base",
             f"In real or virtual-8086 mode KVM runs {R} natively only if its base is "
             "selector x 16.", lambda x: seg(x).base == seg(x).selector << 4,
             lambda x: seg(x).base, lambda x: seg(x).selector << 4, applies=_rm),
        Rule(f"KVM.RM.{R}.LIMIT", SRC, r, f"{r}.limit",
             f"In real or virtual-8086 mode KVM runs {R} natively only with limit 0xFFFF.",
             lambda x: seg(x).limit == 0xFFFF, lambda x: seg(x).limit, 0xFFFF, applies=_rm),
        Rule(f"KVM.RM.{R}.AR", SRC, r, f"{r}.ar",
             f"In real or virtual-8086 mode {R}'s access rights, with DPL forced to 3"
             + (" and type to 3" if r == "cs" else "") + ", must be exactly 0xF3 (G, D/B, L, AVL "
             "clear, present, read/write accessed data).",
             lambda x: rmode_ar(seg(x), r == "cs") == 0xF3,
             lambda x: rmode_ar(seg(x), r == "cs"), 0xF3, applies=_rm),
    )


def _usable(seg) -> bool:
    return not seg.ar & AR_UNUSABLE


def _data_rules(r: str) -> tuple[Rule, ...]:
    R = r.upper()
    seg = lambda x: getattr(x.c, r)  # noqa: E731
    app = lambda x: _pm(x) and _usable(seg(x))  # noqa: E731
    return (
        Rule("KVM.PM.DATA.S", SRC, r, f"{r}.ar.s", f"A usable {R} must be code or data (S=1).",
             lambda x: seg(x).s == 1, lambda x: seg(x).s, 1, applies=app),
        Rule("KVM.PM.DATA.DPL_GE_RPL", SRC, r, f"{r}.ar.dpl",
             f"A usable {R} that is not conforming code must have DPL >= RPL.",
             lambda x: seg(x).dpl >= seg(x).rpl, lambda x: seg(x).dpl,
             lambda x: f">= {seg(x).rpl}",
             applies=lambda x: app(x) and seg(x).ar & 0xC != 0xC),
    )


RULES: tuple[Rule, ...] = (
    *(rule for r in REGS for rule in _rm_rules(r)),
    Rule("KVM.PM.CS_SS_RPL", SRC, "ss", "ss.selector", "CS.RPL must equal SS.RPL.",
         lambda x: x.c.cs.rpl == x.c.ss.rpl, lambda x: x.c.ss.rpl, lambda x: x.c.cs.rpl,
         applies=_pm),
    Rule("KVM.PM.CS.USABLE", SRC, "cs", "cs.ar.unusable", "CS must be usable and present.",
         lambda x: _usable(x.c.cs), lambda x: int(x.c.cs.unusable), 0, applies=_pm),
    Rule("KVM.PM.CS.TYPE", SRC, "cs", "cs.ar.type",
         "CS must be an accessed code segment (type 9, 11, 13 or 15).",
         lambda x: x.c.cs.ar & 9 == 9, lambda x: x.c.cs.type, "9, 11, 13 or 15", applies=_pm),
    Rule("KVM.PM.CS.S", SRC, "cs", "cs.ar.s", "CS must be code or data (S=1).",
         lambda x: x.c.cs.s == 1, lambda x: x.c.cs.s, 1, applies=_pm),
    Rule("KVM.PM.CS.DPL", SRC, "cs", "cs.ar.dpl",
         "CS.DPL must equal CS.RPL (non-conforming) or be at most CS.RPL (conforming).",
         lambda x: x.c.cs.dpl <= x.c.cs.rpl if x.c.cs.ar & 4 else x.c.cs.dpl == x.c.cs.rpl,
         lambda x: x.c.cs.dpl,
         lambda x: f"<= {x.c.cs.rpl}" if x.c.cs.ar & 4 else x.c.cs.rpl, applies=_pm),
    Rule("KVM.PM.SS.TYPE", SRC, "ss", "ss.ar.type", "A usable SS must be type 3 or 7.",
         lambda x: x.c.ss.ar & 0xF in (3, 7), lambda x: x.c.ss.type, "3 or 7",
         applies=lambda x: _pm(x) and _usable(x.c.ss)),
    Rule("KVM.PM.SS.S", SRC, "ss", "ss.ar.s", "A usable SS must be code or data (S=1).",
         lambda x: x.c.ss.s == 1, lambda x: x.c.ss.s, 1,
         applies=lambda x: _pm(x) and _usable(x.c.ss)),
    Rule("KVM.PM.SS.DPL_RPL", SRC, "ss", "ss.ar.dpl", "A usable SS must have DPL = RPL.",
         lambda x: x.c.ss.dpl == x.c.ss.rpl, lambda x: x.c.ss.dpl, lambda x: x.c.ss.rpl,
         applies=lambda x: _pm(x) and _usable(x.c.ss)),
    *(rule for r in ("ds", "es", "fs", "gs") for rule in _data_rules(r)),
    Rule("KVM.PM.TR.USABLE", SRC, "tr", "tr.ar.unusable", "TR must be usable and present.",
         lambda x: _usable(x.c.tr), lambda x: int(x.c.tr.unusable), 0, applies=_pm),
    Rule("KVM.PM.TR.TI", SRC, "tr", "tr.selector", "TR must select from the GDT (TI=0).",
         lambda x: x.c.tr.ti == 0, lambda x: x.c.tr.ti, 0, applies=_pm),
    Rule("KVM.PM.TR.TYPE", SRC, "tr", "tr.ar.type", "TR must be a busy TSS (type 3 or 11).",
         lambda x: x.c.tr.ar & 0xF in (3, 11), lambda x: x.c.tr.type, "3 or 11", applies=_pm),
    Rule("KVM.PM.LDTR.TI", SRC, "ldtr", "ldtr.selector", "A usable LDTR must have TI=0.",
         lambda x: x.c.ldtr.ti == 0, lambda x: x.c.ldtr.ti, 0,
         applies=lambda x: _pm(x) and _usable(x.c.ldtr)),
    Rule("KVM.PM.LDTR.TYPE", SRC, "ldtr", "ldtr.ar.type", "A usable LDTR must be type 2.",
         lambda x: x.c.ldtr.ar & 0xF == 2, lambda x: x.c.ldtr.type, 2,
         applies=lambda x: _pm(x) and _usable(x.c.ldtr)),
)
