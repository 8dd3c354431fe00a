"""Every SDM guest-state rule (vmx-guest-state.md 1.1-1.6): a state where it fails alone and a
near-identical state where it applies and holds.  Cases are written from the SDM wording."""
from __future__ import annotations

import pytest

from debugger.checks import evaluate_guest
from debugger.checks.guest import Processor
from debugger.checks.rules import RULE_IDS, SDM_RULES
from debugger.cpustate import Activity, Segment
from tests.checks.states import (
    CANON_HI, CET, ET, IA32E, IF, L64, LMA, LME, NE, NO_UG, NONCANON, PAE, PCIDE, PE, PG, PM,
    REAL, TF, UG, V86, VM, VMXE, WP, ctl, g, l64, pm, real, ring3, ug, v86)

S = Segment
EXT_INT, NMI, GP_EXC = 0x80000020, 0x80000202, 0x80000B0D
CET_CTL = ctl(load_cet=True)
CET_OK = dict(s_cet=0, ssp=0, isst=0)
LNK_OK = dict(link_header=0x1, current_vmcs=0x5000)

# rule id -> list of (failing state, valid state)
CASES = {
    "CR.CR0.FIXED": [(pm(cr0=PE | PG | ET), pm(cr0=PM.cr0 | (3 << 29))),       # NW/CD unchecked
                     (pm(cr0=PM.cr0 & ~PG), ug(cr0=PM.cr0 & ~PG))],             # PG free under UG
    "CR.CR0.PG_NEEDS_PE": [(real(cr0=NE | ET | PG), real(cr0=NE | ET | PG | PE))],
    "CR.CR4.FIXED": [(pm(cr4=0), pm(cr4=VMXE | 0x10)),
                     (pm(cr4=VMXE | (1 << 12)), pm(cr4=VMXE | (1 << 11)))],     # LA57 unsupported
    "CR.CR4.CET_WP": [(pm(cr4=VMXE | CET), pm(cr4=VMXE | CET, cr0=PM.cr0 | WP))],
    "MSR.DEBUGCTL.RSVD": [(pm(debugctl=4), pm(debugctl=3)),
                          (pm(debugctl=1 << 32), pm(ctl(load_debug_controls=False),
                                                    debugctl=1 << 32))],
    "CR.IA32E.PG_PAE": [(l64(cr4=VMXE), l64()),
                        (g(L64.replace(cr0=PE | NE | ET), ctl(UG, ia32e_mode_guest=True)), l64())],
    "CR.NOIA32E.PCIDE": [(pm(cr4=VMXE | PCIDE), l64(cr4=VMXE | PAE | PCIDE))],
    "CR.CR3.RSVD": [(pm(cr3=1 << 46), pm(cr3=(1 << 46) - 0x1000))],
    "DR.DR7.HI": [(pm(dr7=(1 << 32) | 0x400), pm(ctl(load_debug_controls=False),
                                                dr7=(1 << 32) | 0x400))],
    "MSR.SYSENTER.CANON": [(pm(sysenter_esp=NONCANON), pm(sysenter_esp=CANON_HI)),
                           (pm(sysenter_eip=NONCANON), pm(sysenter_eip=CANON_HI))],
    "MSR.PERFGLOBAL.RSVD": [(pm(ctl(load_perf_global_ctrl=True), perf_global_ctrl=1 << 8),
                             pm(ctl(load_perf_global_ctrl=True), perf_global_ctrl=0x70000000F))],
    "MSR.PAT.VALID": [(pm(ctl(load_pat=True), pat=0x0007040600070402),
                       pm(ctl(load_pat=True), pat=0x0007050600070406))],
    "MSR.EFER.RSVD": [(pm(ctl(load_efer=True), efer=4), pm(ctl(load_efer=True), efer=0x801))],
    "MSR.EFER.LMA": [(pm(ctl(load_efer=True), efer=LMA | LME),
                      l64(ctl(IA32E, load_efer=True)))],
    "MSR.EFER.LME": [(pm(ctl(load_efer=True), efer=LME),
                      ug(ctl(UG, load_efer=True), efer=LME, cr0=PE | NE | ET))],
    "MSR.BNDCFGS.RSVD": [(pm(ctl(load_bndcfgs=True), bndcfgs=4),
                          pm(ctl(load_bndcfgs=True), bndcfgs=0x1003))],
    "MSR.BNDCFGS.CANON": [(pm(ctl(load_bndcfgs=True), bndcfgs=NONCANON),
                           pm(ctl(load_bndcfgs=True), bndcfgs=CANON_HI | 1))],
    "MSR.CET.RSVD": [(g(PM, CET_CTL, **{**CET_OK, "s_cet": 0x40}),
                      g(PM, CET_CTL, **{**CET_OK, "s_cet": 0x3}))],
    "MSR.CET.SUPPRESS_TRACKER": [(g(PM, CET_CTL, **{**CET_OK, "s_cet": 0xC00}),
                                  g(PM, CET_CTL, **{**CET_OK, "s_cet": 0x400}))],
    "MSR.CET.CANON": [(g(L64, ctl(IA32E, load_cet=True), **{**CET_OK, "s_cet": NONCANON}),
                       g(L64, ctl(IA32E, load_cet=True), **{**CET_OK, "s_cet": CANON_HI})),
                      (g(L64, ctl(IA32E, load_cet=True), **{**CET_OK, "isst": NONCANON}),
                       g(L64, ctl(IA32E, load_cet=True), **{**CET_OK, "isst": CANON_HI}))],
    "MSR.CET.HI": [(g(PM, CET_CTL, **{**CET_OK, "isst": 1 << 32}),
                    g(L64, ctl(IA32E, load_cet=True), **{**CET_OK, "isst": 1 << 32}))],
    "MSR.PKRS.HI": [(g(PM, ctl(load_pkrs=True), pkrs=1 << 32),
                     g(PM, ctl(load_pkrs=True), pkrs=0xFFFFFFFF))],
    "MSR.UINV": [(g(PM, ctl(load_uinv=True), uinv=0x100), g(PM, ctl(load_uinv=True), uinv=0xFF))],
    # -- segments: virtual-8086 ---------------------------------------------------------------
    **{f"SEG.V86.{r.upper()}.BASE": [(v86(**{r: S(0x1000, 0x10001, 0xFFFF, 0xF3)}),
                                      v86(**{r: S(0x1000, 0x10000, 0xFFFF, 0xF3)}))]
       for r in ("cs", "ss", "ds", "es", "fs", "gs")},
    **{f"SEG.V86.{r.upper()}.LIMIT": [(v86(**{r: S(0x1000, 0x10000, 0x1FFFF, 0xF3)}),
                                       v86(**{r: S(0x1000, 0x10000, 0xFFFF, 0xF3)}))]
       for r in ("cs", "ss", "ds", "es", "fs", "gs")},
    **{f"SEG.V86.{r.upper()}.AR": [(v86(**{r: S(0x1000, 0x10000, 0xFFFF, 0xF2)}),
                                    v86(**{r: S(0x1000, 0x10000, 0xFFFF, 0xF3)})),
                                   (v86(**{r: S(0x1000, 0x10000, 0xFFFF, 0x100F3)}), v86())]
       for r in ("cs", "ss", "ds", "es", "fs", "gs")},
    # -- segment bases ------------------------------------------------------------------------
    "SEG.BASE.TR.CANON": [(pm(tr=S(0x18, NONCANON, 0x67, 0x8B)),
                           pm(tr=S(0x18, CANON_HI, 0x67, 0x8B)))],
    "SEG.BASE.FS.CANON": [(pm(fs=S(0, NONCANON, 0, 0x10000)), pm(fs=S(0, CANON_HI, 0, 0x10000)))],
    "SEG.BASE.GS.CANON": [(pm(gs=S(0x10, NONCANON, 0xFFFFFFFF, 0xC093)),
                           pm(gs=S(0x10, CANON_HI, 0xFFFFFFFF, 0xC093)))],
    "SEG.BASE.LDTR.CANON": [(pm(ldtr=S(0x20, NONCANON, 0xFF, 0x82)),
                             pm(ldtr=S(0x20, NONCANON, 0xFF, 0x10082)))],
    "SEG.BASE.CS.HI": [(l64(cs=S(0x08, 1 << 32, 0xFFFFFFFF, 0xA09B)),
                        l64(cs=S(0x08, 0xFFFFF000, 0xFFFFFFFF, 0xA09B)))],
    "SEG.BASE.SSDSES.HI": [(pm(ds=S(0x10, 1 << 32, 0xFFFFFFFF, 0xC093)),
                            pm(ds=S(0, 1 << 32, 0, 0x10000))),
                           (l64(ss=S(0x10, 1 << 32, 0xFFFFFFFF, 0xC093)), l64())],
    # -- selectors and access rights outside v8086 ----------------------------------------------
    "SEG.SEL.SS_RPL_EQ_CS_RPL": [(pm(cs=S(0x0B, 0, 0xFFFFFFFF, 0xC09B)),
                                  ug(cs=S(0x0B, 0, 0xFFFFFFFF, 0xC09B)))],
    "SEG.AR.CS.TYPE": [(pm(cs=S(0x08, 0, 0xFFFFFFFF, 0xC093)),
                        ug(cs=S(0x08, 0, 0xFFFFFFFF, 0xC093))),
                       (pm(cs=S(0x08, 0, 0xFFFFFFFF, 0xC09A)),
                        pm(cs=S(0x08, 0, 0xFFFFFFFF, 0xC099)))],
    "SEG.AR.CS.DPL.T3": [(ug(cs=S(0x08, 0, 0xFFFFFFFF, 0xC0F3)),
                          ug(cs=S(0x08, 0, 0xFFFFFFFF, 0xC093)))],
    "SEG.AR.CS.DPL.NONCONF": [(pm(cs=S(0x08, 0, 0xFFFFFFFF, 0xC0FB)), ring3())],
    "SEG.AR.CS.DPL.CONF": [(pm(cs=S(0x08, 0, 0xFFFFFFFF, 0xC0FF)),
                            ring3(cs=S(0x2B, 0, 0xFFFFFFFF, 0xC09F)))],
    "SEG.AR.CS.DB_L": [(l64(cs=S(0x08, 0, 0xFFFFFFFF, 0xE09B)),
                        pm(cs=S(0x08, 0, 0xFFFFFFFF, 0xE09B)))],
    "SEG.AR.SS.TYPE": [(pm(ss=S(0x10, 0, 0xFFFFFFFF, 0xC091)),
                        pm(ss=S(0x10, 0, 0xFFFFFFFF, 0xC097)))],
    "SEG.AR.SS.DPL_EQ_RPL": [(pm(cs=S(0x0B, 0, 0xFFFFFFFF, 0xC09B),
                                 ss=S(0x13, 0, 0xFFFFFFFF, 0xC093)),
                              ug(cs=S(0x0B, 0, 0xFFFFFFFF, 0xC09B),
                                 ss=S(0x13, 0, 0xFFFFFFFF, 0xC093)))],
    "SEG.AR.SS.DPL0": [(real(cs=S(0, 0, 0xFFFF, 0x93), ss=S(0, 0, 0xFFFF, 0xF3)),
                        real(cs=S(0, 0, 0xFFFF, 0x93), ss=S(0, 0, 0xFFFF, 0x93)))],
    "SEG.AR.DATA.ACCESSED": [(pm(ds=S(0x10, 0, 0xFFFFFFFF, 0xC092)),
                              pm(ds=S(0, 0, 0xFFFFFFFF, 0x1C092)))],
    "SEG.AR.DATA.READABLE": [(pm(es=S(0x08, 0, 0xFFFFFFFF, 0xC099)),
                              pm(es=S(0x08, 0, 0xFFFFFFFF, 0xC09B)))],
    "SEG.AR.DATA.DPL_GE_RPL": [(pm(fs=S(0x13, 0, 0xFFFFFFFF, 0xC093)),
                                pm(fs=S(0x0B, 0, 0xFFFFFFFF, 0xC09F))),   # conforming: unchecked
                               (pm(gs=S(0x13, 0, 0xFFFFFFFF, 0xC093)),
                                ug(gs=S(0x13, 0, 0xFFFFFFFF, 0xC093)))],
    "SEG.AR.S": [(pm(ds=S(0x10, 0, 0xFFFFFFFF, 0xC083)), pm(ds=S(0, 0, 0xFFFFFFFF, 0x1C083))),
                 (pm(cs=S(0x08, 0, 0xFFFFFFFF, 0xC08B)), pm())],
    "SEG.AR.P": [(pm(ds=S(0x10, 0, 0xFFFFFFFF, 0xC013)), pm(ds=S(0, 0, 0xFFFFFFFF, 0x1C013)))],
    "SEG.AR.RSVD_11_8": [(pm(ds=S(0x10, 0, 0xFFFFFFFF, 0xC193)),
                          pm(ds=S(0, 0, 0xFFFFFFFF, 0x1C193)))],
    "SEG.AR.G": [(pm(ds=S(0x10, 0, 0x10000, 0xC093)), pm(ds=S(0x10, 0, 0xFFFFF, 0x4093))),
                 (pm(ss=S(0x10, 0, 0x100FFF, 0x4093)), pm(ss=S(0x10, 0, 0x100FFF, 0xC093)))],
    "SEG.AR.RSVD_31_17": [(pm(ds=S(0x10, 0, 0xFFFFFFFF, 0x2C093)),
                           pm(ds=S(0, 0, 0xFFFFFFFF, 0x3C093)))],
    # -- TR and LDTR --------------------------------------------------------------------------
    "SEG.SEL.TR.TI": [(pm(tr=S(0x1C, 0x1000, 0x67, 0x8B)), pm(tr=S(0x18, 0x1000, 0x67, 0x8B)))],
    "SEG.TR.TYPE": [(pm(tr=S(0x18, 0x1000, 0x67, 0x89)), pm(tr=S(0x18, 0x1000, 0x67, 0x83))),
                    (l64(tr=S(0x18, 0x1000, 0x67, 0x83)), l64())],
    "SEG.TR.S": [(pm(tr=S(0x18, 0x1000, 0x67, 0x9B)), pm())],
    "SEG.TR.USABLE": [(pm(tr=S(0x18, 0x1000, 0x67, 0x1008B)), pm())],
    "SEG.TR.P": [(pm(tr=S(0x18, 0x1000, 0x67, 0x0B)), pm())],
    "SEG.TR.RSVD_11_8": [(pm(tr=S(0x18, 0x1000, 0x67, 0x18B)), pm())],
    "SEG.TR.G": [(pm(tr=S(0x18, 0x1000, 0x67, 0x808B)), pm(tr=S(0x18, 0x1000, 0x67FFF, 0x808B)))],
    "SEG.TR.RSVD_31_17": [(pm(tr=S(0x18, 0x1000, 0x67, 0x2008B)), pm())],
    "SEG.SEL.LDTR.TI": [(pm(ldtr=S(0x24, 0x2000, 0xFF, 0x82)), pm(ldtr=S(0x24, 0, 0, 0x10000)))],
    "SEG.LDTR.TYPE": [(pm(ldtr=S(0x20, 0x2000, 0xFF, 0x83)), pm(ldtr=S(0x20, 0x2000, 0xFF, 0x82)))],
    "SEG.LDTR.S": [(pm(ldtr=S(0x20, 0x2000, 0xFF, 0x92)), pm(ldtr=S(0x20, 0x2000, 0xFF, 0x82)))],
    "SEG.LDTR.P": [(pm(ldtr=S(0x20, 0x2000, 0xFF, 0x02)), pm(ldtr=S(0x20, 0x2000, 0xFF, 0x10002)))],
    "SEG.LDTR.RSVD_11_8": [(pm(ldtr=S(0x20, 0x2000, 0xFF, 0x182)),
                            pm(ldtr=S(0x20, 0x2000, 0xFF, 0x10182)))],
    "SEG.LDTR.G": [(pm(ldtr=S(0x20, 0x2000, 0xFF, 0x8082)),
                    pm(ldtr=S(0x20, 0x2000, 0xFFFFF, 0x0082)))],
    "SEG.LDTR.RSVD_31_17": [(pm(ldtr=S(0x20, 0x2000, 0xFF, 0x20082)),
                             pm(ldtr=S(0x20, 0x2000, 0xFF, 0x30082)))],
    # -- GDTR/IDTR, RIP, RFLAGS, SSP -------------------------------------------------------------
    **{f"DT.{r.upper()}.CANON": [(pm(**{r: type(PM.gdtr)(NONCANON, 0xFF)}),
                                  pm(**{r: type(PM.gdtr)(CANON_HI, 0xFF)}))]
       for r in ("gdtr", "idtr")},
    **{f"DT.{r.upper()}.LIMIT": [(pm(**{r: type(PM.gdtr)(0, 0x10000)}),
                                  pm(**{r: type(PM.gdtr)(0, 0xFFFF)}))] for r in ("gdtr", "idtr")},
    "RIP.HI": [(pm(rip=1 << 32), l64(rip=1 << 32)),
               (l64(cs=S(0x08, 0, 0xFFFFFFFF, 0xC09B), rip=1 << 32), l64())],  # compat mode
    "RIP.CANON": [(l64(rip=NONCANON), l64(rip=CANON_HI))],
    "RF.RSVD": [(pm(rflags=2 | 8), pm(rflags=2 | (1 << 21))), (pm(rflags=2 | (1 << 15)), pm())],
    "RF.BIT1": [(pm(rflags=0), pm(rflags=2))],
    "RF.VM": [(g(REAL.replace(rflags=2 | VM, cs=Segment.vm86(0), ss=Segment.vm86(0),
                              ds=Segment.vm86(0), es=Segment.vm86(0), fs=Segment.vm86(0),
                              gs=Segment.vm86(0)), UG), v86())],
    "RF.IF_EXTINT": [(pm(ctl(entry_intr_info=EXT_INT)), pm(ctl(entry_intr_info=EXT_INT),
                                                           rflags=2 | IF))],
    "SSP.ALIGN": [(g(PM, CET_CTL, **{**CET_OK, "ssp": 0x1002}),
                   g(PM, CET_CTL, **{**CET_OK, "ssp": 0x1000}))],
    "SSP.HI": [(g(PM, CET_CTL, **{**CET_OK, "ssp": 1 << 32}),
                g(L64, ctl(IA32E, load_cet=True), **{**CET_OK, "ssp": 1 << 32}))],
    "SSP.CANON": [(g(L64, ctl(IA32E, load_cet=True), **{**CET_OK, "ssp": NONCANON}),
                   g(L64, ctl(IA32E, load_cet=True), **{**CET_OK, "ssp": CANON_HI}))],
    # -- activity ------------------------------------------------------------------------------
    "ACT.RANGE": [(pm(activity=4), pm(activity=Activity.WAIT_SIPI)),
                  (g(PM.replace(activity=Activity.SHUTDOWN), processor=Processor(vmx_misc=0x140)),
                   pm(activity=Activity.SHUTDOWN))],
    "ACT.HLT_SSDPL": [(ring3(activity=Activity.HLT), pm(activity=Activity.HLT))],
    "ACT.BLOCK_ACTIVE": [(pm(activity=Activity.HLT, interruptibility=1, rflags=2 | IF),
                          pm(interruptibility=1, rflags=2 | IF))],
    "ACT.INJ.HLT": [(pm(ctl(entry_intr_info=GP_EXC), activity=Activity.HLT),
                     pm(ctl(entry_intr_info=NMI), activity=Activity.HLT)),
                    (pm(ctl(entry_intr_info=0x80000703), activity=Activity.HLT),
                     pm(ctl(entry_intr_info=0x80000700), activity=Activity.HLT))],
    "ACT.INJ.SHUTDOWN": [(pm(ctl(entry_intr_info=EXT_INT), activity=Activity.SHUTDOWN,
                             rflags=2 | IF),
                          pm(ctl(entry_intr_info=0x80000312), activity=Activity.SHUTDOWN))],
    "ACT.INJ.SIPI": [(pm(ctl(entry_intr_info=NMI), activity=Activity.WAIT_SIPI),
                      pm(activity=Activity.WAIT_SIPI))],
    "ACT.SMM_SIPI": [(g(PM.replace(activity=Activity.WAIT_SIPI, interruptibility=4),
                        ctl(entry_to_smm=True), in_smm=True),
                      g(PM.replace(interruptibility=4), ctl(entry_to_smm=True), in_smm=True))],
    # -- interruptibility ---------------------------------------------------------------------
    "INT.RSVD": [(pm(interruptibility=0x20), pm(interruptibility=0x8))],
    "INT.STI_MOVSS_EXCL": [(pm(interruptibility=3, rflags=2 | IF),
                            pm(interruptibility=2, rflags=2 | IF))],
    "INT.STI_IF": [(pm(interruptibility=1), pm(interruptibility=1, rflags=2 | IF))],
    "INT.EXTINT": [(pm(ctl(entry_intr_info=EXT_INT), interruptibility=2, rflags=2 | IF),
                    pm(ctl(entry_intr_info=EXT_INT), interruptibility=8, rflags=2 | IF))],
    "INT.NMI_MOVSS": [(pm(ctl(entry_intr_info=NMI), interruptibility=2),
                       pm(ctl(entry_intr_info=NMI), interruptibility=1, rflags=2 | IF))],
    "INT.NMI_STI": [(g(PM.replace(interruptibility=1, rflags=2 | IF), ctl(entry_intr_info=NMI),
                       Processor(nmi_blocked_by_sti=True)),
                     g(PM.replace(interruptibility=1, rflags=2 | IF), ctl(entry_intr_info=NMI)))],
    "INT.SMI_OUTSIDE_SMM": [(pm(interruptibility=4), g(PM.replace(interruptibility=4),
                                                       in_smm=True))],
    "INT.SMI_ENTRY_SMM": [(g(PM, ctl(entry_to_smm=True), in_smm=True),
                           g(PM.replace(interruptibility=4), ctl(entry_to_smm=True),
                             in_smm=True))],
    "INT.VNMI": [(pm(ctl(entry_intr_info=NMI, virtual_nmis=True), interruptibility=8),
                  pm(ctl(entry_intr_info=NMI), interruptibility=8))],
    "INT.ENCLAVE": [(pm(interruptibility=0x10),
                     g(PM.replace(interruptibility=0x10), processor=Processor(sgx=True)))],
    # -- pending debug exceptions --------------------------------------------------------------
    "PDE.RSVD": [(pm(pending_debug=0x10), pm(pending_debug=0x100F)),
                 (pm(pending_debug=1 << 15), pm(pending_debug=1 << 12))],
    "PDE.BS_TF": [(pm(interruptibility=1, rflags=2 | IF | TF),
                   pm(interruptibility=1, rflags=2 | IF | TF, pending_debug=1 << 14))],
    "PDE.BS_NOTF": [(pm(interruptibility=1, rflags=2 | IF, pending_debug=1 << 14),
                     pm(interruptibility=1, rflags=2 | IF | TF, debugctl=2))],
    "PDE.RTM": [(pm(pending_debug=0x11000), g(PM.replace(pending_debug=0x11000),
                                              processor=Processor(rtm=True)))],
    # -- VMCS link pointer --------------------------------------------------------------------
    "LNK.ALIGN": [(g(PM, link_pointer=0x2001, **LNK_OK), g(PM, link_pointer=0x2000, **LNK_OK))],
    "LNK.PHYS": [(g(PM, link_pointer=1 << 46, **LNK_OK),
                  g(PM, link_pointer=(1 << 46) - 0x1000, **LNK_OK))],
    "LNK.REV": [(g(PM, link_pointer=0x2000, link_header=0x80000001, current_vmcs=0x5000),
                 g(PM, ctl(vmcs_shadowing=True), link_pointer=0x2000, link_header=0x80000001,
                   current_vmcs=0x5000)),
                (g(PM, processor=Processor(vmcs_revision=4), link_pointer=0x2000, link_header=5,
                   current_vmcs=0x5000),
                 g(PM, processor=Processor(vmcs_revision=4), link_pointer=0x2000, link_header=4,
                   current_vmcs=0x5000))],
    "LNK.NOT_CUR": [(g(PM, link_pointer=0x5000, link_header=1, current_vmcs=0x5000),
                     g(PM, link_pointer=0x6000, link_header=1, current_vmcs=0x5000))],
    "LNK.NOT_VMXON": [(g(PM, link_pointer=0x7000, link_header=1, in_smm=True,
                         vmxon_pointer=0x7000),
                       g(PM, link_pointer=0x6000, link_header=1, in_smm=True,
                         vmxon_pointer=0x7000))],
    # -- PDPTEs ---------------------------------------------------------------------------------
    "PDPTE.RSVD": [(pm(cr4=VMXE | PAE).replace(pdptes=(0x1003, 0, 0, 0)),
                    pm(cr4=VMXE | PAE).replace(pdptes=(0x1001, 0x2E0, 0, 0))),   # P=0: unchecked
                   (pm(cr4=VMXE | PAE).replace(pdptes=(0, 0, 0, (1 << 46) | 1)),
                    pm(cr4=VMXE | PAE).replace(pdptes=(0, 0, 0, (1 << 45) | 0xE01)))],
}

NOT_MODELLED = {"MSR.RTIT.RSVD": "load_rtit_ctl", "MSR.LBRCTL.RSVD": "load_lbr_ctl",
                "MSR.FRED.CONFIG": "load_fred", "MSR.SPECCTRL": "load_spec_ctrl"}

PAIRS = [(rid, i, bad, good) for rid, cases in CASES.items() for i, (bad, good) in
         enumerate(cases)]


def _applies(rule_id, state) -> bool:
    from debugger.checks.engine import Ctx
    x = Ctx(state)
    return any(r.id == rule_id and (r.applies is None or r.applies(x)) for r in SDM_RULES)


@pytest.mark.parametrize("rule_id,i,bad,good", PAIRS, ids=[f"{p[0]}-{p[1]}" for p in PAIRS])
def test_rule_fails_alone_and_holds(rule_id, i, bad, good):
    v = evaluate_guest(bad)
    assert set(v.rules()) == {rule_id}, [(x.rule, x.field, x.actual) for x in v.violations]
    ok = evaluate_guest(good)
    assert ok.ok, [(x.rule, x.field, x.actual) for x in ok.violations]


def test_every_rule_has_a_case():
    assert RULE_IDS - set(CASES) - set(NOT_MODELLED) == set()


@pytest.mark.parametrize("rule_id,control", NOT_MODELLED.items())
def test_unmodelled_rules_are_reported_not_passed(rule_id, control):
    on = evaluate_guest(g(PM, ctl(**{control: True})))
    assert on.ok and rule_id in on.not_modelled
    assert rule_id not in evaluate_guest(g(PM)).not_modelled


def test_missing_record_fields_are_not_modelled():
    v = evaluate_guest(g(PM, ctl(load_cet=True)))            # no S_CET/SSP/ISST in the record
    assert v.ok and {"MSR.CET.RSVD", "SSP.ALIGN"} <= set(v.not_modelled)
    v = evaluate_guest(pm(cr4=VMXE | PAE))                   # PAE paging, PDPTEs unknown
    assert v.ok and v.not_modelled == ["PDPTE.RSVD"]


@pytest.mark.parametrize("state", [pm(), ring3(), real(), v86(), l64(), ug(cr0=PE | NE | ET)])
def test_baselines_are_valid(state):
    assert evaluate_guest(state).ok


def test_violation_fields_name_register_and_values():
    v = evaluate_guest(v86(ds=S(0x1000, 0x10000, 0xFFFFFFFF, 0xF3))).violations[0]
    assert (v.rule, v.register, v.field, v.actual, v.required) == (
        "SEG.V86.DS.LIMIT", "ds", "ds.limit", 0xFFFFFFFF, 0xFFFF)
    assert v.sdm == "26.3.1.2" and v.text.endswith(".")


def test_rule_texts_are_one_sentence():
    for r in SDM_RULES:
        assert r.text[0].isupper() and r.text.endswith(".") and r.sdm.startswith("26.3.1."), r.id
