"""SDM 26.3.1.3-26.3.1.6: descriptor tables, RIP/RFLAGS/SSP, non-register state, PDPTEs.

vmx-guest-state.md sections 1.3-1.6.  PDPTE.WHEN and PDPTE.SOURCE are not checks but the
applicability of PDPTE.RSVD: PAE paging outside IA-32e mode; the PDPTEs come from the VMCS with
EPT and from memory at CR3 without it -- either way `GuestState.pdptes` holds them when known.
"""
from __future__ import annotations

from debugger.checks.engine import canonical, hi32
from debugger.checks.guest import INTR_TYPE_EXTINT, INTR_TYPE_HWEXC, INTR_TYPE_NMI, NO_LINK
from debugger.checks.guest import INTR_TYPE_OTHER
from debugger.checks.verdict import Rule
from debugger.cpustate import (
    CR0_PG, CR4_PAE, INTR_MOVSS, INTR_NMI, INTR_SMI, INTR_STI, RF_IF, RF_TF, Activity)

__all__ = ["RULES"]

S3, S4, S5, S6 = "26.3.1.3", "26.3.1.4", "26.3.1.5", "26.3.1.6"
RF_RSVD = 0xFFFFFFFFFFC08028
PDE_RSVD = 0xFFFFFFFFFFFEAFF0          # bits 11:4, 13, 15, 63:17
PDE_BS, PDE_RTM, PDE_ENABLED = 1 << 14, 1 << 16, 1 << 12
BLOCKING = INTR_STI | INTR_MOVSS
DEBUGCTL_BTF = 2


def _dt_rules() -> tuple[Rule, ...]:
    out: list[Rule] = []
    for r in ("gdtr", "idtr"):
        R = r.upper()
        out += [
            Rule(f"DT.{R}.CANON", S3, r, f"{r}.base", f"The {R} base must be canonical.",
                 lambda x, r=r: canonical(getattr(x.c, r).base, x.p.linear_width),
                 lambda x, r=r: getattr(x.c, r).base, "canonical"),
            Rule(f"DT.{R}.LIMIT", S3, r, f"{r}.limit", f"The {R} limit must fit in 16 bits.",
                 lambda x, r=r: getattr(x.c, r).limit <= 0xFFFF,
                 lambda x, r=r: getattr(x.c, r).limit, "<= 0xFFFF"),
        ]
    return tuple(out)


def _code64(x) -> bool:
    return x.ia32e and bool(x.c.cs.ar & 0x2000)


def _hlt_event_ok(k) -> bool:
    t, v = k.intr_type, k.intr_vector
    return (t in (INTR_TYPE_EXTINT, INTR_TYPE_NMI) or (t == INTR_TYPE_HWEXC and v in (1, 18))
            or (t == INTR_TYPE_OTHER and v == 0))


def _bs_condition(x) -> bool:
    return bool(x.c.interruptibility & BLOCKING) or x.c.activity == Activity.HLT


def _bs_expected(x) -> bool:
    return bool(x.c.rflags & RF_TF) and not x.c.debugctl & DEBUGCTL_BTF


def _lnk(x) -> bool:
    return x.g.link_pointer != NO_LINK


def _pdpte_bad(x) -> int:
    """Index+1 of the first present PDPTE with reserved bits set, else 0."""
    rsvd = 0x1E6 | (((1 << 64) - 1) >> x.p.maxphyaddr << x.p.maxphyaddr)
    for i, e in enumerate(x.g.pdptes):
        if e & 1 and e & rsvd:
            return i + 1
    return 0


RULES: tuple[Rule, ...] = (
    *_dt_rules(),
    Rule("RIP.HI", S4, "rip", "rip",
         "Outside 64-bit code (not IA-32e, or CS.L=0) RIP bits 63:32 must be 0.",
         lambda x: not hi32(x.c.rip), lambda x: x.c.rip, "< 2^32",
         applies=lambda x: not _code64(x)),
    Rule("RIP.CANON", S4, "rip", "rip", "In 64-bit code RIP must be canonical.",
         lambda x: canonical(x.c.rip, x.p.linear_width), lambda x: x.c.rip, "canonical",
         applies=_code64),
    Rule("RF.RSVD", S4, "rflags", "rflags",
         "RFLAGS bits 63:22, 15, 5 and 3 are reserved and must be 0.",
         lambda x: not x.c.rflags & RF_RSVD, lambda x: x.c.rflags, "bits 63:22,15,5,3 = 0"),
    Rule("RF.BIT1", S4, "rflags", "rflags", "RFLAGS bit 1 must be 1.",
         lambda x: bool(x.c.rflags & 2), lambda x: x.c.rflags, "bit 1 = 1"),
    Rule("RF.VM", S4, "rflags", "rflags.vm",
         "RFLAGS.VM must be 0 in an IA-32e-mode guest or when CR0.PE=0.",
         lambda x: not x.v86, lambda x: int(x.v86), 0,
         applies=lambda x: x.ia32e or not x.pe),
    Rule("RF.IF_EXTINT", S4, "rflags", "rflags.if",
         "Injecting an external interrupt requires RFLAGS.IF=1.",
         lambda x: bool(x.c.rflags & RF_IF), lambda x: x.c.rflags >> 9 & 1, 1,
         applies=lambda x: x.k.injecting and x.k.intr_type == INTR_TYPE_EXTINT),
    Rule("SSP.ALIGN", S4, "ssp", "ssp", "With 'load CET state', SSP bits 1:0 must be 0.",
         lambda x: not x.g.ssp & 3, lambda x: x.g.ssp, "4-byte aligned",
         applies=lambda x: x.k.load_cet, needs=("ssp",)),
    Rule("SSP.HI", S4, "ssp", "ssp",
         "With 'load CET state' outside 64-bit code, SSP bits 63:32 must be 0.",
         lambda x: not hi32(x.g.ssp), lambda x: x.g.ssp, "< 2^32",
         applies=lambda x: x.k.load_cet and not _code64(x), needs=("ssp",)),
    Rule("SSP.CANON", S4, "ssp", "ssp", "With 'load CET state', SSP must be canonical.",
         lambda x: canonical(x.g.ssp, x.p.linear_width), lambda x: x.g.ssp, "canonical",
         applies=lambda x: x.k.load_cet and _code64(x), needs=("ssp",)),
    # -- 26.3.1.5 activity state -------------------------------------------------------------
    Rule("ACT.RANGE", S5, "activity", "activity",
         "The activity state must be 0-3 and supported by the processor (IA32_VMX_MISC 8:6).",
         lambda x: 0 <= int(x.c.activity) <= 3 and (
             x.c.activity == 0 or bool(x.p.vmx_misc >> (5 + int(x.c.activity)) & 1)),
         lambda x: int(x.c.activity), "0-3, supported"),
    Rule("ACT.HLT_SSDPL", S5, "activity", "ss.ar.dpl",
         "The HLT activity state requires SS.DPL=0.",
         lambda x: x.c.ss.dpl == 0, lambda x: x.c.ss.dpl, 0,
         applies=lambda x: x.c.activity == Activity.HLT),
    Rule("ACT.BLOCK_ACTIVE", S5, "activity", "activity",
         "Blocking by STI or MOV SS requires the active state.",
         lambda x: x.c.activity == Activity.ACTIVE, lambda x: int(x.c.activity), 0,
         applies=lambda x: bool(x.c.interruptibility & BLOCKING)),
    Rule("ACT.INJ.HLT", S5, "activity", "entry_intr_info",
         "In the HLT state only an external interrupt, NMI, #DB, #MC or pending MTF may be "
         "injected.", lambda x: _hlt_event_ok(x.k), lambda x: x.k.entry_intr_info,
         "ext-int, NMI, #DB, #MC or MTF",
         applies=lambda x: x.k.injecting and x.c.activity == Activity.HLT),
    Rule("ACT.INJ.SHUTDOWN", S5, "activity", "entry_intr_info",
         "In the shutdown state only an NMI or #MC may be injected.",
         lambda x: x.k.intr_type == INTR_TYPE_NMI or (
             x.k.intr_type == INTR_TYPE_HWEXC and x.k.intr_vector == 18),
         lambda x: x.k.entry_intr_info, "NMI or #MC",
         applies=lambda x: x.k.injecting and x.c.activity == Activity.SHUTDOWN),
    Rule("ACT.INJ.SIPI", S5, "activity", "entry_intr_info",
         "In the wait-for-SIPI state no event may be injected.",
         lambda x: not x.k.injecting, lambda x: x.k.entry_intr_info, "no injection",
         applies=lambda x: x.c.activity == Activity.WAIT_SIPI),
    Rule("ACT.SMM_SIPI", S5, "activity", "activity",
         "Entry to SMM may not be in the wait-for-SIPI state.",
         lambda x: x.c.activity != Activity.WAIT_SIPI, lambda x: int(x.c.activity), "not 3",
         applies=lambda x: x.k.entry_to_smm),
    # -- interruptibility --------------------------------------------------------------------
    Rule("INT.RSVD", S5, "interruptibility", "interruptibility",
         "Interruptibility-state bits 31:5 are reserved.",
         lambda x: not x.c.interruptibility & ~0x1F, lambda x: x.c.interruptibility,
         "bits 31:5 = 0"),
    Rule("INT.STI_MOVSS_EXCL", S5, "interruptibility", "interruptibility",
         "Blocking by STI and blocking by MOV SS cannot both be set.",
         lambda x: x.c.interruptibility & BLOCKING != BLOCKING, lambda x: x.c.interruptibility,
         "not both bits 0 and 1"),
    Rule("INT.STI_IF", S5, "interruptibility", "rflags.if",
         "Blocking by STI requires RFLAGS.IF=1.",
         lambda x: bool(x.c.rflags & RF_IF), lambda x: x.c.rflags >> 9 & 1, 1,
         applies=lambda x: bool(x.c.interruptibility & INTR_STI)),
    Rule("INT.EXTINT", S5, "interruptibility", "interruptibility",
         "Injecting an external interrupt requires no blocking by STI or MOV SS.",
         lambda x: not x.c.interruptibility & BLOCKING, lambda x: x.c.interruptibility,
         "bits 1:0 = 0", applies=lambda x: x.k.injecting and x.k.intr_type == INTR_TYPE_EXTINT),
    Rule("INT.NMI_MOVSS", S5, "interruptibility", "interruptibility",
         "Injecting an NMI requires no blocking by MOV SS.",
         lambda x: not x.c.interruptibility & INTR_MOVSS, lambda x: x.c.interruptibility,
         "bit 1 = 0", applies=lambda x: x.k.injecting and x.k.intr_type == INTR_TYPE_NMI),
    Rule("INT.NMI_STI", S5, "interruptibility", "interruptibility",
         "This processor refuses to inject an NMI while blocking by STI is set (model-specific).",
         lambda x: not x.c.interruptibility & INTR_STI, lambda x: x.c.interruptibility,
         "bit 0 = 0", applies=lambda x: x.p.nmi_blocked_by_sti and x.k.injecting
         and x.k.intr_type == INTR_TYPE_NMI),
    Rule("INT.SMI_OUTSIDE_SMM", S5, "interruptibility", "interruptibility",
         "Blocking by SMI may be set only in SMM.",
         lambda x: not x.c.interruptibility & INTR_SMI, lambda x: x.c.interruptibility,
         "bit 2 = 0", applies=lambda x: not x.g.in_smm),
    Rule("INT.SMI_ENTRY_SMM", S5, "interruptibility", "interruptibility",
         "Entry to SMM requires blocking by SMI.",
         lambda x: bool(x.c.interruptibility & INTR_SMI), lambda x: x.c.interruptibility,
         "bit 2 = 1", applies=lambda x: x.k.entry_to_smm),
    Rule("INT.VNMI", S5, "interruptibility", "interruptibility",
         "With virtual NMIs, injecting an NMI requires no blocking by NMI.",
         lambda x: not x.c.interruptibility & INTR_NMI, lambda x: x.c.interruptibility,
         "bit 3 = 0", applies=lambda x: x.k.virtual_nmis and x.k.injecting
         and x.k.intr_type == INTR_TYPE_NMI),
    Rule("INT.ENCLAVE", S5, "interruptibility", "interruptibility",
         "Enclave interruption (bit 4) requires no MOV-SS blocking and SGX support.",
         lambda x: not x.c.interruptibility & INTR_MOVSS and x.p.sgx,
         lambda x: x.c.interruptibility, "bit 1 = 0, SGX",
         applies=lambda x: bool(x.c.interruptibility & 0x10)),
    # -- pending debug exceptions ------------------------------------------------------------
    Rule("PDE.RSVD", S5, "pending_debug", "pending_debug",
         "Pending-debug-exception bits 11:4, 13, 15 and 63:17 are reserved.",
         lambda x: not x.c.pending_debug & PDE_RSVD, lambda x: x.c.pending_debug,
         "reserved bits 0", needs=("pending_debug",)),
    Rule("PDE.BS_TF", S5, "pending_debug", "pending_debug",
         "With STI/MOV-SS blocking or HLT, a pending single step (BS=1) must be recorded when "
         "RFLAGS.TF=1 and DEBUGCTL.BTF=0.",
         lambda x: bool(x.c.pending_debug & PDE_BS), lambda x: x.c.pending_debug >> 14 & 1, 1,
         applies=lambda x: _bs_condition(x) and _bs_expected(x), needs=("pending_debug",)),
    Rule("PDE.BS_NOTF", S5, "pending_debug", "pending_debug",
         "With STI/MOV-SS blocking or HLT, BS must be 0 when RFLAGS.TF=0 or DEBUGCTL.BTF=1.",
         lambda x: not x.c.pending_debug & PDE_BS, lambda x: x.c.pending_debug >> 14 & 1, 0,
         applies=lambda x: _bs_condition(x) and not _bs_expected(x), needs=("pending_debug",)),
    Rule("PDE.RTM", S5, "pending_debug", "pending_debug",
         "A pending RTM debug exception (bit 16) requires bit 12=1, no other bits, RTM support "
         "and no MOV-SS blocking.",
         lambda x: x.c.pending_debug & ~(1 << 14) == PDE_RTM | PDE_ENABLED and x.p.rtm
         and not x.c.interruptibility & INTR_MOVSS,
         lambda x: x.c.pending_debug, "0x11000 only",
         applies=lambda x: bool(x.c.pending_debug & PDE_RTM), needs=("pending_debug",)),
    # -- VMCS link pointer -------------------------------------------------------------------
    Rule("LNK.ALIGN", S5, "link_pointer", "link_pointer",
         "The VMCS link pointer must be 4-KiB aligned (or all ones).",
         lambda x: not x.g.link_pointer & 0xFFF, lambda x: x.g.link_pointer, "bits 11:0 = 0",
         applies=_lnk),
    Rule("LNK.PHYS", S5, "link_pointer", "link_pointer",
         "The VMCS link pointer must be within the physical-address width.",
         lambda x: not x.g.link_pointer >> x.p.maxphyaddr, lambda x: x.g.link_pointer,
         lambda x: f"< 2^{x.p.maxphyaddr}", applies=_lnk),
    Rule("LNK.REV", S5, "link_pointer", "link_header",
         "The VMCS the link pointer references must carry this processor's revision ID, with "
         "bit 31 equal to the 'VMCS shadowing' control.",
         lambda x: bool(x.g.link_header >> 31 & 1) == x.k.vmcs_shadowing and (
             x.p.vmcs_revision is None or x.g.link_header & 0x7FFFFFFF == x.p.vmcs_revision),
         lambda x: x.g.link_header, "revision, shadow bit", applies=_lnk,
         needs=("link_header",)),
    Rule("LNK.NOT_CUR", S5, "link_pointer", "link_pointer",
         "The VMCS link pointer may not be the current-VMCS pointer.",
         lambda x: x.g.link_pointer != x.g.current_vmcs, lambda x: x.g.link_pointer,
         "not the current VMCS", applies=lambda x: _lnk(x) and (
             not x.g.in_smm or x.k.entry_to_smm), needs=("current_vmcs",)),
    Rule("LNK.NOT_VMXON", S5, "link_pointer", "link_pointer",
         "In SMM with the dual-monitor treatment, the link pointer may not be the VMXON pointer.",
         lambda x: x.g.link_pointer != x.g.vmxon_pointer, lambda x: x.g.link_pointer,
         "not the VMXON region", applies=lambda x: _lnk(x) and x.g.in_smm
         and not x.k.entry_to_smm, needs=("vmxon_pointer",)),
    # -- 26.3.1.6 PDPTEs ---------------------------------------------------------------------
    Rule("PDPTE.RSVD", S6, "cr3", "pdpte",
         "With PAE paging outside IA-32e mode, each present PDPTE must have bits 2:1, 8:5 and "
         "those beyond the physical-address width clear.",
         lambda x: not _pdpte_bad(x), lambda x: f"PDPTE{_pdpte_bad(x) - 1}="
         f"{x.g.pdptes[_pdpte_bad(x) - 1]:#x}", "reserved bits 0",
         applies=lambda x: not x.ia32e and bool(x.c.cr0 & CR0_PG) and bool(x.c.cr4 & CR4_PAE),
         needs=("pdptes",)),
)
