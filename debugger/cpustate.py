"""The CPU-state record: one plain-data definition of an x86 CPU's architectural state.

This is the single model of the CPU that every layer shares.  The machine reads it from
Unicorn and writes it back; the guest-state checker (`debugger.checks`) judges it; traces
store it; the UI renders it.  It holds everything a VMCS guest-state area holds, so a
hypervisor's view of a guest is `GuestState(cpu=CpuState(...), controls=...)` in
`debugger.checks.guest` -- a strict extension of this record, never a parallel one.

No Unicorn, no I/O: only data and pure derivations (mode, CPL, decoded fields).

Segment access rights use the VMX layout (Intel SDM Vol. 3C, "Guest Register State"):
    3:0 type, 4 S, 6:5 DPL, 7 P, 11:8 reserved, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterator

__all__ = [
    "AR_UNUSABLE", "Segment", "DescriptorTable", "Activity", "Mode", "CpuState",
    "SEGMENT_NAMES", "DATA_SEGMENTS", "GPR_NAMES",
    "CR0_PE", "CR0_NE", "CR0_WP", "CR0_PG", "CR4_PAE", "CR4_VMXE", "CR4_PCIDE",
    "EFER_SCE", "EFER_LME", "EFER_LMA", "EFER_NXE", "EFER_SVME",
    "RF_CF", "RF_TF", "RF_IF", "RF_DF", "RF_NT", "RF_RF", "RF_VM", "RF_AC",
    "INTR_STI", "INTR_MOVSS", "INTR_SMI", "INTR_NMI",
]

AR_UNUSABLE = 1 << 16

CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE = 1, 2, 4, 8, 0x10, 0x20
CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG = 1 << 16, 1 << 18, 1 << 29, 1 << 30, 1 << 31
CR4_VME, CR4_PVI, CR4_PSE, CR4_PAE, CR4_PGE = 1, 2, 0x10, 0x20, 0x80
CR4_VMXE, CR4_PCIDE, CR4_CET = 1 << 13, 1 << 17, 1 << 23
EFER_SCE, EFER_LME, EFER_LMA, EFER_NXE, EFER_SVME = 1, 1 << 8, 1 << 10, 1 << 11, 1 << 12
RF_CF, RF_PF, RF_AF, RF_ZF, RF_SF, RF_TF, RF_IF, RF_DF, RF_OF = (
    1, 4, 0x10, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800)
RF_IOPL_SHIFT = 12
RF_NT, RF_RF, RF_VM, RF_AC, RF_VIF, RF_VIP, RF_ID = (
    1 << 14, 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20, 1 << 21)
INTR_STI, INTR_MOVSS, INTR_SMI, INTR_NMI = 1, 2, 4, 8

SEGMENT_NAMES = ("es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr")
DATA_SEGMENTS = ("es", "ss", "ds", "fs", "gs")
GPR_NAMES = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


@dataclass(frozen=True, slots=True)
class Segment:
    """A segment register with its hidden descriptor cache, as VMX reports it."""

    selector: int = 0
    base: int = 0
    limit: int = 0xFFFF
    ar: int = 0x93

    # -- decoded access rights -------------------------------------------------------------
    @property
    def type(self) -> int:
        return self.ar & 0xF

    @property
    def s(self) -> int:
        return (self.ar >> 4) & 1

    @property
    def dpl(self) -> int:
        return (self.ar >> 5) & 3

    @property
    def present(self) -> int:
        return (self.ar >> 7) & 1

    @property
    def avl(self) -> int:
        return (self.ar >> 12) & 1

    @property
    def l(self) -> int:  # noqa: E743 - the architectural name
        return (self.ar >> 13) & 1

    @property
    def db(self) -> int:
        return (self.ar >> 14) & 1

    @property
    def g(self) -> int:
        return (self.ar >> 15) & 1

    @property
    def unusable(self) -> bool:
        return bool(self.ar & AR_UNUSABLE)

    @property
    def usable(self) -> bool:
        return not self.unusable

    @property
    def rpl(self) -> int:
        return self.selector & 3

    @property
    def ti(self) -> int:
        return (self.selector >> 2) & 1

    @property
    def is_code(self) -> bool:
        return bool(self.s and self.type & 8)

    def describe_ar(self) -> str:
        """Human decoding of the access rights, e.g. 'code RX acc DPL0 P D G'."""
        if self.unusable:
            return "unusable"
        t = self.type
        if self.s:
            if t & 8:
                kind = "code " + ("XR" if t & 2 else "X") + (" conf" if t & 4 else "")
            else:
                kind = "data " + ("RW" if t & 2 else "R") + (" down" if t & 4 else "")
            if t & 1:
                kind += " acc"
        else:
            kind = _SYSTEM_TYPES.get(t, f"sys{t}")
        flags = [kind, f"DPL{self.dpl}"]
        flags += [n for n, v in (("P", self.present), ("AVL", self.avl), ("L", self.l),
                                 ("D", self.db), ("G", self.g)) if v]
        return " ".join(flags)

    # -- descriptor conversion --------------------------------------------------------------
    @staticmethod
    def ar_from_descriptor_high(high: int) -> int:
        """AR (VMX layout) from the high dword of an 8-byte descriptor."""
        return (high >> 8) & 0xF0FF

    @classmethod
    def from_descriptor(cls, selector: int, raw: int) -> "Segment":
        """Decode a raw 8-byte GDT/LDT descriptor as the CPU loads it into a cache."""
        low, high = raw & 0xFFFFFFFF, raw >> 32
        base = (low >> 16) | ((high & 0xFF) << 16) | (high & 0xFF000000)
        limit = (low & 0xFFFF) | (high & 0xF0000)
        ar = cls.ar_from_descriptor_high(high)
        if ar & 0x8000:
            limit = (limit << 12) | 0xFFF
        if not ar & 0x80:
            ar |= AR_UNUSABLE
        return cls(selector, base, limit, ar)

    @classmethod
    def real(cls, selector: int, code: bool = False) -> "Segment":
        """The cache a real-mode segment load produces (base = selector * 16)."""
        return cls(selector & 0xFFFF, (selector & 0xFFFF) << 4, 0xFFFF, 0x9B if code else 0x93)

    @classmethod
    def vm86(cls, selector: int) -> "Segment":
        """The cache a virtual-8086-mode segment load produces."""
        return cls(selector & 0xFFFF, (selector & 0xFFFF) << 4, 0xFFFF, 0xF3)

    def to_dict(self) -> dict[str, int]:
        return {"selector": self.selector, "base": self.base, "limit": self.limit, "ar": self.ar}


_SYSTEM_TYPES = {
    1: "tss16 avail", 2: "ldt", 3: "tss16 busy", 4: "callgate16", 5: "taskgate",
    6: "intgate16", 7: "trapgate16", 9: "tss32 avail", 11: "tss32 busy",
    12: "callgate32", 14: "intgate32", 15: "trapgate32",
}


@dataclass(frozen=True, slots=True)
class DescriptorTable:
    """GDTR or IDTR."""

    base: int = 0
    limit: int = 0xFFFF

    def to_dict(self) -> dict[str, int]:
        return {"base": self.base, "limit": self.limit}


class Activity(enum.IntEnum):
    """VMX guest activity state (SDM encoding)."""

    ACTIVE = 0
    HLT = 1
    SHUTDOWN = 2
    WAIT_SIPI = 3


class Mode(str, enum.Enum):
    """The CPU operating mode, derived from CR0, EFLAGS, EFER and the segment caches."""

    REAL = "real"
    UNREAL = "unreal"
    PM16 = "pm16"
    PM32 = "pm32"
    VM86 = "vm86"
    COMPAT = "compat"
    LONG = "long"

    def __str__(self) -> str:
        return self.value


def _seg_default(code: bool = False) -> Any:
    return field(default_factory=lambda: Segment.real(0, code))


@dataclass(frozen=True, slots=True)
class CpuState:
    """Everything a VMCS guest-state area holds, plus the machine facts a debugger shows."""

    rax: int = 0
    rcx: int = 0
    rdx: int = 0
    rbx: int = 0
    rsp: int = 0
    rbp: int = 0
    rsi: int = 0
    rdi: int = 0
    r8: int = 0
    r9: int = 0
    r10: int = 0
    r11: int = 0
    r12: int = 0
    r13: int = 0
    r14: int = 0
    r15: int = 0
    rip: int = 0
    rflags: int = 0x2

    cr0: int = 0x10
    cr2: int = 0
    cr3: int = 0
    cr4: int = 0
    dr0: int = 0
    dr1: int = 0
    dr2: int = 0
    dr3: int = 0
    dr6: int = 0xFFFF0FF0
    dr7: int = 0x400

    es: Segment = _seg_default()
    cs: Segment = _seg_default(code=True)
    ss: Segment = _seg_default()
    ds: Segment = _seg_default()
    fs: Segment = _seg_default()
    gs: Segment = _seg_default()
    ldtr: Segment = field(default_factory=lambda: Segment(0, 0, 0xFFFF, 0x82))
    tr: Segment = field(default_factory=lambda: Segment(0, 0, 0xFFFF, 0x8B))
    gdtr: DescriptorTable = field(default_factory=DescriptorTable)
    idtr: DescriptorTable = field(default_factory=DescriptorTable)

    # MSRs that the VMCS guest-state area holds (or that mode switches use).
    efer: int = 0
    pat: int = 0x0007040600070406
    debugctl: int = 0
    sysenter_cs: int = 0
    sysenter_esp: int = 0
    sysenter_eip: int = 0
    star: int = 0
    lstar: int = 0
    cstar: int = 0
    fmask: int = 0
    kernel_gs_base: int = 0
    perf_global_ctrl: int = 0
    bndcfgs: int = 0

    # Non-register state.
    activity: Activity = Activity.ACTIVE
    interruptibility: int = 0
    pending_debug: int = 0

    # Machine facts outside the CPU proper, shown beside it.
    a20: bool = True

    # -- derived ----------------------------------------------------------------------------
    @property
    def pe(self) -> bool:
        return bool(self.cr0 & CR0_PE)

    @property
    def pg(self) -> bool:
        return bool(self.cr0 & CR0_PG)

    @property
    def vm(self) -> bool:
        return bool(self.rflags & RF_VM)

    @property
    def iopl(self) -> int:
        return (self.rflags >> RF_IOPL_SHIFT) & 3

    @property
    def lma(self) -> bool:
        return bool(self.efer & EFER_LMA)

    @property
    def mode(self) -> Mode:
        if self.lma and self.pg:
            return Mode.LONG if self.cs.l else Mode.COMPAT
        if not self.pe:
            big = any(getattr(self, n).limit > 0xFFFF for n in ("cs",) + DATA_SEGMENTS)
            return Mode.UNREAL if big else Mode.REAL
        if self.vm:
            return Mode.VM86
        return Mode.PM32 if self.cs.db else Mode.PM16

    @property
    def cpl(self) -> int:
        if not self.pe:
            return 0
        if self.vm:
            return 3
        return self.ss.dpl

    @property
    def bits(self) -> int:
        """The default operand size of the code being executed: 16, 32 or 64."""
        m = self.mode
        if m is Mode.LONG:
            return 64
        if m in (Mode.REAL, Mode.UNREAL, Mode.VM86):
            return 32 if self.cs.db and m is not Mode.VM86 else 16
        return 32 if self.cs.db else 16

    @property
    def pc(self) -> int:
        """Linear address of the next instruction (CS.base + IP)."""
        if self.mode is Mode.LONG:
            return self.rip
        return (self.cs.base + self.rip) & 0xFFFFFFFF

    @property
    def sp_linear(self) -> int:
        if self.mode is Mode.LONG:
            return self.rsp
        sp = self.rsp & (0xFFFFFFFF if self.ss.db else 0xFFFF)
        return (self.ss.base + sp) & 0xFFFFFFFF

    def segment(self, name: str) -> Segment:
        if name not in SEGMENT_NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def segments(self) -> Iterator[tuple[str, Segment]]:
        for name in SEGMENT_NAMES:
            yield name, getattr(self, name)

    def replace(self, **changes: Any) -> "CpuState":
        return dataclasses.replace(self, **changes)

    # -- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (Segment, DescriptorTable)):
                out[f.name] = v.to_dict()
            elif isinstance(v, Activity):
                out[f.name] = v.name.lower()
            else:
                out[f.name] = v
        out["mode"] = self.mode.value
        out["cpl"] = self.cpl
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CpuState":
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            v = data[f.name]
            if f.name in SEGMENT_NAMES:
                v = Segment(**v)
            elif f.name in ("gdtr", "idtr"):
                v = DescriptorTable(**v)
            elif f.name == "activity":
                v = Activity[v.upper()] if isinstance(v, str) else Activity(v)
            kwargs[f.name] = v
        return cls(**kwargs)

    def digest(self) -> str:
        """A stable hash of the architectural state (for determinism tests and traces)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()
