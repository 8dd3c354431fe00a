"""Profiles: how a hypervisor turns a live CPU state into the guest state it enters, and which
rules then decide.  Each profile's mapping is documented here, next to its code.

vmx-ug   Intel VMX with unrestricted guest (KVM, Xen, VMware on any CPU since Westmere).  The state
         is entered as it is; only the bits VMX operation fixes are forced on: CR0.NE and
         CR4.VMXE.  Controls: UG=1, IA-32e mode guest = EFER.LMA, load debug controls, EFER and
         PAT (what KVM uses), EPT on.  Judged by every SDM rule (26.3.1) with UG=1.
vmx      Intel VMX without unrestricted guest (pre-2010 CPUs, or UG disabled).  Protected mode:
         as is, with CR0.PG and CR0.NE and CR4.VMXE forced on (EPT identity map or shadow
         paging); when the guest itself has paging off the hypervisor's identity map is a
         32-bit PSE table, so CR4.PAE is cleared, CR4.PSE set and CR3 is the hypervisor's
         (KVM's vmx_set_cr4/vmx_set_cr3 with EPT).  EFER.LME is loaded only once the guest
         has LMA (KVM's vmx_set_efer, Xen likewise): a guest that sets LME before paging,
         as memtest86+ does, runs with it clear under the forced CR0.PG.  Real mode is run in virtual-8086 mode the way KVM and Xen do
         it: RFLAGS.VM=1 and IOPL=3; CR0.PE, PG, NE and CR4.VMXE, VME on; every segment's DPL
         forced to 3 and CS's type to 3 (KVM's fix_rmode_seg), base and limit left as the
         guest has them; TR replaced by the hypervisor's vm86 TSS (busy 32-bit TSS at
         0xFEFFD000, KVM's RMODE_TSS_SIZE - 1 limit); a halted real-mode guest is halted in
         software, so the activity state entered is ACTIVE.  Judged by the SDM rules with UG=0:
         an invalid verdict means the hardware cannot run the state natively and the
         hypervisor must emulate.
kvm      KVM's emulation-required test (`__vmx_guest_state_valid`) on the guest-visible state.
xen      Xen's vm86 segment-safety rule in real mode and its continuation rule after CR0.PE=1.
svm      AMD VMRUN consistency checks; EFER.SVME is forced on (the hypervisor sets it in the
         VMCB), nested paging assumed.

For vmx, vmx-ug and kvm, a usable code or data segment cache gets the accessed bit (type bit 0):
a processor sets it on every descriptor load, but QEMU/Unicorn leave it clear in the CS cache
after a far jump; KVM applies the same fix-up to states from userspace (__vmx_set_segment).

For every VMX profile, when the guest has RFLAGS.TF=1 and STI or MOV-SS blocking, the pending
debug exceptions get BS=1 -- the value the processor itself saves on a VM exit at that point
(SDM 27.3.4).
"""
from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from typing import Callable

from debugger.checks import rules_kvm, rules_svm, rules_xen
from debugger.checks.engine import run_rules
from debugger.checks.guest import Controls, GuestState
from debugger.checks.rules import SDM_RULES
from debugger.checks.verdict import Rule, Verdict
from debugger.cpustate import (
    CR0_NE, CR0_PE, CR0_PG, CR4_PAE, CR4_VMXE, EFER_LMA, EFER_LME, EFER_SVME, INTR_MOVSS,
    INTR_STI, RF_TF, RF_VM,
    Activity, CpuState, Segment)

__all__ = ["Profile", "PROFILES", "DEFAULT_PROFILE", "evaluate", "evaluate_guest",
           "build_guest", "RMODE_TSS"]

DEFAULT_PROFILE = "vmx"
CR4_VME, CR4_PSE = 1, 0x10
RF_IOPL3 = 3 << 12
IDENTITY_MAP_CR3 = 0xFFFBC000     # KVM's EPT identity page table (VMX_EPT_IDENTITY_PAGETABLE_ADDR)
PDE_BS = 1 << 14
RMODE_TSS = Segment(0, 0xFEFFD000, 0x68 + 32 + 0x2000, 0x8B)   # base, RMODE_TSS_SIZE - 1, busy
V86_NOTE = ("real mode is run as virtual-8086: RFLAGS.VM=1, IOPL=3, CR0.PE/PG/NE and CR4.VMXE/VME "
            "on, segment DPL 3 and CS type 3, bases and limits as the guest has them")
_SEGS = ("es", "cs", "ss", "ds", "fs", "gs")

BuildResult = tuple[GuestState, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    description: str
    build: Callable[[CpuState], BuildResult]
    rules: tuple[Rule, ...]


def _controls(cpu: CpuState, ug: bool) -> Controls:
    return Controls(unrestricted_guest=ug, ia32e_mode_guest=cpu.lma, load_debug_controls=True,
                    load_efer=True, load_pat=True, enable_ept=True)


_UG_CONTROLS = {False: (Controls(ia32e_mode_guest=False, load_efer=True, load_pat=True,
                                 enable_ept=True),
                        Controls(ia32e_mode_guest=True, load_efer=True, load_pat=True,
                                 enable_ept=True)),
                True: (Controls(unrestricted_guest=True, load_efer=True, load_pat=True,
                                enable_ept=True),
                       Controls(unrestricted_guest=True, ia32e_mode_guest=True, load_efer=True,
                                load_pat=True, enable_ept=True))}


_CPU_FIELDS = tuple(f.name for f in dataclasses.fields(CpuState))
_get_all = operator.attrgetter(*_CPU_FIELDS)
_set = object.__setattr__


def _replace(cpu: CpuState, **changes: object) -> CpuState:
    """`cpu.replace(...)` without re-running the dataclass __init__ (3x faster; this runs on
    every mode transition).  The result equals `dataclasses.replace(cpu, **changes)`."""
    new = object.__new__(CpuState)
    for name, value in zip(_CPU_FIELDS, _get_all(cpu)):
        _set(new, name, value)
    for name, value in changes.items():
        _set(new, name, value)
    return new


def _accessed(cpu: CpuState) -> dict[str, Segment]:
    """Usable code/data caches whose accessed bit the emulator left clear, with it set."""
    out = {}
    for name in _SEGS:
        s = getattr(cpu, name)
        if s.ar & 0x10011 == 0x10:           # S=1, usable, not accessed
            out[name] = Segment(s.selector, s.base, s.limit, s.ar | 1)
    return out


def _pending_debug(cpu: CpuState) -> int:
    pd = cpu.pending_debug
    if cpu.interruptibility & (INTR_STI | INTR_MOVSS) and cpu.rflags & RF_TF \
            and not cpu.debugctl & 2:
        pd |= PDE_BS
    return pd


def build_vmx_ug(cpu: CpuState) -> BuildResult:
    pd = _pending_debug(cpu)
    acc = _accessed(cpu)
    if cpu.cr0 & CR0_NE and cpu.cr4 & CR4_VMXE and pd == cpu.pending_debug and not acc:
        state = cpu
    else:
        state = _replace(cpu, cr0=cpu.cr0 | CR0_NE, cr4=cpu.cr4 | CR4_VMXE, pending_debug=pd,
                         **acc)
    return GuestState(state, _UG_CONTROLS[True][cpu.lma]), ()


def _shadowed(cpu: CpuState) -> dict[str, int]:
    """What a hypervisor without unrestricted guest loads in place of the guest's own values
    (KVM, Xen): EFER.LME stays clear until the guest has LMA (vmx_set_efer: the guest cannot
    run with LME and the forced CR0.PG before it enables paging itself), and while the guest's
    paging is off the hypervisor's identity map replaces its CR3 and CR4.PAE (PSE set)."""
    out: dict[str, int] = {}
    if cpu.efer & EFER_LME and not cpu.efer & EFER_LMA:
        out["efer"] = cpu.efer & ~EFER_LME
    if not cpu.cr0 & CR0_PG:
        out["cr3"] = IDENTITY_MAP_CR3
        out["cr4"] = (cpu.cr4 & ~CR4_PAE) | CR4_PSE | CR4_VMXE
    else:
        out["cr4"] = cpu.cr4 | CR4_VMXE
    return out


def build_vmx(cpu: CpuState) -> BuildResult:
    shadow = _shadowed(cpu)
    cr4 = shadow.pop("cr4")
    pd = _pending_debug(cpu)
    if cpu.cr0 & CR0_PE:
        state = _replace(cpu, cr0=cpu.cr0 | CR0_PG | CR0_NE, cr4=cr4, pending_debug=pd,
                         **shadow, **_accessed(cpu))
        return GuestState(state, _UG_CONTROLS[False][cpu.lma]), ()
    segs = {}
    for name in _SEGS:
        s = getattr(cpu, name)
        ar = s.ar | 0x60 | (1 if s.ar & 0x10011 == 0x10 else 0)
        if name == "cs":
            ar = (ar & ~0xF) | 3
        segs[name] = Segment(s.selector, s.base, s.limit, ar)
    state = _replace(cpu, 
        cr0=cpu.cr0 | CR0_PE | CR0_PG | CR0_NE, cr4=cr4 | CR4_VME, tr=RMODE_TSS,
        rflags=cpu.rflags | RF_VM | RF_IOPL3, pending_debug=pd,
        activity=Activity.ACTIVE if cpu.activity == Activity.HLT else cpu.activity, **shadow,
        **segs)
    return GuestState(state, _UG_CONTROLS[False][False]), (V86_NOTE,)


def build_as_is(cpu: CpuState) -> BuildResult:
    return GuestState(cpu, _UG_CONTROLS[False][cpu.lma]), ()


def build_kvm(cpu: CpuState) -> BuildResult:
    acc = _accessed(cpu)
    return GuestState(_replace(cpu, **acc) if acc else cpu, _UG_CONTROLS[False][cpu.lma]), ()


def build_svm(cpu: CpuState) -> BuildResult:
    state = cpu if cpu.efer & EFER_SVME else _replace(cpu, efer=cpu.efer | EFER_SVME)
    return GuestState(state), ()


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("vmx", "Intel VMX without unrestricted guest: real mode runs as virtual-8086 "
            "(default)", build_vmx, SDM_RULES),
    Profile("vmx-ug", "Intel VMX with unrestricted guest: the state as it is, CR0.NE and "
            "CR4.VMXE forced on", build_vmx_ug, SDM_RULES),
    Profile("kvm", "KVM without unrestricted guest: would it emulate "
            "(__vmx_guest_state_valid)?", build_kvm, rules_kvm.RULES),
    Profile("xen", "Xen without unrestricted guest: vm86 segment safety in real mode, "
            "emulation after leaving it", build_as_is, rules_xen.RULES),
    Profile("svm", "AMD SVM: VMRUN consistency checks on the guest state", build_svm,
            rules_svm.RULES),
)}


def build_guest(cpu: CpuState, profile: str = DEFAULT_PROFILE) -> GuestState:
    """The guest state `profile`'s hypervisor would enter for `cpu`."""
    return _profile(profile).build(cpu)[0]


def _profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; one of: {', '.join(PROFILES)}") from None


def evaluate(cpu: CpuState, profile: str = DEFAULT_PROFILE) -> Verdict:
    """Could `profile`'s hypervisor VM-enter (run natively) the CPU state `cpu`?"""
    p = _profile(profile)
    guest, notes = p.build(cpu)
    return run_rules(p.rules, guest, p.name, notes)


def evaluate_guest(guest: GuestState, profile: str = "vmcs") -> Verdict:
    """Judge a VMCS guest-state area as it is, under its own controls (every SDM rule)."""
    k = guest.controls
    note = (f"controls from the record: unrestricted guest={int(k.unrestricted_guest)}, "
            f"IA-32e mode guest={int(k.ia32e_mode_guest)}",)
    return run_rules(SDM_RULES, guest, profile, note)
