"""A hardware task switch: for an interrupt or exception delivered through a task gate in the IDT
(`task_gate_switch`), and for the instructions that switch tasks (`switch_tss`, from
`taskinsn.py`: IRET with NT=1, a far JMP or CALL to a TSS or through a task gate).

The steps are the SDM's (Vol. 3A §7.3, and the task-gate branches of INT n, JMP, CALL and IRET),
in the order QEMU 7.2's `switch_tss_ra` takes them with SWITCH_TSS_JMP, SWITCH_TSS_IRET or
SWITCH_TSS_CALL, so that faults come in the same order and the state after is the one
`qemu-system-i386` shows:

1. the TSS: an available 16- or 32-bit TSS in the GDT for a task gate (#GP; the instructions
   check their own way first), present (#NP), limit at least 67h / 2Bh (#TS); the new TSS is
   read;
2. the outgoing state (EIP = the return address, EFLAGS -- NT cleared by an IRET --, general
   registers, segment selectors) is saved in the current TSS in *its* format; a JMP or IRET
   clears the old TSS's busy bit; a CALL (and an event) gives the new TSS the old TR as its back
   link and sets NT in the new EFLAGS; a JMP or CALL marks the new TSS busy (an IRET returns to
   a busy one);
3. CR0.TS is set, TR loaded (its cache holds the available type, as QEMU's does; `Cpu.seg`
   reports it busy), CR3 loaded (32-bit TSS, paging on), EIP, EFLAGS and the general registers
   loaded, the segment registers and LDTR nulled and then loaded one by one with their checks
   (LDTR, CS, SS, ES, DS, FS, GS);
4. an event's error code is pushed on the new task's stack (a dword for a 32-bit TSS, a word for
   a 16-bit one), EIP checked against CS's limit, DR7's local enables cleared.

A fault in step 1 or in reading/probing memory for step 2 leaves everything as it was.  A fault
from step 3 on comes in the new task's context (`GuestFault.new_task`): the registers loaded so
far stay loaded, as on a CPU.  Where QEMU 7.2 departs from the SDM bootdbg follows the SDM (README,
"Differences from hardware"): a gate whose TSS selector points into the LDT is #GP, not #TS; a
stack segment that is not present is #SS, not #NP; a conforming CS only needs DPL <= RPL; the EIP
limit check comes after the error-code push and is #GP(EXT), not #GP(0); a 16-bit TSS loads
EFLAGS[15:0] with the upper half cleared (QEMU keeps the old upper half), and the general
registers with their upper halves FFFFh (the SDM: "modified"; Bochs: FFFFh; QEMU keeps them);
the T bit of a 32-bit TSS raises #DB (DR6.BT) before the new task's first instruction (QEMU
ignores it).  Like QEMU, the segment loads do not set the accessed bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.cpustate import AR_UNUSABLE, CR0_PG, CR0_TS, RF_NT, RF_VM, Segment
from debugger.machine.guestfault import GuestFault
from debugger.machine.memory import PageFault

if TYPE_CHECKING:
    from debugger.machine.delivery import Delivery, Frame

__all__ = ["DR6_BT", "SWITCH_CALL", "SWITCH_IRET", "SWITCH_JMP", "gate_target", "switch_tss",
           "task_gate_switch"]

DR6_BT = 1 << 15
_SEGS = ("es", "cs", "ss", "ds", "fs", "gs")          # the TSS's order
_GPRS = range(8)                                        # EAX ECX EDX EBX ESP EBP ESI EDI


class _NewTss:
    """The registers of the incoming task, read from its TSS."""

    def __init__(self, d: Delivery, base: int, is32: bool) -> None:
        rd = d._read_sys
        if is32:
            self.cr3 = rd(base + 0x1C, 4)
            self.eip = rd(base + 0x20, 4)
            self.eflags = rd(base + 0x24, 4)
            self.regs = [rd(base + 0x28 + 4 * i, 4) for i in _GPRS]
            self.segs = [rd(base + 0x48 + 4 * i, 2) for i in range(6)]
            self.ldt = rd(base + 0x60, 2)
            self.trap = rd(base + 0x64, 2) & 1
        else:
            self.cr3 = 0
            self.eip = rd(base + 0x0E, 2)
            self.eflags = rd(base + 0x10, 2)
            self.regs = [rd(base + 0x12 + 2 * i, 2) for i in _GPRS]
            self.segs = [rd(base + 0x22 + 2 * i, 2) for i in range(4)] + [0, 0]
            self.ldt = rd(base + 0x2A, 2)
            self.trap = 0


def _fault(vector: int, error_code: int) -> GuestFault:
    return GuestFault(vector, error_code)


SWITCH_JMP, SWITCH_IRET, SWITCH_CALL = 0, 1, 2


def task_gate_switch(d: Delivery, f: Frame, tss_sel: int) -> bool:
    """Switch to the task of `tss_sel` (from an IDT task gate) for event `f`, nesting (back link,
    NT).  RIP is the return address.  Returns whether the new TSS's T bit asks for a #DB."""
    ext = d._ext(f)
    sel, tss, desc_addr = gate_target(d, tss_sel, ext)
    push = f.error_code if f.error_code is not None and not f.software else None
    return switch_tss(d, sel, tss, desc_addr, SWITCH_CALL, d.cpu.rip, ext, push)


def gate_target(d: Delivery, tss_sel: int, ext: int) -> tuple[int, Segment, int]:
    """The TSS a task gate names: in the GDT (#GP), an available 16- or 32-bit TSS (#GP)."""
    err = (tss_sel & 0xFFFC) | ext
    gdtr = d.cpu.dtr("gdtr")
    index = tss_sel & ~7
    if tss_sel & 4 or index + 7 > gdtr.limit:
        raise _fault(13, err)
    desc_addr = gdtr.base + index
    tss = Segment.from_descriptor(tss_sel, d._read_sys(desc_addr, 8))
    if tss.s or tss.type not in (1, 9):
        raise _fault(13, err)                   # not a TSS, or busy
    return tss_sel, tss, desc_addr


def switch_tss(d: Delivery, tss_sel: int, tss: Segment, desc_addr: int, source: int,
               next_eip: int, ext: int, error_code: int | None = None) -> bool:
    """QEMU's `switch_tss_ra` from its presence check on, for a JMP, an IRET or a CALL (or an
    event through a task gate: CALL, `error_code` pushed).  `tss`: the TSS descriptor (at
    `desc_addr` in the GDT), checked by the caller as the instruction requires; `next_eip`: the
    outgoing task's EIP.  Returns whether the new TSS's T bit asks for a #DB."""
    cpu, mem = d.cpu, d.mem
    err = (tss_sel & 0xFFFC) | ext
    if not tss.present:
        raise _fault(11, err)
    is32 = bool(tss.type & 8)
    if tss.limit < (0x67 if is32 else 0x2B):
        raise _fault(10, err)
    new = _NewTss(d, tss.base, is32)

    # The outgoing task's state, saved in its TSS; every page written is checked first.
    old_tr = cpu.seg("tr")
    old_is32 = bool(old_tr.type & 8)
    old_desc = cpu.dtr("gdtr").base + (old_tr.selector & ~7)
    eflags = cpu.eflags & ~(RF_NT if source == SWITCH_IRET else 0)
    regs = [cpu.gpr(i) for i in _GPRS]
    sels = [cpu.seg(n).selector for n in _SEGS]
    if old_is32:
        save_at = old_tr.base + 0x20
        image = b"".join(v.to_bytes(4, "little") for v in
                         [next_eip & 0xFFFFFFFF, eflags & 0xFFFFFFFF]
                         + [r & 0xFFFFFFFF for r in regs])
        seg_writes = [(old_tr.base + 0x48 + 4 * i, s) for i, s in enumerate(sels)]
        span = (old_tr.base, old_tr.base + 0x67)
    else:
        save_at = old_tr.base + 0x0E
        image = b"".join((v & 0xFFFF).to_bytes(2, "little")
                         for v in [next_eip, eflags] + regs + [sels[i] for i in range(4)])
        seg_writes = []
        span = (old_tr.base, old_tr.base + 0x2B)
    spans = [span]
    if source != SWITCH_CALL:
        spans.append((old_desc + 5, old_desc + 5))
    else:
        spans.append((tss.base, tss.base + 1))
    if source != SWITCH_IRET:
        spans.append((desc_addr + 5, desc_addr + 5))
    for lo, hi in spans:
        for page in range(lo >> 12, (hi >> 12) + 1):
            linear = max(lo, page << 12)
            try:
                mem.translate(linear, write=True)
            except PageFault as pf:
                raise GuestFault(14, pf.error_code | 2, pf.linear) from None
    if source != SWITCH_CALL:                   # (JMP, IRET: the old task is left)
        _write(d, old_desc + 5, bytes([d._read_sys(old_desc + 5, 1) & ~2]))
    _write(d, save_at, image)
    for addr, sel in seg_writes:
        _write(d, addr, sel.to_bytes(2, "little"))
    if source == SWITCH_CALL:
        _write(d, tss.base, (old_tr.selector & 0xFFFF).to_bytes(2, "little"))   # back link
    if source != SWITCH_IRET:
        _write(d, desc_addr + 5, bytes([d._read_sys(desc_addr + 5, 1) | 2]))

    # The new task's registers: from here a fault is the new task's.
    nt = RF_NT if source == SWITCH_CALL else 0
    cpu.set_cr(0, cpu.cr(0) | CR0_TS)
    cpu.load_seg("tr", Segment(tss_sel, tss.base, tss.limit, tss.ar & ~2), update_hflags=False)
    if is32 and cpu.cr(0) & CR0_PG:
        cpu.set_cr(3, new.cr3)
    cpu.rip = new.eip
    if is32:
        cpu.eflags = new.eflags | nt
        for i in _GPRS:
            cpu.set_gpr(i, new.regs[i])
    else:
        # (the SDM: the upper halves are "modified and not maintained"; Bochs, like the CPUs
        # it was checked against, sets them to FFFFh; QEMU 7.2 keeps them)
        cpu.eflags = (new.eflags & 0xFFFF) | nt
        for i in _GPRS:
            cpu.set_gpr(i, 0xFFFF0000 | new.regs[i])
    vm86 = bool(cpu.eflags & RF_VM)
    for name, sel in zip(_SEGS, new.segs):
        cpu.load_seg(name, Segment.vm86(sel) if vm86 else Segment(sel, 0, 0, AR_UNUSABLE),
                     update_hflags=False)
    ldt = new.ldt
    cpu.load_seg("ldtr", Segment(ldt & ~4, 0, 0, AR_UNUSABLE), update_hflags=False)
    cpu.update_hflags()
    try:
        _load_ldt(d, ldt, ext)
        if not vm86:
            cpl = new.segs[1] & 3
            for name in ("cs", "ss", "es", "ds", "fs", "gs"):
                _load_seg(d, name, new.segs[_SEGS.index(name)], cpl, ext)
        if error_code is not None:
            ss = cpu.seg("ss")
            mask = 0xFFFFFFFF if ss.db else 0xFFFF
            sp = d._push(ss.base, cpu.gpr(4) & mask, mask, 4 if is32 else 2, error_code,
                         False)
            cpu.set_gpr(4, (cpu.gpr(4) & ~mask) | sp)
        if cpu.rip > cpu.seg("cs").limit:
            raise _fault(13, ext)
    except GuestFault as exc:
        exc.new_task = True             # (the new task's fault)
        raise
    finally:
        cpu.update_hflags()
    if cpu.dr(7) & 0x55:
        cpu.set_dr(7, cpu.dr(7) & ~0x55)
    return bool(new.trap)


def _write(d: Delivery, linear: int, data: bytes) -> None:
    d.mem.write_linear(linear, data)


def _load_ldt(d: Delivery, ldt: int, ext: int) -> None:
    err = (ldt & 0xFFFC) | ext
    if ldt & 4:
        raise _fault(10, err)
    if ldt & 0xFFFC == 0:
        return
    gdtr = d.cpu.dtr("gdtr")
    if (ldt & ~7) + 7 > gdtr.limit:
        raise _fault(10, err)
    seg = Segment.from_descriptor(ldt, d._read_sys(gdtr.base + (ldt & ~7), 8))
    if seg.s or seg.type != 2 or not seg.present:
        raise _fault(10, err)
    d.cpu.load_seg("ldtr", seg, update_hflags=False)


def _load_seg(d: Delivery, name: str, sel: int, cpl: int, ext: int) -> None:
    """One segment register of the new task, with the checks of a task switch."""
    err = (sel & 0xFFFC) | ext
    if sel & 0xFFFC == 0:
        if name in ("cs", "ss"):
            raise _fault(10, err)
        return                                  # (a null data selector: stays null)
    table = d.cpu.seg("ldtr") if sel & 4 else None
    if table is not None and table.unusable:
        raise _fault(10, err)
    base, limit = (table.base, table.limit) if table is not None else \
        (d.cpu.dtr("gdtr").base, d.cpu.dtr("gdtr").limit)
    if (sel & ~7) + 7 > limit:
        raise _fault(10, err)
    seg = Segment.from_descriptor(sel, d._read_sys(base + (sel & ~7), 8))
    rpl = sel & 3
    if not seg.s:
        raise _fault(10, err)
    if name == "cs":
        if not seg.is_code:
            raise _fault(10, err)
        if (seg.dpl > rpl) if seg.type & 4 else (seg.dpl != rpl):
            raise _fault(10, err)
        if not seg.present:
            raise _fault(11, err)
    elif name == "ss":
        if seg.is_code or not seg.type & 2 or seg.dpl != cpl or rpl != cpl:
            raise _fault(10, err)
        if not seg.present:
            raise _fault(12, err)
    else:
        if seg.is_code and not seg.type & 2:
            raise _fault(10, err)               # execute-only code
        if not (seg.is_code and seg.type & 4) and (seg.dpl < cpl or seg.dpl < rpl):
            raise _fault(10, err)
        if not seg.present:
            raise _fault(11, err)
    d.cpu.load_seg(name, seg, update_hflags=False)
