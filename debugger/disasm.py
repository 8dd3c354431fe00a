"""Disassembly with capstone, in the bitness the CPU is actually executing (from CS.D/L)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import capstone

__all__ = ["Insn", "disassemble", "decode_one", "att_text"]


@dataclass(frozen=True)
class Insn:
    address: int          # linear
    size: int
    bytes: bytes
    mnemonic: str
    op_str: str

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {self.op_str}".strip()


@lru_cache(maxsize=None)
def _cs(bits: int) -> capstone.Cs:
    mode = {16: capstone.CS_MODE_16, 32: capstone.CS_MODE_32, 64: capstone.CS_MODE_64}[bits]
    md = capstone.Cs(capstone.CS_ARCH_X86, mode)
    md.skipdata = False
    return md


def disassemble(code: bytes, address: int, bits: int, count: int = 0) -> list[Insn]:
    """Decode up to `count` instructions (0 = as many as `code` holds).

    Undecodable bytes come out as `(bad)` one byte at a time, so the listing never stops early.
    """
    out: list[Insn] = []
    pos = 0
    md = _cs(bits)
    while pos < len(code) and (count == 0 or len(out) < count):
        got = False
        for ins in md.disasm(code[pos:], address + pos):
            out.append(Insn(ins.address, ins.size, bytes(ins.bytes), ins.mnemonic, ins.op_str))
            pos += ins.size
            got = True
            if count and len(out) >= count:
                return out
        if not got or pos < len(code):
            if pos >= len(code):
                break
            out.append(Insn(address + pos, 1, code[pos:pos + 1], "(bad)", ""))
            pos += 1
    return out


def decode_one(code: bytes, address: int, bits: int) -> Insn | None:
    r = disassemble(code[:16], address, bits, 1)
    return r[0] if r else None


@lru_cache(maxsize=None)
def _cs_att(bits: int) -> capstone.Cs:
    mode = {16: capstone.CS_MODE_16, 32: capstone.CS_MODE_32, 64: capstone.CS_MODE_64}[bits]
    md = capstone.Cs(capstone.CS_ARCH_X86, mode)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    return md


def att_text(ins: Insn, bits: int) -> str:
    """The instruction in AT&T syntax (display only: everything else reads Intel syntax); the
    Intel text when the bytes do not decode to the same length in `bits`."""
    for one in _cs_att(bits).disasm(ins.bytes, ins.address, 1):
        if one.size == ins.size:
            return f"{one.mnemonic} {one.op_str}".strip()
    return ins.text
