"""Interrupt and exception delivery through the guest's own IVT/IDT, as the CPU does it.

Unicorn reports an `INT n`, a fault or a trap and then carries on as if nothing happened; it never
vectors (unicorn-notes.md §1).  This module does what the processor would do at that point, in
plain Python over the guest's tables (never by calling QEMU's unexported delivery routine: a fault
inside it longjmps across the interpreter):

- real mode: IVT at IDTR.base, push FLAGS/CS/IP, clear IF/TF/AC;
- protected mode: 16/32-bit interrupt and trap gates, privilege change through the TSS
  (SS0:ESP0..SS2:ESP2), error codes, from virtual-8086 mode to ring 0 (GS/FS/DS/ES pushed, then
  nulled; VM cleared); task gates: a nesting task switch (`taskswitch.py`);
- long mode: 16-byte gates, IST stacks, 16-byte stack alignment, SS nulled on a privilege change.

A fault *during* delivery raises `GuestFault`; the machine applies the double-fault rules
(`DoubleFaultPolicy`) and stops with a triple fault when they say so.

Not modelled: segment-limit checks on the stack pushes (QEMU TCG does not check data limits
either), and the accessed bit written back to descriptors.
"""
from __future__ import annotations

from dataclasses import dataclass

from debugger.cpustate import (
    AR_UNUSABLE, CR0_PE, EFER_LMA, RF_AC, RF_IF, RF_NT, RF_RF, RF_TF, RF_VM, Segment,
)
from debugger.machine.cpu import Cpu
from debugger.machine.guestfault import VECTOR_NAMES, GuestFault
from debugger.machine.memory import Memory, PageFault
from debugger.machine.taskswitch import task_gate_switch

__all__ = ["GuestFault", "Unsupported", "Delivery", "ERROR_CODE_VECTORS", "is_contributory",
           "promotes_to_double_fault", "VECTOR_NAMES"]

ERROR_CODE_VECTORS = frozenset({8, 10, 11, 12, 13, 14, 17, 21})
CONTRIBUTORY = frozenset({0, 10, 11, 12, 13})


class Unsupported(Exception):
    """The guest asked for something bootdbg does not implement."""


def is_contributory(vector: int) -> bool:
    return vector in CONTRIBUTORY


def promotes_to_double_fault(first: int, second: int) -> bool:
    """SDM Table 6-5: which exception pairs become #DF."""
    if first in CONTRIBUTORY:
        return second in CONTRIBUTORY
    if first == 14:
        return second in CONTRIBUTORY or second == 14
    return False


@dataclass
class Frame:
    """Where an event returns to and how it was raised."""

    vector: int
    software: bool              # INT n / INT3 / INTO (DPL check applies, no error code)
    error_code: int | None
    external: bool = False      # hardware interrupt or an event during delivery of one (EXT bit)


class Delivery:
    def __init__(self, cpu: Cpu, mem: Memory) -> None:
        self.cpu = cpu
        self.mem = mem
        # A task switch loaded a TSS whose T bit is set: the machine raises #DB next.
        self.task_trap = False

    # -- entry point -----------------------------------------------------------------------------
    def deliver(self, vector: int, *, software: bool = False, error_code: int | None = None,
                external: bool = False) -> None:
        """Vector to the handler.  RIP must already be the return address."""
        frame = Frame(vector, software, error_code, external)
        self.task_trap = False
        cpu = self.cpu
        if cpu.efer & EFER_LMA and cpu.cr(0) & (1 << 31):
            self._deliver_long(frame)
        elif cpu.cr(0) & CR0_PE:
            self._deliver_protected(frame)
        else:
            self._deliver_real(frame)

    # -- helpers ---------------------------------------------------------------------------------
    def _ext(self, f: Frame) -> int:
        return 1 if f.external else 0

    def _descriptor(self, selector: int, f: Frame) -> int:
        """Read the GDT/LDT descriptor for `selector`; #GP(selector) if outside the table."""
        cpu = self.cpu
        index = selector & ~7
        if selector & 4:
            ldtr = cpu.seg("ldtr")
            if ldtr.unusable or index + 7 > ldtr.limit:
                raise GuestFault(13, (selector & 0xFFFC) | self._ext(f))
            base = ldtr.base
        else:
            gdtr = cpu.dtr("gdtr")
            if index + 7 > gdtr.limit:
                raise GuestFault(13, (selector & 0xFFFC) | self._ext(f))
            base = gdtr.base
        return self._read_sys(base + index, 8)

    def _read_sys(self, linear: int, size: int) -> int:
        try:
            return self.mem.read_linear_u(linear, size)
        except PageFault as pf:
            raise GuestFault(14, pf.error_code, pf.linear) from None

    def _push(self, sp_base: int, sp: int, sp_mask: int, size: int, value: int,
              user: bool) -> int:
        sp = (sp - size) & sp_mask
        try:
            self.mem.write_linear((sp_base + sp) & 0xFFFFFFFFFFFFFFFF,
                                  (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"),
                                  user=user, guest=True)
        except PageFault as pf:
            raise GuestFault(14, pf.error_code | 2, pf.linear) from None
        return sp

    # -- real mode -------------------------------------------------------------------------------
    def _deliver_real(self, f: Frame) -> None:
        cpu = self.cpu
        idtr = cpu.dtr("idtr")
        if f.vector * 4 + 3 > idtr.limit:
            raise GuestFault(13, f.vector * 8 + 2)
        entry = self._read_sys(idtr.base + f.vector * 4, 4)
        ss = cpu.seg("ss")
        mask = 0xFFFFFFFF if ss.db else 0xFFFF
        sp = cpu.gpr(4) & mask
        cs = cpu.seg("cs")
        flags = cpu.eflags
        for value in (flags, cs.selector, cpu.rip):
            sp = self._push(ss.base, sp, mask, 2, value, False)
        cpu.set_gpr(4, (cpu.gpr(4) & ~mask) | sp)
        sel = entry >> 16
        # Real mode loads only selector and base; limit and attributes stay as they were.
        cpu.load_seg("cs", Segment(sel, sel << 4, cs.limit, cs.ar & ~AR_UNUSABLE))
        cpu.rip = entry & 0xFFFF
        cpu.eflags = flags & ~(RF_IF | RF_TF | RF_AC | RF_RF)

    # -- protected mode --------------------------------------------------------------------------
    def _gate(self, f: Frame, size: int) -> tuple[int, int]:
        idtr = self.cpu.dtr("idtr")
        err = f.vector * 8 + 2 + self._ext(f)     # (the vector, not the gate's offset)
        if f.vector * size + size - 1 > idtr.limit:
            raise GuestFault(13, err)
        lo = self._read_sys(idtr.base + f.vector * size, 8)
        hi = self._read_sys(idtr.base + f.vector * size + 8, 8) if size == 16 else 0
        return lo, hi

    def _target_cs(self, f: Frame, selector: int, cpl: int) -> Segment:
        if selector & 0xFFFC == 0:
            raise GuestFault(13, self._ext(f))
        cs = Segment.from_descriptor(selector, self._descriptor(selector, f))
        if not cs.is_code or cs.dpl > cpl:
            raise GuestFault(13, (selector & 0xFFFC) | self._ext(f))
        if not cs.present:
            raise GuestFault(11, (selector & 0xFFFC) | self._ext(f))
        return cs

    def _deliver_protected(self, f: Frame) -> None:
        cpu = self.cpu
        lo, _ = self._gate(f, 8)
        gate_type = (lo >> 40) & 0x1F
        gate_dpl = (lo >> 45) & 3
        gate_p = (lo >> 47) & 1
        eflags = cpu.eflags
        vm86 = bool(eflags & RF_VM)
        cpl = 3 if vm86 else cpu.seg("ss").dpl
        if gate_type not in (0x05, 0x06, 0x07, 0x0E, 0x0F):
            raise GuestFault(13, f.vector * 8 + 2 + self._ext(f))
        if f.software and gate_dpl < cpl:
            raise GuestFault(13, f.vector * 8 + 2)
        if not gate_p:
            raise GuestFault(11, f.vector * 8 + 2 + self._ext(f))
        if gate_type == 0x05:
            self.task_trap = task_gate_switch(self, f, (lo >> 16) & 0xFFFF)
            return
        is32 = bool(gate_type & 8)
        offset = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF0000) if is32 else lo & 0xFFFF
        selector = (lo >> 16) & 0xFFFF
        new_cs = self._target_cs(f, selector, cpl)
        conforming = bool(new_cs.type & 4)
        new_cpl = cpl if conforming else new_cs.dpl
        old_ss, old_cs = cpu.seg("ss"), cpu.seg("cs")
        old_esp = cpu.gpr(4)
        if new_cpl < cpl:
            if vm86 and new_cpl != 0:
                raise GuestFault(13, selector & 0xFFFC)
            ss_sel, esp = self._tss_stack(new_cpl, f)
            ss = Segment.from_descriptor(ss_sel, self._descriptor(ss_sel, f))
            if (ss_sel & 3) != new_cpl or ss.dpl != new_cpl or ss.is_code or not ss.s \
                    or not ss.type & 2:
                raise GuestFault(10, (ss_sel & 0xFFFC) | self._ext(f))
            if not ss.present:
                raise GuestFault(12, (ss_sel & 0xFFFC) | self._ext(f))
            mask = 0xFFFFFFFF if ss.db else 0xFFFF
            sp = esp & mask
            size = 4 if is32 else 2
            user = new_cpl == 3
            if vm86:
                for name in ("gs", "fs", "ds", "es"):
                    sp = self._push(ss.base, sp, mask, size, cpu.seg(name).selector, user)
            sp = self._push(ss.base, sp, mask, size, old_ss.selector, user)
            sp = self._push(ss.base, sp, mask, size, old_esp, user)
            stack_seg = Segment(ss_sel, ss.base, ss.limit, ss.ar)
        else:
            if vm86:
                raise GuestFault(13, selector & 0xFFFC)
            stack_seg = old_ss
            mask = 0xFFFFFFFF if old_ss.db else 0xFFFF
            sp = old_esp & mask
            size = 4 if is32 else 2
            user = new_cpl == 3
            esp = old_esp
        sp = self._push(stack_seg.base, sp, mask, size, eflags, user)
        sp = self._push(stack_seg.base, sp, mask, size, old_cs.selector, user)
        sp = self._push(stack_seg.base, sp, mask, size, cpu.rip, user)
        if f.error_code is not None and not f.software:
            sp = self._push(stack_seg.base, sp, mask, size, f.error_code, user)
        # Commit: nothing below can fault.
        if stack_seg is not old_ss:
            cpu.load_seg("ss", stack_seg, update_hflags=False)
            cpu.set_gpr(4, (esp & ~mask) | sp)
        else:
            cpu.set_gpr(4, (old_esp & ~mask) | sp)
        if vm86:
            for name in ("es", "ds", "fs", "gs"):
                cpu.load_seg(name, Segment(0, 0, 0, AR_UNUSABLE), update_hflags=False)
        cpu.load_seg("cs", Segment((selector & 0xFFFC) | new_cpl, new_cs.base, new_cs.limit,
                                   new_cs.ar), update_hflags=False)
        cpu.rip = offset
        new_flags = eflags & ~(RF_TF | RF_NT | RF_RF | RF_VM)
        if not gate_type & 1:
            new_flags &= ~RF_IF
        cpu.eflags = new_flags
        cpu.update_hflags()

    def _tss_stack(self, dpl: int, f: Frame) -> tuple[int, int]:
        tr = self.cpu.seg("tr")
        if tr.unusable:
            raise GuestFault(10, self._ext(f))
        if tr.type & 8:   # 32-bit TSS
            off = 4 + 8 * dpl
            if off + 5 > tr.limit:
                raise GuestFault(10, (tr.selector & 0xFFFC) | self._ext(f))
            esp = self._read_sys(tr.base + off, 4)
            ss = self._read_sys(tr.base + off + 4, 2)
        else:
            off = 2 + 4 * dpl
            if off + 3 > tr.limit:
                raise GuestFault(10, (tr.selector & 0xFFFC) | self._ext(f))
            esp = self._read_sys(tr.base + off, 2)
            ss = self._read_sys(tr.base + off + 2, 2)
        if ss & 0xFFFC == 0:
            raise GuestFault(10, self._ext(f))
        return ss, esp

    # -- long mode -------------------------------------------------------------------------------
    def _deliver_long(self, f: Frame) -> None:
        cpu = self.cpu
        lo, hi = self._gate(f, 16)
        gate_type = (lo >> 40) & 0x1F
        gate_dpl = (lo >> 45) & 3
        cpl = cpu.seg("ss").dpl
        if gate_type not in (0x0E, 0x0F):
            raise GuestFault(13, f.vector * 8 + 2 + self._ext(f))
        if f.software and gate_dpl < cpl:
            raise GuestFault(13, f.vector * 8 + 2)
        if not (lo >> 47) & 1:
            raise GuestFault(11, f.vector * 8 + 2 + self._ext(f))
        offset = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF0000) | ((hi & 0xFFFFFFFF) << 32)
        selector = (lo >> 16) & 0xFFFF
        ist = (lo >> 32) & 7
        new_cs = self._target_cs(f, selector, cpl)
        if not new_cs.l or new_cs.db:
            raise GuestFault(13, (selector & 0xFFFC) | self._ext(f))
        new_cpl = cpl if new_cs.type & 4 else new_cs.dpl
        old_ss, old_cs, old_rsp = cpu.seg("ss"), cpu.seg("cs"), cpu.gpr(4)
        if ist or new_cpl < cpl:
            tr = cpu.seg("tr")
            off = 0x24 + 8 * (ist - 1) if ist else 4 + 8 * new_cpl
            if tr.unusable or off + 7 > tr.limit:
                raise GuestFault(10, (tr.selector & 0xFFFC) | self._ext(f))
            rsp = self._read_sys(tr.base + off, 8)
        else:
            rsp = old_rsp
        rsp &= ~0xF
        m = 0xFFFFFFFFFFFFFFFF
        user = new_cpl == 3
        values = [old_ss.selector, old_rsp, cpu.eflags, old_cs.selector, cpu.rip]
        if f.error_code is not None and not f.software:
            values.append(f.error_code)
        for v in values:
            rsp = self._push(0, rsp, m, 8, v, user)
        if new_cpl < cpl:
            cpu.load_seg("ss", Segment(new_cpl, 0, 0, AR_UNUSABLE | (new_cpl << 5)),
                         update_hflags=False)
        cpu.set_gpr(4, rsp)
        cpu.load_seg("cs", Segment((selector & 0xFFFC) | new_cpl, new_cs.base, new_cs.limit,
                                   new_cs.ar), update_hflags=False)
        cpu.rip = offset
        flags = cpu.eflags & ~(RF_TF | RF_NT | RF_RF | RF_VM)
        if not gate_type & 1:
            flags &= ~RF_IF
        cpu.eflags = flags
        cpu.update_hflags()
