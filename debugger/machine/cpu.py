"""The CPU wrapper: reads the complete architectural state out of Unicorn and writes it back.

All access goes through the engine's live CPUX86State (`uc_layout`), and only while the engine is
at rest (between `emu_start` calls): then `eflags` in the state is complete (QEMU folds the lazy
condition codes back on exit) and a write takes effect on the next start, exactly like a
`context_restore`.

QEMU keeps derived mode bits in `hflags` (CPL, CS32, SS32, ADDSEG, PE, LMA, CS64, ...); every
write here recomputes them the way QEMU's own segment-load and CR0 helpers do, so a patched state
runs as the CPU would run it.

Normalisations (the record shows what hardware reports, not QEMU's shortcuts):
- TR: QEMU's cache keeps the *available* TSS type after LTR; hardware reports busy (type 3/11).
- A segment whose cache is not present is reported unusable (AR bit 16), as KVM reports it.
- Interruptibility: QEMU has one "inhibit" flag for both STI and MOV-SS blocking.  We report STI
  blocking when IF=1 (STI can only leave IF=1) and MOV-SS blocking when IF=0.
"""
from __future__ import annotations

import ctypes
import dataclasses
import struct

from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH

from debugger.cpustate import (
    AR_UNUSABLE, CR0_PE, EFER_LMA, INTR_MOVSS, INTR_STI, RF_IF, RF_VM, Activity, CpuState,
    DescriptorTable, Segment,
)
from debugger.machine import uc_layout as L

__all__ = ["Cpu"]

HF_CPL_MASK = 3
HF_INHIBIT_IRQ = 1 << 3
HF_CS32 = 1 << 4
HF_SS32 = 1 << 5
HF_ADDSEG = 1 << 6
HF_PE = 1 << 7
HF_MP_SHIFT = 9
HF_LMA = 1 << 14
HF_CS64 = 1 << 15
HF_OSFXSR = 1 << 22
HF_SMAP = 1 << 23
_HF_DERIVED = (HF_CPL_MASK | HF_CS32 | HF_SS32 | HF_ADDSEG | HF_PE | (7 << HF_MP_SHIFT) | HF_LMA
               | HF_CS64 | HF_OSFXSR | HF_SMAP)

_SEG_STRUCT = struct.Struct("<I4xQII")   # selector, base, limit, flags
_SEG_OFF = {name: L.OFF_SEGS + 24 * i for i, name in enumerate(L.SEG_ORDER)}
_SEG_OFF["ldtr"] = L.OFF_LDT
_SEG_OFF["tr"] = L.OFF_TR
_HEAD_REGS = struct.Struct("<16Q")
_HEAD_RIPFL = struct.Struct("<QQ")
_CRS = struct.Struct("<9Q")
_MSRS = struct.Struct("<9Q")       # sysenter cs/esp/eip, star, (pad), lstar, cstar, fmask, kgsbase
_DRS = struct.Struct("<8Q")
_SEG_NAMES8 = ("es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr")
_RAW_SIZE = max(600, L.OFF_SYSENTER_CS + 72, L.OFF_DR + 64, L.OFF_PAT + 8)
_GPR = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


def seg_from_cache(selector: int, base: int, limit: int, flags: int, name: str) -> Segment:
    ar = (flags >> 8) & 0xF0FF
    if name == "tr" and ar & 0x1F in (0x01, 0x09):
        ar |= 0x2                      # hardware reports a busy TSS after LTR
    if not ar & 0x80:
        ar |= AR_UNUSABLE
    return Segment(selector & 0xFFFF, base, limit & 0xFFFFFFFF, ar)


def cache_flags(seg: Segment) -> int:
    ar = seg.ar & 0xF0FF
    if seg.unusable:
        ar &= ~0x80
    return (ar << 8) | ((seg.base >> 16) & 0xFF) | (seg.base & 0xFF000000)


class Cpu:
    """Architectural state access for one engine.  `activity` is kept by the machine."""

    def __init__(self, eng: L.Engine) -> None:
        self.eng = eng
        self.uc = eng.uc
        self.activity = Activity.ACTIVE
        # Live views of the fields read on every step (the env does not move).
        self._rip = ctypes.c_uint64.from_address(eng.env + L.OFF_EIP)
        self._cs_base = ctypes.c_uint64.from_address(eng.env + _SEG_OFF["cs"] + 8)
        self._cs_sel = ctypes.c_uint32.from_address(eng.env + _SEG_OFF["cs"])
        self._hflags = ctypes.c_uint32.from_address(eng.env + L.OFF_HFLAGS)
        # (and of the ones read on every stop and memory access: an index into a live array
        # costs a tenth of a from_address)
        self._regs = (ctypes.c_uint64 * 16).from_address(eng.env + L.OFF_REGS)
        self._eflags = ctypes.c_uint64.from_address(eng.env + L.OFF_EFLAGS)
        self._crs = (ctypes.c_uint64 * 9).from_address(eng.env + L.OFF_CR)
        self._efer = ctypes.c_uint64.from_address(eng.env + L.OFF_EFER)
        self._a20 = ctypes.c_int32.from_address(eng.env + L.OFF_A20)
        self._old_exception = ctypes.c_int32.from_address(eng.env + L.OFF_OLD_EXCEPTION)
        self._decoded: tuple[tuple[bytes, Activity], CpuState] | None = None

    # -- general registers ---------------------------------------------------------------------
    def gpr(self, index: int) -> int:
        return self._regs[index]

    def set_gpr(self, index: int, value: int) -> None:
        self.eng.set_u64(L.OFF_REGS + 8 * index, value)

    @property
    def rip(self) -> int:
        return self._rip.value

    @rip.setter
    def rip(self, value: int) -> None:
        self.eng.set_u64(L.OFF_EIP, value)

    @property
    def eflags(self) -> int:
        return self._eflags.value

    @eflags.setter
    def eflags(self, value: int) -> None:
        self.eng.set_u64(L.OFF_EFLAGS, (value | 2) & 0x3F7FD7)

    def cr(self, n: int) -> int:
        return self._crs[n]

    def set_cr(self, n: int, value: int) -> None:
        """Write CRn as the CPU's own loads do (CR0 and CR4: hflags; CR3: the TLB flushed)."""
        self.eng.set_u64(L.OFF_CR + 8 * n, value)
        if n == 3:
            self.flush_tlb()
        else:
            self.update_hflags()

    def dr(self, n: int) -> int:
        return self.eng.u64(L.OFF_DR + 8 * n)

    def set_dr(self, n: int, value: int) -> None:
        self.eng.set_u64(L.OFF_DR + 8 * n, value)

    @property
    def efer(self) -> int:
        return self._efer.value

    def paging_regs(self) -> tuple[int, int, int, int]:
        """(CR0, CR3, CR4, EFER): what a page walk needs."""
        crs = self._crs
        return crs[0], crs[3], crs[4], self._efer.value

    @property
    def hflags(self) -> int:
        return self.eng.u32(L.OFF_HFLAGS)

    def linear_pc(self) -> int:
        """CS.base + EIP (RIP in 64-bit code): where the next instruction is fetched."""
        if self._hflags.value & HF_CS64:
            return self._rip.value
        return (self._cs_base.value + self._rip.value) & 0xFFFFFFFF

    def where(self) -> tuple[int, int, int, int]:
        """(CS selector, RIP, linear PC, code size in bits), cheaply."""
        hf = self._hflags.value
        rip = self._rip.value
        if hf & HF_CS64:
            return self._cs_sel.value & 0xFFFF, rip, rip, 64
        return (self._cs_sel.value & 0xFFFF, rip, (self._cs_base.value + rip) & 0xFFFFFFFF,
                32 if hf & HF_CS32 else 16)

    # -- segments ------------------------------------------------------------------------------
    def seg(self, name: str) -> Segment:
        sel, base, limit, flags = _SEG_STRUCT.unpack(self.eng.read(_SEG_OFF[name], 24))
        return seg_from_cache(sel, base, limit, flags, name)

    def seg_raw(self, name: str) -> tuple[int, int, int, int]:
        return _SEG_STRUCT.unpack(self.eng.read(_SEG_OFF[name], 24))

    def load_seg(self, name: str, seg: Segment, *, update_hflags: bool = True) -> None:
        """Load a segment cache (selector, base, limit, access rights) as the CPU would."""
        base = seg.base if name in ("fs", "gs", "ldtr", "tr") else seg.base & 0xFFFFFFFF
        self.eng.write(_SEG_OFF[name],
                       _SEG_STRUCT.pack(seg.selector & 0xFFFF, base, seg.limit & 0xFFFFFFFF,
                                        cache_flags(seg)))
        if update_hflags:
            self.update_hflags()

    def dtr(self, which: str) -> DescriptorTable:
        off = L.OFF_GDT if which == "gdtr" else L.OFF_IDT
        _, base, limit, _ = _SEG_STRUCT.unpack(self.eng.read(off, 24))
        return DescriptorTable(base, limit)

    def set_dtr(self, which: str, dt: DescriptorTable) -> None:
        off = L.OFF_GDT if which == "gdtr" else L.OFF_IDT
        self.eng.write(off, _SEG_STRUCT.pack(0, dt.base, dt.limit, 0))

    # -- hflags --------------------------------------------------------------------------------
    def update_hflags(self) -> None:
        """Recompute QEMU's derived mode bits from CR0/CR4/EFER/EFLAGS and the CS/SS caches."""
        eng = self.eng
        cr0, cr4, efer = self.cr(0), self.cr(4), self.efer
        eflags = self.eflags
        cs_flags = self.seg_raw("cs")[3]
        ss_flags = self.seg_raw("ss")[3]
        hf = eng.u32(L.OFF_HFLAGS) & ~_HF_DERIVED
        if cr0 & CR0_PE:
            hf |= HF_PE
        hf |= ((cr0 >> 1) & 7) << HF_MP_SHIFT
        if cr4 & (1 << 9):
            hf |= HF_OSFXSR
        if cr4 & (1 << 21):
            hf |= HF_SMAP
        lma = bool(efer & EFER_LMA)
        if lma:
            hf |= HF_LMA
        if lma and cs_flags & (1 << 21):
            hf |= HF_CS32 | HF_SS32 | HF_CS64
        else:
            if cs_flags & (1 << 22):
                hf |= HF_CS32
            if ss_flags & (1 << 22):
                hf |= HF_SS32
        if eflags & RF_VM:
            hf |= 3
        elif cr0 & CR0_PE:
            hf |= (ss_flags >> 13) & 3
        if not hf & HF_CS64:
            if not cr0 & CR0_PE or eflags & RF_VM or not hf & HF_CS32:
                hf |= HF_ADDSEG
            else:
                bases = sum(self.seg_raw(n)[1] for n in ("ds", "es", "ss"))
                if bases:
                    hf |= HF_ADDSEG
        eng.set_u32(L.OFF_HFLAGS, hf)

    @property
    def inhibit_irq(self) -> bool:
        return bool(self.hflags & HF_INHIBIT_IRQ)

    def set_inhibit_irq(self, on: bool) -> None:
        hf = self.hflags
        self.eng.set_u32(L.OFF_HFLAGS, (hf | HF_INHIBIT_IRQ) if on else (hf & ~HF_INHIBIT_IRQ))

    # -- A20 and fault bookkeeping -------------------------------------------------------------
    @property
    def a20(self) -> bool:
        return self._a20.value == -1

    def set_a20(self, enabled: bool) -> None:
        self.eng.set_i32(L.OFF_A20, -1 if enabled else ~(1 << 20))
        self.flush_tlb()

    @property
    def error_code(self) -> int:
        return self.eng.u32(L.OFF_ERROR_CODE)

    def reset_fault_counter(self) -> None:
        """Unicorn never resets QEMU's nested-fault tracker; we implement #DF ourselves."""
        self._old_exception.value = -1

    def flush_tlb(self) -> None:
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    # -- whole state ---------------------------------------------------------------------------
    def raw_state(self) -> tuple[bytes, Activity]:
        """Everything `read_state` needs, copied in one read (decode later with `decode_state`)."""
        return self.eng.read(0, _RAW_SIZE), self.activity

    def read_state(self) -> CpuState:
        # The record is a pure function of the raw copy: the same bytes give the same (frozen)
        # record, decoded once (a stop, the next continue's baseline and the checker's verdict
        # cache all ask for the state of an unchanged CPU).
        raw = self.raw_state()
        last = self._decoded
        if last is not None and last[0] == raw:
            return last[1]
        st = decode_state(raw)
        self._decoded = (raw, st)
        return st


    def write_state(self, st: CpuState) -> None:
        """Make the CPU be in state `st` (every field of the record)."""
        eng = self.eng
        eng.write(L.OFF_REGS, struct.pack("<16Q", *(getattr(st, n) & (2**64 - 1) for n in _GPR)))
        self.rip = st.rip
        self.eflags = st.rflags
        for n, v in ((0, st.cr0), (2, st.cr2), (3, st.cr3), (4, st.cr4)):
            eng.set_u64(L.OFF_CR + 8 * n, v)
        for n, v in ((0, st.dr0), (1, st.dr1), (2, st.dr2), (3, st.dr3), (6, st.dr6), (7, st.dr7)):
            eng.set_u64(L.OFF_DR + 8 * n, v)
        eng.set_u64(L.OFF_EFER, st.efer)
        for name in _SEG_OFF:
            self.load_seg(name, getattr(st, name), update_hflags=False)
        self.set_dtr("gdtr", st.gdtr)
        self.set_dtr("idtr", st.idtr)
        eng.write(L.OFF_SYSENTER_CS, struct.pack("<3Q", st.sysenter_cs, st.sysenter_esp,
                                                 st.sysenter_eip))
        eng.set_u64(L.OFF_STAR, st.star)
        for off, v in ((16, st.lstar), (24, st.cstar), (32, st.fmask), (40, st.kernel_gs_base)):
            eng.set_u64(L.OFF_STAR + off, v)
        eng.set_u64(L.OFF_PAT, st.pat)
        self.activity = st.activity
        self.set_inhibit_irq(bool(st.interruptibility & (INTR_STI | INTR_MOVSS)))
        eng.set_i32(L.OFF_A20, -1 if st.a20 else ~(1 << 20))
        self.update_hflags()
        self.flush_tlb()


# decode_state builds the record without its generated __init__ (a frozen dataclass's sets each
# of its ~60 fields through object.__setattr__ after matching keywords: 7 us of the 20 a stop's
# decode took): a bare instance, every slot set by its own descriptor, in field order -- the
# same record (`tests/machine/test_cpu_decode.py` compares it with the constructor's).
_FIELDS = tuple(f.name for f in dataclasses.fields(CpuState))
_DEFAULTS = {f.name: (f.default_factory() if f.default is dataclasses.MISSING else f.default)
             for f in dataclasses.fields(CpuState)}
_SLOT_SET = tuple(getattr(CpuState, n).__set__ for n in _FIELDS)
# (the order decode_state lists the values in; checked against the record's at import)
_ORDER = _GPR + ("rip", "rflags", "cr0", "cr2", "cr3", "cr4", "dr0", "dr1", "dr2", "dr3", "dr6",
                 "dr7") + _SEG_NAMES8 + (
    "gdtr", "idtr", "efer", "pat", "debugctl", "sysenter_cs", "sysenter_esp", "sysenter_eip",
    "star", "lstar", "cstar", "fmask", "kernel_gs_base", "perf_global_ctrl", "bndcfgs",
    "activity", "interruptibility", "pending_debug", "a20")
if _ORDER != _FIELDS:       # pragma: no cover (CpuState changed: decode_state must follow)
    raise ImportError("decode_state's field order is not CpuState's")
_new = object.__new__
_HEAD = struct.Struct("<18Q")           # the GPRs, RIP and EFLAGS (contiguous: checked below)
_INT = struct.Struct("<i")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_NOT_READ = (_DEFAULTS["debugctl"], _DEFAULTS["perf_global_ctrl"], _DEFAULTS["bndcfgs"],
             _DEFAULTS["pending_debug"])
if L.OFF_EIP != L.OFF_REGS + 128 or L.OFF_EFLAGS != L.OFF_EIP + 8:   # pragma: no cover
    raise ImportError("the GPRs, EIP and EFLAGS are not contiguous in this layout")
# A segment cache's 24 bytes -> its Segment (immutable), one table per register (TR is
# normalised differently); few distinct values occur, a table is dropped when it grows large.
_SEG_TABLES: tuple[tuple[str, int, dict[bytes, Segment]], ...] = tuple(
    (name, _SEG_OFF[name], {}) for name in _SEG_NAMES8)
_DT_TABLES: tuple[tuple[int, dict[bytes, DescriptorTable]], ...] = (
    (L.OFF_GDT, {}), (L.OFF_IDT, {}))
_TABLE_MAX = 512


def build_state(values: list[object]) -> CpuState:
    """`CpuState(*values)` with every field given, in order, made faster."""
    st = _new(CpuState)
    for put, v in zip(_SLOT_SET, values):
        put(st, v)
    return st


def decode_state(raw: tuple[bytes, Activity]) -> CpuState:
    """The CpuState of a `raw_state()` copy."""
    head, activity = raw
    v = list(_HEAD.unpack_from(head, L.OFF_REGS))
    rflags = v[17]
    crs = _CRS.unpack_from(head, L.OFF_CR)
    drs = _DRS.unpack_from(head, L.OFF_DR)
    v += (crs[0], crs[2], crs[3], crs[4], drs[0], drs[1], drs[2], drs[3], drs[6], drs[7])
    for name, off, table in _SEG_TABLES:
        key = head[off:off + 24]
        seg = table.get(key)
        if seg is None:
            if len(table) >= _TABLE_MAX:
                table.clear()
            sel, base, limit, flags = _SEG_STRUCT.unpack(key)
            seg = table[key] = seg_from_cache(sel, base, limit, flags, name)
        v.append(seg)
    for off, table in _DT_TABLES:
        key = head[off:off + 24]
        dt = table.get(key)
        if dt is None:
            if len(table) >= _TABLE_MAX:
                table.clear()
            _, base, limit, _ = _SEG_STRUCT.unpack(key)
            dt = table[key] = DescriptorTable(base, limit)
        v.append(dt)
    msrs = _MSRS.unpack_from(head, L.OFF_SYSENTER_CS)
    debugctl, perf, bnd, pending = _NOT_READ
    hflags = _U32.unpack_from(head, L.OFF_HFLAGS)[0]
    intr = 0
    if hflags & HF_INHIBIT_IRQ:
        intr = INTR_STI if rflags & RF_IF else INTR_MOVSS
    v += (_U64.unpack_from(head, L.OFF_EFER)[0], _U64.unpack_from(head, L.OFF_PAT)[0], debugctl,
          msrs[0], msrs[1], msrs[2], msrs[3], msrs[5], msrs[6], msrs[7], msrs[8], perf, bnd,
          activity, intr, pending, _INT.unpack_from(head, L.OFF_A20)[0] == -1)
    return build_state(v)
