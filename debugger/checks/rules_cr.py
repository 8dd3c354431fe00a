"""SDM 26.3.1.1: checks on guest control registers, debug registers and MSRs.

Each entry is one rule of vmx-guest-state.md section 1.1, with the same ID.  Rules for newer
features whose MSRs the record lacks, or whose reserved-bit masks are model-specific and not
modelled (RTIT_CTL, LBR_CTL, FRED, SPEC_CTRL), are kept with `holds=None`: when their load
control is set they appear in the verdict's not-modelled list instead of passing silently.
"""
from __future__ import annotations

from debugger.checks.engine import canonical, hi32
from debugger.checks.verdict import Rule
from debugger.cpustate import (
    CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_CET, CR4_PAE, CR4_PCIDE, EFER_LMA, EFER_LME)

__all__ = ["RULES"]

S = "26.3.1.1"
CR0_NW, CR0_CD = 1 << 29, 1 << 30
PAT_TYPES = frozenset({0, 1, 4, 5, 6, 7})


def _cr0_fixed0(x) -> int:
    f0 = x.p.cr0_fixed0
    return f0 & ~(CR0_PE | CR0_PG) if x.ug else f0


def _cr0_ok(x) -> bool:
    cr0 = x.c.cr0 & ~(CR0_NW | CR0_CD)
    f0 = _cr0_fixed0(x)
    return cr0 & f0 == f0 and not cr0 & ~x.p.cr0_fixed1


def _cr4_ok(x) -> bool:
    f0 = x.p.cr4_fixed0
    return x.c.cr4 & f0 == f0 and not x.c.cr4 & ~x.p.cr4_fixed1


def _pat_ok(pat: int) -> bool:
    return all((pat >> (8 * i)) & 0xFF in PAT_TYPES for i in range(8))


def _cr3_ok(x) -> bool:
    return not x.c.cr3 >> x.p.maxphyaddr


RULES: tuple[Rule, ...] = (
    Rule("CR.CR0.FIXED", S, "cr0", "cr0",
         "CR0 must have every bit IA32_VMX_CR0_FIXED0 requires (PE and PG are exempt under "
         "unrestricted guest; NW and CD are never checked) and none FIXED1 forbids.",
         _cr0_ok, lambda x: x.c.cr0,
         lambda x: f"set {_cr0_fixed0(x):#x}, within {x.p.cr0_fixed1:#x}"),
    Rule("CR.CR0.PG_NEEDS_PE", S, "cr0", "cr0.pg",
         "Paging (CR0.PG=1) requires protected mode (CR0.PE=1).",
         lambda x: x.pe or not x.c.cr0 & CR0_PG, lambda x: x.c.cr0, "PE=1 when PG=1"),
    Rule("CR.CR4.FIXED", S, "cr4", "cr4",
         "CR4 must have every bit IA32_VMX_CR4_FIXED0 requires (VMXE) and none FIXED1 forbids.",
         _cr4_ok, lambda x: x.c.cr4,
         lambda x: f"set {x.p.cr4_fixed0:#x}, within {x.p.cr4_fixed1:#x}"),
    Rule("CR.CR4.CET_WP", S, "cr4", "cr4.cet",
         "CR4.CET=1 requires CR0.WP=1.",
         lambda x: not x.c.cr4 & CR4_CET or bool(x.c.cr0 & CR0_WP), lambda x: x.c.cr0,
         "CR0.WP=1"),
    Rule("MSR.DEBUGCTL.RSVD", S, "debugctl", "debugctl",
         "With 'load debug controls', the reserved bits of IA32_DEBUGCTL must be 0.",
         lambda x: not x.c.debugctl & ~x.p.debugctl_valid, lambda x: x.c.debugctl,
         lambda x: f"within {x.p.debugctl_valid:#x}",
         applies=lambda x: x.k.load_debug_controls, needs=("debugctl",)),
    Rule("CR.IA32E.PG_PAE", S, "cr0", "cr0.pg",
         "An IA-32e-mode guest needs paging with PAE: CR0.PG=1 and CR4.PAE=1.",
         lambda x: bool(x.c.cr0 & CR0_PG and x.c.cr4 & CR4_PAE),
         lambda x: f"PG={x.c.cr0 >> 31 & 1} PAE={x.c.cr4 >> 5 & 1}", "PG=1 PAE=1",
         applies=lambda x: x.ia32e),
    Rule("CR.NOIA32E.PCIDE", S, "cr4", "cr4.pcide",
         "CR4.PCIDE may be set only for an IA-32e-mode guest.",
         lambda x: not x.c.cr4 & CR4_PCIDE, lambda x: x.c.cr4 >> 17 & 1, 0,
         applies=lambda x: not x.ia32e),
    Rule("CR.CR3.RSVD", S, "cr3", "cr3",
         "CR3 may not set bits beyond the physical-address width (nor bits 63:52).",
         _cr3_ok, lambda x: x.c.cr3, lambda x: f"< 2^{x.p.maxphyaddr}", needs=("cr3",)),
    Rule("DR.DR7.HI", S, "dr7", "dr7",
         "With 'load debug controls', DR7 bits 63:32 must be 0.",
         lambda x: not hi32(x.c.dr7), lambda x: x.c.dr7, "bits 63:32 = 0",
         applies=lambda x: x.k.load_debug_controls, needs=("dr7",)),
    Rule("MSR.SYSENTER.CANON", S, "sysenter_esp", "sysenter_esp",
         "IA32_SYSENTER_ESP must hold a canonical address.",
         lambda x: canonical(x.c.sysenter_esp, x.p.linear_width), lambda x: x.c.sysenter_esp,
         "canonical", needs=("sysenter_esp",)),
    Rule("MSR.SYSENTER.CANON", S, "sysenter_eip", "sysenter_eip",
         "IA32_SYSENTER_EIP must hold a canonical address.",
         lambda x: canonical(x.c.sysenter_eip, x.p.linear_width), lambda x: x.c.sysenter_eip,
         "canonical", needs=("sysenter_eip",)),
    Rule("MSR.PERFGLOBAL.RSVD", S, "perf_global_ctrl", "perf_global_ctrl",
         "With 'load IA32_PERF_GLOBAL_CTRL', only bits of existing counters may be set.",
         lambda x: not x.c.perf_global_ctrl & ~x.p.perf_global_valid,
         lambda x: x.c.perf_global_ctrl, lambda x: f"within {x.p.perf_global_valid:#x}",
         applies=lambda x: x.k.load_perf_global_ctrl, needs=("perf_global_ctrl",)),
    Rule("MSR.PAT.VALID", S, "pat", "pat",
         "With 'load IA32_PAT', every PAT entry must be a valid memory type (0, 1, 4, 5, 6, 7).",
         lambda x: _pat_ok(x.c.pat), lambda x: x.c.pat, "bytes in {0,1,4,5,6,7}",
         applies=lambda x: x.k.load_pat, needs=("pat",)),
    Rule("MSR.EFER.RSVD", S, "efer", "efer",
         "With 'load IA32_EFER', the reserved bits of IA32_EFER must be 0.",
         lambda x: not x.c.efer & ~x.p.efer_valid, lambda x: x.c.efer,
         lambda x: f"within {x.p.efer_valid:#x}",
         applies=lambda x: x.k.load_efer, needs=("efer",)),
    Rule("MSR.EFER.LMA", S, "efer", "efer.lma",
         "With 'load IA32_EFER', EFER.LMA must equal the 'IA-32e mode guest' control.",
         lambda x: bool(x.c.efer & EFER_LMA) == x.ia32e, lambda x: x.c.efer >> 10 & 1,
         lambda x: int(x.ia32e), applies=lambda x: x.k.load_efer, needs=("efer",)),
    Rule("MSR.EFER.LME", S, "efer", "efer.lme",
         "With 'load IA32_EFER' and CR0.PG=1, EFER.LME must equal EFER.LMA.",
         lambda x: bool(x.c.efer & EFER_LME) == bool(x.c.efer & EFER_LMA),
         lambda x: x.c.efer >> 8 & 1, lambda x: x.c.efer >> 10 & 1,
         applies=lambda x: x.k.load_efer and bool(x.c.cr0 & CR0_PG), needs=("efer",)),
    Rule("MSR.BNDCFGS.RSVD", S, "bndcfgs", "bndcfgs",
         "With 'load IA32_BNDCFGS', bits 11:2 of IA32_BNDCFGS must be 0.",
         lambda x: not x.c.bndcfgs & 0xFFC, lambda x: x.c.bndcfgs, "bits 11:2 = 0",
         applies=lambda x: x.k.load_bndcfgs, needs=("bndcfgs",)),
    Rule("MSR.BNDCFGS.CANON", S, "bndcfgs", "bndcfgs",
         "With 'load IA32_BNDCFGS', the base address in bits 63:12 must be canonical.",
         lambda x: canonical(x.c.bndcfgs & ~0xFFF, x.p.linear_width), lambda x: x.c.bndcfgs,
         "canonical", applies=lambda x: x.k.load_bndcfgs, needs=("bndcfgs",)),
    Rule("MSR.RTIT.RSVD", S, "rtit_ctl", "rtit_ctl",
         "With 'load IA32_RTIT_CTL', reserved IA32_RTIT_CTL bits must be 0 (model-specific mask).",
         None, lambda x: x.g.rtit_ctl, "reserved bits 0",  # type: ignore[arg-type]
         applies=lambda x: x.k.load_rtit_ctl),
    Rule("MSR.CET.RSVD", S, "s_cet", "s_cet",
         "With 'load CET state', IA32_S_CET bits 9:6 are reserved and must be 0.",
         lambda x: not x.g.s_cet & 0x3C0, lambda x: x.g.s_cet, "bits 9:6 = 0",
         applies=lambda x: x.k.load_cet, needs=("s_cet",)),
    Rule("MSR.CET.SUPPRESS_TRACKER", S, "s_cet", "s_cet",
         "With 'load CET state', IA32_S_CET may not set both SUPPRESS (10) and TRACKER (11).",
         lambda x: x.g.s_cet & 0xC00 != 0xC00, lambda x: x.g.s_cet, "not both bits 10 and 11",
         applies=lambda x: x.k.load_cet, needs=("s_cet",)),
    Rule("MSR.CET.CANON", S, "s_cet", "s_cet",
         "With 'load CET state', IA32_S_CET must be canonical.",
         lambda x: canonical(x.g.s_cet, x.p.linear_width), lambda x: x.g.s_cet, "canonical",
         applies=lambda x: x.k.load_cet, needs=("s_cet",)),
    Rule("MSR.CET.CANON", S, "isst", "isst",
         "With 'load CET state', IA32_INTERRUPT_SSP_TABLE_ADDR must be canonical.",
         lambda x: canonical(x.g.isst, x.p.linear_width), lambda x: x.g.isst, "canonical",
         applies=lambda x: x.k.load_cet, needs=("isst",)),
    Rule("MSR.CET.HI", S, "s_cet", "s_cet",
         "With 'load CET state' outside IA-32e mode, IA32_S_CET and the ISST address must have "
         "bits 63:32 = 0.",
         lambda x: not hi32(x.g.s_cet) and not hi32(x.g.isst), lambda x: x.g.s_cet,
         "bits 63:32 = 0", applies=lambda x: x.k.load_cet and not x.ia32e,
         needs=("s_cet", "isst")),
    Rule("MSR.PKRS.HI", S, "pkrs", "pkrs",
         "With 'load PKRS', IA32_PKRS bits 63:32 must be 0.",
         lambda x: not hi32(x.g.pkrs), lambda x: x.g.pkrs, "bits 63:32 = 0",
         applies=lambda x: x.k.load_pkrs, needs=("pkrs",)),
    Rule("MSR.LBRCTL.RSVD", S, "lbr_ctl", "lbr_ctl",
         "With 'load guest IA32_LBR_CTL', reserved bits must be 0 (mask not modelled).",
         None, lambda x: x.g.lbr_ctl, "reserved bits 0",  # type: ignore[arg-type]
         applies=lambda x: x.k.load_lbr_ctl),
    Rule("MSR.FRED.CONFIG", S, "fred_config", "fred_config",
         "With 'load FRED', IA32_FRED_CONFIG reserved bits and the FRED RSP/SSP MSRs must be "
         "valid (the record lacks the FRED MSRs).",
         None, lambda x: x.g.fred_config, "valid FRED state",  # type: ignore[arg-type]
         applies=lambda x: x.k.load_fred),
    Rule("MSR.UINV", S, "uinv", "uinv",
         "With 'load UINV', the user-interrupt notification vector must be below 256.",
         lambda x: x.g.uinv < 256, lambda x: x.g.uinv, "< 0x100",
         applies=lambda x: x.k.load_uinv, needs=("uinv",)),
    Rule("MSR.SPECCTRL", S, "spec_ctrl", "spec_ctrl",
         "With 'load IA32_SPEC_CTRL', the value must be one WRMSR accepts (not modelled).",
         None, lambda x: x.g.spec_ctrl, "valid SPEC_CTRL",  # type: ignore[arg-type]
         applies=lambda x: x.k.load_spec_ctrl),
)

# CR0.NE is in FIXED0 on every VMX processor; the constant is re-exported for the profiles.
CR0_VMX_ON = CR0_NE
