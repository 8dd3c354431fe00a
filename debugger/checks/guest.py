"""The guest-state record: a `CpuState` plus what only a VMCS holds.

`GuestState(cpu=CpuState(...), controls=Controls(...), processor=Processor(...))` is the VMCS
guest-state area as the VM-entry checks see it.  The architectural registers live in the one CPU
record (`debugger.cpustate.CpuState`); this module adds only what the CPU itself does not have:
the VM-execution/VM-entry controls that change the rules, the entry interruption information,
the VMCS link pointer, the PDPTE fields, the newer MSR fields the CPU record lacks (CET, PKRS,
FRED, UINV, RTIT, LBR, SPEC_CTRL: None = not in the record, so rules needing them are reported
as not modelled) and the VMX capability MSRs of the processor being entered ("processor model").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from debugger.cpustate import CpuState

__all__ = ["Controls", "Processor", "GuestState", "NO_LINK", "OPTIONAL_FIELDS",
           "INTR_TYPE_EXTINT", "INTR_TYPE_NMI", "INTR_TYPE_HWEXC", "INTR_TYPE_OTHER"]

NO_LINK = 0xFFFF_FFFF_FFFF_FFFF
INTR_TYPE_EXTINT, INTR_TYPE_NMI, INTR_TYPE_HWEXC, INTR_TYPE_OTHER = 0, 2, 3, 7

# Control bits (SDM Vol. 3C, 24.6 / 24.8: VM-execution and VM-entry control fields).
PIN_VIRTUAL_NMIS = 1 << 5
CPU_ACTIVATE_SECONDARY = 1 << 31
SEC_ENABLE_EPT, SEC_UNRESTRICTED_GUEST, SEC_VMCS_SHADOWING = 1 << 1, 1 << 7, 1 << 14
ENTRY_BITS = {  # VM-entry controls: bit -> Controls attribute
    2: "load_debug_controls", 9: "ia32e_mode_guest", 10: "entry_to_smm",
    13: "load_perf_global_ctrl", 14: "load_pat", 15: "load_efer", 16: "load_bndcfgs",
    18: "load_rtit_ctl", 19: "load_uinv", 20: "load_cet", 21: "load_lbr_ctl", 22: "load_pkrs",
    23: "load_fred",
}


@dataclass(frozen=True, slots=True)
class Controls:
    """The VMX controls that change which guest-state rules apply, plus the entry event."""

    unrestricted_guest: bool = False
    ia32e_mode_guest: bool = False
    load_debug_controls: bool = True
    load_efer: bool = False
    load_pat: bool = False
    load_perf_global_ctrl: bool = False
    load_bndcfgs: bool = False
    load_rtit_ctl: bool = False
    load_uinv: bool = False
    load_cet: bool = False
    load_lbr_ctl: bool = False
    load_pkrs: bool = False
    load_fred: bool = False
    load_spec_ctrl: bool = False
    entry_to_smm: bool = False
    virtual_nmis: bool = False
    enable_ept: bool = False
    vmcs_shadowing: bool = False
    entry_intr_info: int = 0          # VM-entry interruption-information field
    entry_errcode: int = 0
    entry_ilen: int = 0

    @classmethod
    def from_raw(cls, pin: int = 0, cpu: int = 0, secondary: int = 0, entry: int = 0,
                 **extra: Any) -> "Controls":
        """Decode the raw control words a VMCS dump prints (secondary counts only if activated)."""
        sec = secondary if cpu & CPU_ACTIVATE_SECONDARY else 0
        kw: dict[str, Any] = {name: bool(entry >> bit & 1) for bit, name in ENTRY_BITS.items()}
        kw.update(unrestricted_guest=bool(sec & SEC_UNRESTRICTED_GUEST),
                  enable_ept=bool(sec & SEC_ENABLE_EPT),
                  vmcs_shadowing=bool(sec & SEC_VMCS_SHADOWING),
                  virtual_nmis=bool(pin & PIN_VIRTUAL_NMIS))
        kw.update(extra)
        return cls(**kw)

    # -- the entry event -------------------------------------------------------------------
    @property
    def injecting(self) -> bool:
        return bool(self.entry_intr_info >> 31 & 1)

    @property
    def intr_type(self) -> int:
        return (self.entry_intr_info >> 8) & 7

    @property
    def intr_vector(self) -> int:
        return self.entry_intr_info & 0xFF


@dataclass(frozen=True, slots=True)
class Processor:
    """The VMX capabilities of the processor being entered (defaults: a recent Intel 64 part)."""

    cr0_fixed0: int = 0x80000021                  # PE, NE, PG (IA32_VMX_CR0_FIXED0)
    cr0_fixed1: int = 0xFFFFFFFF
    cr4_fixed0: int = 0x2000                      # VMXE
    cr4_fixed1: int = 0xF72FFF                    # bits 11:0, 13, 16-18, 20-23 (no LA57, SMXE)
    maxphyaddr: int = 46
    linear_width: int = 48                        # 57 with 5-level paging
    vmx_misc: int = 0x1C0                         # bits 6-8: HLT, shutdown, wait-for-SIPI
    efer_valid: int = 0xD01                       # SCE, LME, LMA, NXE
    debugctl_valid: int = 0xFFC3                  # LBR, BTF, TR..RTM_DEBUG (bits 6-15)
    perf_global_valid: int = 0x7_0000_000F        # 4 general-purpose and 3 fixed counters
    rtm: bool = False
    sgx: bool = False
    nmi_blocked_by_sti: bool = False              # INT.NMI_STI is model-specific
    vmcs_revision: int | None = None              # IA32_VMX_BASIC[30:0], if known
    long_mode: bool = True                        # for the SVM profile (SVM.EFER.NOLM)

    def replace(self, **changes: Any) -> "Processor":
        return dataclasses.replace(self, **changes)


# GuestState fields that a record may lack (None = not known): rules that need them and apply are
# reported as not modelled.
OPTIONAL_FIELDS = ("pdptes", "rtit_ctl", "s_cet", "ssp", "isst", "pkrs", "lbr_ctl",
                   "fred_config", "uinv", "spec_ctrl", "link_header", "current_vmcs",
                   "vmxon_pointer")


@dataclass(frozen=True, slots=True)
class GuestState:
    """The VMCS guest-state area: the CPU record plus VMCS-only state and the controls."""

    cpu: CpuState
    controls: Controls = field(default_factory=Controls)
    processor: Processor = field(default_factory=Processor)
    link_pointer: int = NO_LINK
    link_header: int | None = None    # the 32 bits at the link pointer, if known
    current_vmcs: int | None = None   # the current-VMCS pointer, if known
    vmxon_pointer: int | None = None
    in_smm: bool = False
    pdptes: tuple[int, int, int, int] | None = None
    rtit_ctl: int | None = None
    s_cet: int | None = None
    ssp: int | None = None
    isst: int | None = None
    pkrs: int | None = None
    lbr_ctl: int | None = None
    fred_config: int | None = None
    uinv: int | None = None
    spec_ctrl: int | None = None
    unknown: frozenset[str] = frozenset()   # CpuState fields the source did not give

    def replace(self, **changes: Any) -> "GuestState":
        return dataclasses.replace(self, **changes)

    def missing(self) -> frozenset[str]:
        """Names of fields this record does not know (CpuState fields and optional fields)."""
        absent = {n for n in OPTIONAL_FIELDS if getattr(self, n) is None}
        return self.unknown | absent
