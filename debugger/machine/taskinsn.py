"""Task switches by instruction: IRET with EFLAGS.NT=1, and a far JMP or CALL to a TSS or
through a task gate in the GDT/LDT, done here instead of by Unicorn.

Unicorn's switch (QEMU 5's `switch_tss`) is wrong when a 16-bit TSS is on either side: it
stores the outgoing task in the format of the incoming TSS and 16-bit selectors 4 bytes apart.
So the block hook (`_blockcount.c`, or `exactfix.special` without it) stops before a
translation block whose last instruction (each of these ends its block) may switch tasks:
IRET while NT=1, a `JMP/CALL ptr16:16/32` whose selector names a TSS or task gate or that
follows an instruction which may change that descriptor (`storescan`), any
`JMP/CALL FAR [mem]` (outside vm86 and long mode).  `exactfix.prepare` runs the instructions
before it; at the instruction, `switches` decides (reading the far pointer), and the machine
then runs it as one instruction (`execute`): the checks of QEMU 7.2's `helper_ljmp_protected`,
`helper_lcall_protected` and `helper_iret_protected`, then `taskswitch.switch_tss`.

Where QEMU 7.2 departs from the SDM, this follows the SDM: a JMP or CALL to a TSS selector
with TI=1 is #GP (QEMU: #TS, after the presence check).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from debugger.cpustate import CR0_PE, EFER_LMA, RF_NT, RF_TF, RF_VM, Segment
from debugger.machine import uc_layout as L
from debugger.machine.guestfault import GuestFault
from debugger.machine.memory import PageFault
from debugger.machine.storescan import last_insn, stores_before, stores_hit
from debugger.machine.taskswitch import (
    DR6_BT,
    SWITCH_CALL,
    SWITCH_IRET,
    SWITCH_JMP,
    gate_target,
    switch_tss,
)

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort
    from debugger.machine.results import RunResult

__all__ = ["candidate", "execute", "switches", "switches_now", "task_tail", "task_tail_exact"]

_PREFIXES = frozenset({0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3})
_HF_PE, _HF_LMA, _HF_VM, _HF_CS32 = 1 << 7, 1 << 14, 1 << 17, 1 << 4
_TASK_TYPES = (1, 9, 5)     # (S=0) available 16/32-bit TSS, task gate
_DR6_BS = 1 << 14


def _modrm_len_fits(modrm: int, after: bytes, length: int) -> bool:
    mod, rm = modrm >> 6, modrm & 7
    l16 = 1 + (1 if mod == 1 else 2 if mod == 2 else 2 if rm == 6 else 0)
    l32 = 1
    if rm == 4:
        l32 += 1
        if mod == 0 and after and after[0] & 7 == 5:
            l32 += 4
    l32 += 1 if mod == 1 else 4 if mod == 2 else (4 if rm == 5 else 0)
    return length in (l16, l32)


def task_tail(p: bytes) -> int:
    """`_blockcount.c`'s `task_tail`: may the block `p` end with IRET (1), JMP/CALL ptr16:xx
    (2) or JMP/CALL FAR [mem] (4)?  Conservative."""
    n = len(p)
    kinds = 0
    if n >= 1 and p[n - 1] == 0xCF:
        kinds |= 1
    if (n >= 7 and p[n - 7] in (0xEA, 0x9A)) or (n >= 5 and p[n - 5] in (0xEA, 0x9A)):
        kinds |= 2
    for k in range(2, min(8, n) + 1):
        modrm = p[n - k + 1]
        if (p[n - k] == 0xFF and modrm >> 6 != 3 and (modrm >> 3) & 7 in (3, 5)
                and _modrm_len_fits(modrm, p[n - k + 2:n], k - 1)):
            kinds |= 4
            break
    return kinds


def task_tail_exact(p: bytes, code32: bool) -> int:
    """`_blockcount.c`'s `task_tail_exact`: `task_tail` of the block's last instruction alone
    when the whole block decodes (`storescan.last_insn`)."""
    kinds = task_tail(p)
    if not kinds:
        return 0
    last = last_insn(p, code32)
    if last is None:
        return kinds
    j = last
    while j < len(p) and p[j] in _PREFIXES:
        j += 1
    if j >= len(p):
        return kinds
    op = p[j]
    if op == 0xCF:
        return kinds & 1
    if op in (0xEA, 0x9A):
        return kinds & 2
    if op == 0xFF and j + 1 < len(p) and p[j + 1] >> 6 != 3 and (p[j + 1] >> 3) & 7 in (3, 5):
        return kinds & 4
    return 0


def switches_now(eng: L.Engine, address: int, size: int, read: Callable[[int, int], bytes],
                 read_data: Callable[[int, int], bytes]) -> bool:
    """`_blockcount.c`'s judgement (CF_TASK, then `task_switch`), for the pure-Python fallback
    hook: stop before this block?"""
    if eng.u32(L.OFF_HFLAGS) & (_HF_PE | _HF_VM | _HF_LMA) != _HF_PE:
        return False
    try:
        p = read(address + size - min(size, 16), min(size, 16))
    except Exception:
        return True
    kinds = task_tail(p)
    if kinds:        # (the block's verdict, judged once by the native hook)
        try:
            whole = read(address, size)
        except Exception:
            return True
        if not task_tail_exact(whole, bool(eng.u32(L.OFF_HFLAGS) & _HF_CS32)):
            return False
    if kinds & 1 and eng.u64(L.OFF_EFLAGS) & RF_NT:
        return True
    if kinds & 4:
        return True
    if kinds & 2:
        sel = p[-2] | p[-1] << 8
        if sel & 0xFFFC == 0:
            return False
        off = L.OFF_LDT if sel & 4 else L.OFF_GDT
        base, limit = eng.u64(off + 8), eng.u32(off + 16)
        try:
            block = read(address, size)
        except Exception:
            return True
        code32 = bool(eng.u32(L.OFF_HFLAGS) & _HF_CS32)
        if stores_before(block, code32):   # (it may change the descriptor read here first)
            bases = tuple(eng.u64(L.OFF_SEGS + 24 * k + 8) for k in range(6))
            if stores_hit(block, code32, bases, (base + (sel & ~7)) & 0xFFFFFFFF):
                return True
        if (sel & ~7) + 7 > limit:
            return False
        try:
            d = read_data(base + (sel & ~7), 8)
        except Exception:
            return True
        return d[5] & 0x1F in _TASK_TYPES
    return False


def candidate(code: bytes, bits: int) -> bool:
    """Is the (whole) instruction `code` one that may switch tasks: IRET, far JMP/CALL?"""
    i = 0
    while i < len(code) and code[i] in _PREFIXES:
        i += 1
    op = code[i] if i < len(code) else -1
    if op in (0xCF, 0xEA, 0x9A):
        return bits != 64
    return op == 0xFF and i + 1 < len(code) and (code[i + 1] >> 3) & 7 in (3, 5) \
        and code[i + 1] >> 6 != 3


def _decode(m: MachinePort, code: bytes, bits: int):
    """(kind, selector, offset, length) of the IRET/far JMP/CALL `code` at CS:IP (selector None
    for IRET); None when its far pointer cannot be read (the instruction faults as Unicorn
    runs it)."""
    i = 0
    while i < len(code) and code[i] in _PREFIXES:
        i += 1
    o32 = (0x66 in code[:i]) != (bits == 32)
    op = code[i]
    if op == 0xCF:
        return "iret", None, 0, i + 1
    size = 4 if o32 else 2
    if op in (0xEA, 0x9A):
        off = int.from_bytes(code[i + 1:i + 1 + size], "little")
        sel = int.from_bytes(code[i + 1 + size:i + 3 + size], "little")
        return ("jmp" if op == 0xEA else "call"), sel, off, i + 3 + size
    from debugger.machine.undocumented import operand_linear

    ins = next(_detail(bits).disasm(code, 0, 1), None)
    if ins is None or not ins.operands:
        return None
    linear, user = operand_linear(m, ins, ins.operands[0], code[:i], bits)
    try:
        ptr = m.mem.read_linear(linear, size + 2, user=user)
    except Exception:
        return None
    kind = "jmp" if (code[i + 1] >> 3) & 7 == 5 else "call"
    return kind, int.from_bytes(ptr[size:], "little"), int.from_bytes(ptr[:size], "little"), \
        ins.size


@cache
def _detail(bits: int):
    from capstone import CS_ARCH_X86, CS_MODE_16, CS_MODE_32, Cs

    md = Cs(CS_ARCH_X86, CS_MODE_16 if bits == 16 else CS_MODE_32)
    md.detail = True
    return md


def _in_scope(m: MachinePort) -> bool:
    cpu = m.cpu
    return bool(cpu.cr(0) & CR0_PE) and not cpu.eflags & RF_VM and not cpu.efer & EFER_LMA


def _descriptor(m: MachinePort, sel: int) -> int | None:
    """The raw descriptor `sel` names (None: outside its table)."""
    cpu = m.cpu
    table = cpu.seg("ldtr") if sel & 4 else cpu.dtr("gdtr")
    if sel & 4 and cpu.seg("ldtr").unusable:
        return None
    if (sel & ~7) + 7 > table.limit:
        return None
    return int.from_bytes(m.mem.read_linear(table.base + (sel & ~7), 8), "little")


def switches(m: MachinePort, code: bytes, bits: int) -> bool:
    """Does the instruction `code` at CS:IP switch tasks (or fault on the way to one)?"""
    if not _in_scope(m) or not candidate(code, bits):
        return False
    dec = _decode(m, code, bits)
    if dec is None:
        return False
    kind, sel, _off, _len = dec
    if kind == "iret":
        return bool(m.cpu.eflags & RF_NT)
    if sel & 0xFFFC == 0:
        return False
    try:
        raw = _descriptor(m, sel)
    except Exception:
        return False                    # (its read faults, as Unicorn's does)
    return raw is not None and (raw >> 40) & 0x1F in _TASK_TYPES


def execute(m: MachinePort) -> RunResult | None:
    """Run the task-switching instruction at CS:IP (`switches` said so), after the machine
    counted it; a fault is delivered as the CPU raises it.  After a switch, a #DB (trap) when
    the new TSS's T bit is set (DR6.BT) or when TF was set as the instruction began (DR6.BS: its
    single-step trap, taken in the new task as QEMU takes it)."""
    cpu = m.cpu
    _sel, rip, pc, bits = cpu.where()
    single_step = bool(cpu.eflags & RF_TF)
    try:
        trap = _switch(m, m.mem.read_linear(pc, 15), bits, rip)
    except GuestFault as f:
        if f.cr2 is not None:
            m.eng.set_u64(L.OFF_CR + 16, f.cr2)
        return m.raise_exception(f.vector, f.error_code)
    except PageFault as pf:
        m.eng.set_u64(L.OFF_CR + 16, pf.linear)
        return m.raise_exception(14, pf.error_code)
    if trap or single_step:
        cpu.set_dr(6, cpu.dr(6) | (DR6_BT if trap else 0) | (_DR6_BS if single_step else 0))
        return m.raise_exception(1, None)
    return None


def _switch(m: MachinePort, code: bytes, bits: int, rip: int) -> bool:
    d = m.delivery
    dec = _decode(m, code, bits)
    if dec is None:
        raise RuntimeError("task switch: the far pointer became unreadable")
    kind, sel, _off, length = dec
    next_eip = (rip + length) & 0xFFFFFFFF
    if kind == "iret":
        # helper_iret_protected: the back link names a busy TSS in the GDT, else #TS.
        link = d._read_sys(m.cpu.seg("tr").base, 2)
        err = link & 0xFFFC
        if link & 4:
            raise GuestFault(10, err)
        gdtr = m.cpu.dtr("gdtr")
        if (link & ~7) + 7 > gdtr.limit:
            raise GuestFault(10, err)
        desc_addr = gdtr.base + (link & ~7)
        tss = Segment.from_descriptor(link, d._read_sys(desc_addr, 8))
        if tss.s or tss.type & 7 != 3:
            raise GuestFault(10, err)
        return switch_tss(d, link, tss, desc_addr, SWITCH_IRET, next_eip, 0)
    # helper_ljmp_protected / helper_lcall_protected, for a TSS or task gate
    err = sel & 0xFFFC
    raw = _descriptor(m, sel)
    if raw is None:
        raise GuestFault(13, err)
    desc = Segment.from_descriptor(sel, raw)
    cpl = m.cpu.hflags & 3
    if desc.s or desc.type not in _TASK_TYPES:
        raise RuntimeError("task switch: the descriptor changed")
    if desc.dpl < cpl or desc.dpl < sel & 3:
        raise GuestFault(13, err)
    source = SWITCH_JMP if kind == "jmp" else SWITCH_CALL
    if desc.type == 5:                  # a task gate: present, then its TSS
        if not desc.present:
            raise GuestFault(11, err)
        tss_sel, tss, desc_addr = gate_target(d, (raw >> 16) & 0xFFFF, 0)
    else:
        if sel & 4:
            raise GuestFault(13, err)   # (the SDM: TSS descriptors live in the GDT)
        tss_sel, tss, desc_addr = sel, desc, m.cpu.dtr("gdtr").base + (sel & ~7)
    return switch_tss(d, tss_sel, tss, desc_addr, source, next_eip, 0)
