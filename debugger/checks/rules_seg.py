"""SDM 26.3.1.2: checks on guest segment registers (vmx-guest-state.md section 1.2).

Rules over several registers (e.g. SEG.AR.S for CS, SS, DS, ES, FS, GS) are written once and
instantiated per register by the loops below, so each ID still has one definition.
"""
from __future__ import annotations

from debugger.checks.engine import canonical, hi32
from debugger.checks.verdict import Rule
from debugger.cpustate import AR_UNUSABLE

__all__ = ["RULES", "V86_REGS"]

S = "26.3.1.2"
V86_REGS = ("cs", "ss", "ds", "es", "fs", "gs")
DATA_REGS = ("ds", "es", "fs", "gs")
AR_RSVD_HI = 0xFFFE0000


def _g_ok(seg) -> bool:
    lim, g = seg.limit, seg.ar >> 15 & 1
    if lim & 0xFFF != 0xFFF and g:
        return False
    if lim & 0xFFF00000 and not g:
        return False
    return True


def _g_required(seg) -> int | str:
    if seg.limit & 0xFFF00000:
        return 1
    if seg.limit & 0xFFF != 0xFFF:
        return 0
    return "0 or 1"


def _usable(r: str):
    return lambda x: not getattr(x.c, r).ar & AR_UNUSABLE


def _nv86(x) -> bool:
    return not x.v86


def _nv86_cs_or_usable(r: str):
    if r == "cs":
        return _nv86
    return lambda x: not x.v86 and not getattr(x.c, r).ar & AR_UNUSABLE


def _v86_rules(r: str) -> tuple[Rule, ...]:
    R = r.upper()
    v86 = lambda x: x.v86  # noqa: E731
    return (
        Rule(f"SEG.V86.{R}.BASE", S, r, f"{r}.base",
             f"In virtual-8086 mode the {R} base must be its selector times 16.",
             lambda x: getattr(x.c, r).base == getattr(x.c, r).selector << 4,
             lambda x: getattr(x.c, r).base, lambda x: getattr(x.c, r).selector << 4,
             applies=v86),
        Rule(f"SEG.V86.{R}.LIMIT", S, r, f"{r}.limit",
             f"In virtual-8086 mode the {R} limit must be 0xFFFF.",
             lambda x: getattr(x.c, r).limit == 0xFFFF, lambda x: getattr(x.c, r).limit, 0xFFFF,
             applies=v86),
        Rule(f"SEG.V86.{R}.AR", S, r, f"{r}.ar",
             f"In virtual-8086 mode the {R} access rights must be 0xF3 (read/write accessed data, "
             "DPL 3, present, usable).",
             lambda x: getattr(x.c, r).ar == 0xF3, lambda x: getattr(x.c, r).ar, 0xF3,
             applies=v86),
    )


def _common_ar_rules(r: str, app, kind: str = "SEG.AR") -> tuple[Rule, ...]:
    """S/P/reserved/G rules shared by CS..GS (SEG.AR.*) and TR/LDTR (SEG.TR.*, SEG.LDTR.*)."""
    R = r.upper()
    seg = lambda x: getattr(x.c, r)  # noqa: E731
    rules = []
    if kind == "SEG.AR":
        rules.append(Rule(f"{kind}.S", S, r, f"{r}.ar.s",
                          f"{R} must be a code or data segment (S=1).",
                          lambda x: bool(seg(x).ar & 0x10), lambda x: seg(x).s, 1, applies=app))
    rules += [
        Rule(f"{kind}.P", S, r, f"{r}.ar.p", f"{R} must be present (P=1).",
             lambda x: bool(seg(x).ar & 0x80), lambda x: seg(x).present, 1, applies=app),
        Rule(f"{kind}.RSVD_11_8", S, r, f"{r}.ar", f"{R} access-rights bits 11:8 are reserved.",
             lambda x: not seg(x).ar & 0xF00, lambda x: seg(x).ar, "bits 11:8 = 0", applies=app),
        Rule(f"{kind}.G", S, r, f"{r}.ar.g",
             f"{R}.G must agree with the limit: G=0 unless limit[11:0]=0xFFF, G=1 if "
             "limit[31:20]!=0.",
             lambda x: _g_ok(seg(x)), lambda x: seg(x).g, lambda x: _g_required(seg(x)),
             applies=app),
        Rule(f"{kind}.RSVD_31_17", S, r, f"{r}.ar",
             f"{R} access-rights bits 31:17 are reserved.",
             lambda x: not seg(x).ar & AR_RSVD_HI, lambda x: seg(x).ar, "bits 31:17 = 0",
             applies=app),
    ]
    return tuple(rules)


def _cs_ss_rules() -> tuple[Rule, ...]:
    cs = lambda x: x.c.cs  # noqa: E731
    ss = lambda x: x.c.ss  # noqa: E731
    return (
        Rule("SEG.SEL.SS_RPL_EQ_CS_RPL", S, "ss", "ss.selector",
             "Outside virtual-8086 mode and without unrestricted guest, SS.RPL must equal CS.RPL.",
             lambda x: x.c.ss.selector & 3 == x.c.cs.selector & 3, lambda x: x.c.ss.rpl,
             lambda x: x.c.cs.rpl, applies=lambda x: not x.v86 and not x.ug),
        Rule("SEG.AR.CS.TYPE", S, "cs", "cs.ar.type",
             "CS must be an accessed code segment (type 9, 11, 13 or 15), or with unrestricted "
             "guest also type 3 (accessed read/write data).",
             lambda x: x.c.cs.ar & 0xF in ((3, 9, 11, 13, 15) if x.ug else (9, 11, 13, 15)),
             lambda x: x.c.cs.type,
             lambda x: "3, 9, 11, 13 or 15" if x.ug else "9, 11, 13 or 15", applies=_nv86),
        Rule("SEG.AR.CS.DPL.T3", S, "cs", "cs.ar.dpl",
             "A CS of type 3 (real-mode style, unrestricted guest only) must have DPL 0.",
             lambda x: x.c.cs.dpl == 0, lambda x: x.c.cs.dpl, 0,
             applies=lambda x: not x.v86 and x.c.cs.ar & 0xF == 3),
        Rule("SEG.AR.CS.DPL.NONCONF", S, "cs", "cs.ar.dpl",
             "A non-conforming CS (type 9 or 11) must have DPL equal to SS.DPL.",
             lambda x: cs(x).dpl == ss(x).dpl, lambda x: cs(x).dpl, lambda x: ss(x).dpl,
             applies=lambda x: not x.v86 and x.c.cs.ar & 0xF in (9, 11)),
        Rule("SEG.AR.CS.DPL.CONF", S, "cs", "cs.ar.dpl",
             "A conforming CS (type 13 or 15) must have DPL at most SS.DPL.",
             lambda x: cs(x).dpl <= ss(x).dpl, lambda x: cs(x).dpl,
             lambda x: f"<= {ss(x).dpl}",
             applies=lambda x: not x.v86 and x.c.cs.ar & 0xF in (13, 15)),
        Rule("SEG.AR.CS.DB_L", S, "cs", "cs.ar.db",
             "In an IA-32e-mode guest a 64-bit CS (L=1) must have D/B=0.",
             lambda x: not x.c.cs.ar & 0x4000, lambda x: x.c.cs.db, 0,
             applies=lambda x: not x.v86 and x.ia32e and bool(x.c.cs.ar & 0x2000)),
        Rule("SEG.AR.SS.TYPE", S, "ss", "ss.ar.type",
             "A usable SS must be read/write accessed data (type 3 or 7).",
             lambda x: x.c.ss.ar & 0xF in (3, 7), lambda x: x.c.ss.type, "3 or 7",
             applies=_nv86_cs_or_usable("ss")),
        Rule("SEG.AR.SS.DPL_EQ_RPL", S, "ss", "ss.ar.dpl",
             "Without unrestricted guest, SS.DPL must equal SS.RPL (even if SS is unusable).",
             lambda x: ss(x).dpl == ss(x).rpl, lambda x: ss(x).dpl, lambda x: ss(x).rpl,
             applies=lambda x: not x.v86 and not x.ug),
        Rule("SEG.AR.SS.DPL0", S, "ss", "ss.ar.dpl",
             "SS.DPL must be 0 when CS is of type 3 or CR0.PE=0 (unrestricted-guest real mode).",
             lambda x: ss(x).dpl == 0, lambda x: ss(x).dpl, 0,
             applies=lambda x: not x.v86 and (x.c.cs.ar & 0xF == 3 or not x.pe)),
    )


def _data_rules(r: str) -> tuple[Rule, ...]:
    R = r.upper()
    seg = lambda x: getattr(x.c, r)  # noqa: E731
    app = _nv86_cs_or_usable(r)
    return (
        Rule("SEG.AR.DATA.ACCESSED", S, r, f"{r}.ar.type",
             f"A usable {R} must have the accessed bit (type bit 0) set.",
             lambda x: bool(seg(x).ar & 1), lambda x: seg(x).type, "odd (accessed)", applies=app),
        Rule("SEG.AR.DATA.READABLE", S, r, f"{r}.ar.type",
             f"A code segment loaded in {R} must be readable.",
             lambda x: not seg(x).ar & 8 or bool(seg(x).ar & 2), lambda x: seg(x).type,
             "readable if code", applies=app),
        Rule("SEG.AR.DATA.DPL_GE_RPL", S, r, f"{r}.ar.dpl",
             f"Without unrestricted guest, a usable {R} holding data or non-conforming code "
             "(type 0-11) must have DPL >= RPL.",
             lambda x: seg(x).dpl >= seg(x).rpl, lambda x: seg(x).dpl,
             lambda x: f">= {seg(x).rpl}",
             applies=lambda x: not x.ug and app(x) and seg(x).ar & 0xF <= 11),
    )


def _base_rules() -> tuple[Rule, ...]:
    out: list[Rule] = []
    for r in ("tr", "fs", "gs", "ldtr"):
        R = r.upper()
        out.append(Rule(f"SEG.BASE.{R}.CANON", S, r, f"{r}.base",
                        f"The {R} base must be canonical.",
                        lambda x, r=r: canonical(getattr(x.c, r).base, x.p.linear_width),
                        lambda x, r=r: getattr(x.c, r).base, "canonical",
                        applies=_usable(r) if r == "ldtr" else None))
    out.append(Rule("SEG.BASE.CS.HI", S, "cs", "cs.base", "CS base bits 63:32 must be 0.",
                    lambda x: not hi32(x.c.cs.base), lambda x: x.c.cs.base, "< 2^32"))
    for r in ("ss", "ds", "es"):
        out.append(Rule("SEG.BASE.SSDSES.HI", S, r, f"{r}.base",
                        f"A usable {r.upper()} must have base bits 63:32 = 0.",
                        lambda x, r=r: not hi32(getattr(x.c, r).base),
                        lambda x, r=r: getattr(x.c, r).base, "< 2^32", applies=_usable(r)))
    return tuple(out)


def _tr_ldtr_rules() -> tuple[Rule, ...]:
    ldtr_usable = _usable("ldtr")
    return (
        Rule("SEG.SEL.TR.TI", S, "tr", "tr.selector", "TR must select from the GDT (TI=0).",
             lambda x: not x.c.tr.selector & 4, lambda x: x.c.tr.ti, 0),
        Rule("SEG.TR.TYPE", S, "tr", "tr.ar.type",
             "TR must be a busy TSS: type 11, or type 3 (16-bit) outside IA-32e mode.",
             lambda x: x.c.tr.ar & 0xF in ((11,) if x.ia32e else (3, 11)), lambda x: x.c.tr.type,
             lambda x: "11" if x.ia32e else "3 or 11"),
        Rule("SEG.TR.S", S, "tr", "tr.ar.s", "TR must be a system descriptor (S=0).",
             lambda x: not x.c.tr.ar & 0x10, lambda x: x.c.tr.s, 0),
        Rule("SEG.TR.USABLE", S, "tr", "tr.ar.unusable", "TR must be usable.",
             lambda x: not x.c.tr.ar & AR_UNUSABLE, lambda x: int(x.c.tr.unusable), 0),
        *_common_ar_rules("tr", None, "SEG.TR"),
        Rule("SEG.SEL.LDTR.TI", S, "ldtr", "ldtr.selector",
             "A usable LDTR must select from the GDT (TI=0).",
             lambda x: not x.c.ldtr.selector & 4, lambda x: x.c.ldtr.ti, 0, applies=ldtr_usable),
        Rule("SEG.LDTR.TYPE", S, "ldtr", "ldtr.ar.type", "A usable LDTR must be of type 2 (LDT).",
             lambda x: x.c.ldtr.ar & 0xF == 2, lambda x: x.c.ldtr.type, 2, applies=ldtr_usable),
        Rule("SEG.LDTR.S", S, "ldtr", "ldtr.ar.s", "A usable LDTR must be a system descriptor "
             "(S=0).", lambda x: not x.c.ldtr.ar & 0x10, lambda x: x.c.ldtr.s, 0,
             applies=ldtr_usable),
        *_common_ar_rules("ldtr", ldtr_usable, "SEG.LDTR"),
    )


RULES: tuple[Rule, ...] = (
    *(rule for r in V86_REGS for rule in _v86_rules(r)),
    *_base_rules(),
    *_cs_ss_rules(),
    *(rule for r in DATA_REGS for rule in _data_rules(r)),
    *(rule for r in V86_REGS for rule in _common_ar_rules(r, _nv86_cs_or_usable(r))),
    *_tr_ldtr_rules(),
)

# SEG.V86.IA32E restates RF.VM (26.3.1.4) in the segment section; it is checked once, as RF.VM.
ALIASES = {"SEG.V86.IA32E": "RF.VM"}
