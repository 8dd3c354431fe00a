"""Profiles: the mapping each hypervisor applies, and the KVM, Xen and SVM rule sets (each rule
failing alone and holding), written from the reference's description of KVM, Xen and the APM."""
from __future__ import annotations

from pathlib import Path

import pytest

from debugger.checks import PROFILES, build_guest, evaluate
from debugger.checks import rules_kvm, rules_svm, rules_xen
from debugger.checks.dumps import parse_dump
from debugger.cpustate import Activity, CpuState, Segment
from tests.checks.states import IF, L64, LMA, LME, PAE, PE, PM, REAL, RING3, TF, V86, VMXE

DATA = Path(__file__).parent / "data"
S = Segment
UNREAL = REAL.replace(ds=S(0, 0, 0xFFFFFFFF, 0xC093), es=S(0, 0, 0xFFFFFFFF, 0xC093))


def test_profiles_have_descriptions_and_default_is_vmx():
    assert set(PROFILES) == {"vmx", "vmx-ug", "kvm", "xen", "svm"}
    assert all(p.description for p in PROFILES.values())
    assert evaluate(CpuState()).profile == "vmx"


@pytest.mark.parametrize("name", ["qemu-unreal-i386.txt", "qemu-unreal-i386-log.txt"])
def test_qemu_unreal_mode(name):
    cpu = parse_dump((DATA / name).read_text()).cpu
    assert cpu.ds.limit == cpu.es.limit == 0xFFFFFFFF and not cpu.pe
    for prof in ("vmx", "kvm"):
        v = evaluate(cpu, prof)
        assert not v.ok and v.profile == prof and set(v.registers()) == {"ds", "es"}
    assert evaluate(cpu, "vmx-ug").ok


def test_vmx_maps_real_mode_to_vm86_like_kvm():
    gs = build_guest(REAL.replace(ds=S(0x1234, 0x12340, 0xFFFF, 0x93)), "vmx")
    c = gs.cpu
    assert c.vm and c.iopl == 3 and c.pe and c.pg and c.cr0 & 0x20 and c.cr4 & VMXE
    assert c.cs.ar == 0xF3 and c.ds.ar == 0xF3 and (c.ds.base, c.ds.limit) == (0x12340, 0xFFFF)
    assert c.tr.type == 11 and not gs.controls.unrestricted_guest
    assert evaluate(REAL, "vmx").ok


def test_vmx_real_mode_hlt_is_halted_in_software():
    assert build_guest(REAL.replace(activity=Activity.HLT), "vmx").cpu.activity == Activity.ACTIVE
    assert evaluate(REAL.replace(activity=Activity.HLT), "vmx").ok


def test_vmx_protected_mode_forces_paging_and_keeps_segments():
    unpaged = PM.replace(cr0=PM.cr0 & ~(1 << 31), cr4=PAE)
    gs = build_guest(unpaged, "vmx")
    assert gs.cpu.pg and gs.cpu.cr4 & VMXE and not gs.cpu.cr4 & PAE   # identity map, not PAE
    assert gs.cpu.cs == PM.cs and evaluate(unpaged, "vmx").ok
    assert not evaluate(unpaged, "vmx").not_modelled


def test_vmx_ug_forces_only_ne_and_vmxe():
    cpu = REAL.replace(cr0=0x10, cr4=0)
    c = build_guest(cpu, "vmx-ug").cpu
    assert (c.cr0, c.cr4) == (0x30, VMXE) and c.cs == cpu.cs
    assert build_guest(cpu, "vmx-ug").controls.unrestricted_guest


def test_accessed_bit_set_as_a_real_cpu_does():
    cpu = PM.replace(cs=S(0x08, 0, 0xFFFFFFFF, 0xC09A))          # QEMU leaves CS.A clear
    assert build_guest(cpu, "vmx-ug").cpu.cs.ar == 0xC09B
    assert evaluate(cpu, "vmx").ok and evaluate(cpu, "kvm").ok


def test_pending_single_step_recorded_under_blocking():
    cpu = PM.replace(interruptibility=1, rflags=2 | IF | TF)
    assert build_guest(cpu, "vmx-ug").cpu.pending_debug & (1 << 14)
    assert evaluate(cpu, "vmx-ug").ok


def test_long_mode_sets_ia32e_control():
    cpu = L64
    gs = build_guest(cpu, "vmx")
    assert gs.controls.ia32e_mode_guest and evaluate(cpu, "vmx").ok


def test_transition_state_after_setting_pe_needs_emulation_without_ug():
    # mov cr0 (PE=1) from real mode with SS=9003h: caches unchanged, selectors' RPL 3.
    cpu = REAL.replace(cr0=0x11, ss=S(0x9003, 0x90030, 0xFFFF, 0x93))
    assert not evaluate(cpu, "vmx").ok and evaluate(cpu, "vmx-ug").ok
    assert evaluate(cpu, "xen").rules() == ["XEN.PM.SS.RPL"]
    assert evaluate(cpu, "kvm").rules() == ["KVM.PM.CS_SS_RPL", "KVM.PM.SS.DPL_RPL"]


def test_every_profile_judges_every_mode():
    # (How fast the checker is, is measured by `bootdbg bench` — every catchpoint armed includes
    # vmx-invalid under every profile — never by a timed unit test on a shared machine.)
    for prof in PROFILES:
        for cpu in (REAL, PM, UNREAL, V86, L64):
            v = evaluate(cpu, prof)
            assert v.profile == prof and isinstance(v.ok, bool)


# -- KVM, Xen, SVM rule sets ----------------------------------------------------------------
def _v86(r, seg):
    return REAL.replace(**{r: seg})


KVM_CASES = {
    **{f"KVM.RM.{r.upper()}.BASE": [(_v86(r, S(0x1000, 0x10010, 0xFFFF, 0x93)),
                                     _v86(r, S(0x1000, 0x10000, 0xFFFF, 0x93)))]
       for r in ("cs", "ss", "ds", "es", "fs", "gs")},
    **{f"KVM.RM.{r.upper()}.LIMIT": [(_v86(r, S(0, 0, 0xFFFFF, 0x93)), _v86(r, S(0, 0, 0xFFFF,
                                                                              0xF3)))]
       for r in ("cs", "ss", "ds", "es", "fs", "gs")},
    **{f"KVM.RM.{r.upper()}.AR": [(_v86(r, S(0, 0, 0xFFFF, 0x4093)), _v86(r, S(0, 0, 0xFFFF,
                                                                            0x93)))]
       for r in ("ss", "ds", "es", "fs", "gs")},
    "KVM.RM.CS.AR": [(_v86("cs", S(0, 0, 0xFFFF, 0x109B)), _v86("cs", S(0, 0, 0xFFFF, 0x9F)))],
    "KVM.PM.CS_SS_RPL": [(PM.replace(cs=S(0x0B, 0, 0xFFFFFFFF, 0xC0FB),
                                     ss=S(0x10, 0, 0xFFFFFFFF, 0xC093)), RING3)],
    "KVM.PM.CS.USABLE": [(PM.replace(cs=S(0x08, 0, 0xFFFFFFFF, 0x1C09B)), PM)],
    "KVM.PM.CS.TYPE": [(PM.replace(cs=S(0x08, 0, 0xFFFFFFFF, 0xC093)), PM)],
    "KVM.PM.CS.S": [(PM.replace(cs=S(0x08, 0, 0xFFFFFFFF, 0xC08B)), PM)],
    "KVM.PM.CS.DPL": [(PM.replace(cs=S(0x08, 0, 0xFFFFFFFF, 0xC0FB)),
                       PM.replace(cs=S(0x0B, 0, 0xFFFFFFFF, 0xC09F),
                                  ss=S(0x13, 0, 0xFFFFFFFF, 0xC0F3)))],
    "KVM.PM.SS.TYPE": [(PM.replace(ss=S(0x10, 0, 0xFFFFFFFF, 0xC09B)),
                        PM.replace(ss=S(0, 0, 0, 0x1C09B)))],
    "KVM.PM.SS.S": [(PM.replace(ss=S(0x10, 0, 0xFFFFFFFF, 0xC083)), PM)],
    "KVM.PM.SS.DPL_RPL": [(PM.replace(ss=S(0x10, 0, 0xFFFFFFFF, 0xC0F3)), PM)],
    "KVM.PM.DATA.S": [(PM.replace(ds=S(0x10, 0, 0xFFFFFFFF, 0xC083)), PM)],
    "KVM.PM.DATA.DPL_GE_RPL": [(PM.replace(es=S(0x13, 0, 0xFFFFFFFF, 0xC093)),
                                PM.replace(es=S(0x0B, 0, 0xFFFFFFFF, 0xC09F)))],
    "KVM.PM.TR.USABLE": [(PM.replace(tr=S(0x18, 0x1000, 0x67, 0x1008B)), PM)],
    "KVM.PM.TR.TI": [(PM.replace(tr=S(0x1C, 0x1000, 0x67, 0x8B)), PM)],
    "KVM.PM.TR.TYPE": [(PM.replace(tr=S(0x18, 0x1000, 0x67, 0x89)),
                        PM.replace(tr=S(0x18, 0x1000, 0x67, 0x83)))],
    "KVM.PM.LDTR.TI": [(PM.replace(ldtr=S(0x24, 0, 0xFF, 0x82)), PM.replace(ldtr=S(0x20, 0, 0xFF,
                                                                                 0x82)))],
    "KVM.PM.LDTR.TYPE": [(PM.replace(ldtr=S(0x20, 0, 0xFF, 0x89)), PM)],
}

XEN_CASES = {
    **{f"XEN.RM.{r.upper()}.BASE": [(_v86(r, S(0, 0x100000, 0xFFFF, 0x93)),
                                     _v86(r, S(0, 0xFFFF0, 0xFFFF, 0x93))),
                                    (_v86(r, S(0, 0x1008, 0xFFFF, 0x93)), REAL)]
       for r in ("es", "cs", "ss", "ds", "fs", "gs")},
    **{f"XEN.RM.{r.upper()}.LIMIT": [(_v86(r, S(0, 0, 0xFFFE, 0x93)),
                                      _v86(r, S(0, 0, 0xFFFFFFFF, 0xC093)))]
       for r in ("es", "cs", "ss", "ds", "fs", "gs")},
    **{f"XEN.RM.{r.upper()}.P": [(_v86(r, S(0, 0, 0xFFFF, 0x10013)), REAL)]
       for r in ("es", "cs", "ss", "ds", "fs", "gs")},
    "XEN.PM.CS.RPL": [(REAL.replace(cr0=0x11, cs=S(0x7C3, 0x7C30, 0xFFFF, 0x9B)), REAL.replace(
        cr0=0x11))],
    "XEN.PM.SS.RPL": [(REAL.replace(cr0=0x11, ss=S(0x13, 0x130, 0xFFFF, 0x93)), RING3)],
}

SVM_CASES = {
    "SVM.CR0.CDNW": [(PM.replace(cr0=PM.cr0 | (1 << 29)), PM.replace(cr0=PM.cr0 | (3 << 29)))],
    "SVM.CR0.HI": [(PM.replace(cr0=PM.cr0 | (1 << 32)), PM)],
    "SVM.CR3.MBZ": [(L64.replace(cr3=1 << 52), PM.replace(cr3=1 << 52))],
    "SVM.CR4.MBZ": [(PM.replace(cr4=VMXE), PM.replace(cr4=PAE))],
    "SVM.DR6.HI": [(PM.replace(dr6=1 << 32), PM)],
    "SVM.DR7.HI": [(PM.replace(dr7=1 << 32), PM)],
    "SVM.EFER.MBZ": [(PM.replace(efer=1 << 9), PM.replace(efer=1 << 11))],
    "SVM.LM.PAE": [(L64.replace(cr4=0, efer=LME), L64.replace(cr4=PAE, efer=LME | LMA))],
    "SVM.LM.PE": [(L64.replace(cr4=PAE, cr0=1 << 31, efer=LME),
                   L64.replace(cr4=PAE, cr0=(1 << 31) | PE, efer=LME))],
    "SVM.LM.CS_LD": [(L64.replace(cr4=PAE, cs=S(8, 0, 0xFFFFFFFF, 0xE09B)),
                      PM.replace(cs=S(8, 0, 0xFFFFFFFF, 0xE09B)))],
    "SVM.NP.GPAT": [(PM.replace(pat=0x02), PM.replace(pat=0x06))],
}
SVM_BASE = {"SVM.CR4.MBZ", "SVM.CR3.MBZ"}   # the VMX baselines carry VMXE: strip it for SVM


def _svm(cpu):
    return cpu.replace(cr4=cpu.cr4 & ~VMXE) if cpu.cr4 & VMXE and cpu is not None else cpu


def _pairs(cases):
    return [(rid, bad, good) for rid, cs in cases.items() for bad, good in cs]


@pytest.mark.parametrize("prof,cases,rules", [("kvm", KVM_CASES, rules_kvm.RULES),
                                              ("xen", XEN_CASES, rules_xen.RULES),
                                              ("svm", SVM_CASES, rules_svm.RULES)])
def test_hypervisor_rule_sets(prof, cases, rules):
    ids = {r.id for r in rules}
    assert ids - set(cases) <= {"SVM.EFER.SVME", "SVM.EFER.NOLM"}
    for rid, bad, good in _pairs(cases):
        if prof == "svm" and rid != "SVM.CR4.MBZ":
            bad, good = _svm(bad), _svm(good)
        elif prof == "svm":
            good = _svm(good)
        v = evaluate(bad, prof)
        assert v.rules() and set(v.rules()) == {rid}, (rid, v.rules())
        assert evaluate(good, prof).ok, (rid, evaluate(good, prof).rules())


def test_svm_svme_and_no_long_mode():
    from debugger.checks.engine import run_rules
    from debugger.checks.guest import GuestState, Processor
    assert [v.rule for v in run_rules(rules_svm.RULES, GuestState(PM.replace(cr4=0)), "svm")
            .violations] == ["SVM.EFER.SVME"]
    assert evaluate(PM.replace(cr4=0), "svm").ok                    # the profile sets SVME
    g = GuestState(L64.replace(cr4=PAE, efer=LME | LMA | (1 << 12)),
                   processor=Processor(long_mode=False))
    assert run_rules(rules_svm.RULES, g, "svm").rules() == ["SVM.EFER.NOLM"]
