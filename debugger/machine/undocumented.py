"""Undocumented-but-real encodings that Unicorn (QEMU 5, and QEMU 7.2 too) rejects with #UD.

- `F6 /1 ib` and `F7 /1 iw/id`: TEST r/m, imm -- an alias of `/0` executed by every CPU from the
  8086 to the Pentium class and by Bochs.  Unicorn raises #UD; `execute_test_alias` then runs
  the instruction here: the operand is read (register, or memory through the guest's segments
  and paging), CF=OF=AF=0 and SF/ZF/PF from the result, as Bochs and real CPUs set them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import x86_const

from debugger.cpustate import CR0_PE, RF_VM
from debugger.machine import uc_layout
from debugger.machine.memory import PageFault

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort
    from debugger.machine.results import RunResult

__all__ = ["execute_test_alias", "operand_linear"]

_PREFIXES = frozenset({0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3})
_REX = range(0x40, 0x50)
_NOT_HANDLED = object()
_FLAGS = 0x8D5          # OF SF ZF AF PF CF


def _reg(m: "MachinePort", name: str) -> int:
    return int(m.uc.reg_read(getattr(x86_const, f"UC_X86_REG_{name.upper()}")))


def operand_linear(m: "MachinePort", ins, op, prefixes: bytes,    # noqa: ANN001
                   bits: int) -> tuple[int, bool]:
    """The linear address of capstone memory operand `op` of `ins` (decoded with detail at CS:IP,
    `prefixes` its prefix bytes), and whether the access is a user-mode one."""
    mem = op.mem
    addr_size = bits if 0x67 not in prefixes else {16: 32, 32: 16, 64: 32}[bits]
    ea = mem.disp
    base = ins.reg_name(mem.base) if mem.base else None
    if base is not None and base != "rip":
        ea += _reg(m, base)
    elif base == "rip":
        ea += m.cpu.rip + ins.size
    if mem.index:
        ea += _reg(m, ins.reg_name(mem.index)) * mem.scale
    ea &= (1 << addr_size) - 1
    if mem.segment:
        seg = ins.reg_name(mem.segment)
    else:
        seg = "ss" if base in ("bp", "ebp", "esp", "sp", "rbp", "rsp") else "ds"
    seg_base = 0 if bits == 64 and seg not in ("fs", "gs") else m.cpu.seg(seg).base
    user = bool(m.cpu.cr(0) & CR0_PE) and (bool(m.cpu.eflags & RF_VM) or m.cpu.hflags & 3 == 3)
    return seg_base + ea, user


def execute_test_alias(m: "MachinePort") -> "RunResult | None | object":
    """Run F6 /1 or F7 /1 at CS:IP; `NOT_HANDLED` when the instruction is something else."""
    bits = m.cpu.where()[3]
    try:
        code = m.mem.read_linear(m.cpu.linear_pc(), 15)
    except Exception:
        return _NOT_HANDLED
    i = 0
    while i < len(code) and (code[i] in _PREFIXES or (bits == 64 and code[i] in _REX)):
        i += 1
    if i + 1 >= len(code) or code[i] not in (0xF6, 0xF7) or (code[i + 1] >> 3) & 7 != 1:
        return _NOT_HANDLED
    from capstone import CS_ARCH_X86, CS_MODE_16, CS_MODE_32, CS_MODE_64, Cs
    from capstone.x86 import X86_OP_IMM, X86_OP_MEM, X86_OP_REG

    md = Cs(CS_ARCH_X86, {16: CS_MODE_16, 32: CS_MODE_32, 64: CS_MODE_64}[bits])
    md.detail = True
    ins = next(md.disasm(code, 0, 1), None)
    if ins is None or ins.mnemonic != "test" or len(ins.operands) != 2:
        return _NOT_HANDLED
    dst, src = ins.operands
    size = dst.size
    mask = (1 << (8 * size)) - 1
    if src.type != X86_OP_IMM:
        return _NOT_HANDLED
    if dst.type == X86_OP_REG:
        value = _reg(m, ins.reg_name(dst.reg))
    elif dst.type == X86_OP_MEM:
        linear, user = operand_linear(m, ins, dst, code[:i], bits)
        try:
            value = int.from_bytes(m.mem.read_linear(linear, size, user=user), "little")
        except PageFault as pf:
            m.eng.set_u64(uc_layout.OFF_CR + 16, pf.linear)         # CR2
            return m.raise_exception(14, pf.error_code | (4 if user else 0))
    else:
        return _NOT_HANDLED
    result = value & src.imm & mask
    flags = m.cpu.eflags & ~_FLAGS
    if result == 0:
        flags |= 0x40
    if result >> (8 * size - 1):
        flags |= 0x80
    if bin(result & 0xFF).count("1") % 2 == 0:
        flags |= 0x04
    m.mutations += 1
    m.cpu.eflags = flags
    m.cpu.rip = (m.cpu.rip + ins.size) & (0xFFFF if bits == 16 else (1 << bits) - 1)
    return None


NOT_HANDLED = _NOT_HANDLED
