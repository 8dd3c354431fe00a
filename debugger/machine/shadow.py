"""Exits right after an instruction whose effect Unicorn's exit block would undo: one that opens
an interrupt shadow (MOV SS, POP SS, STI), and HLT.

Unicorn ends a run at an exit address by running a block that imitates HLT, and QEMU's HLT
helper clears the inhibit-IRQ flag: a stop at an exit right after `mov ss, ax` would show no
MOV-SS blocking, a state the CPU is not in (and one the VM-entry checks judge).  So where the
bytes before an exit decode as such an instruction ending at the exit, the machine also stops
there and executes that one instruction with the instruction count (no exit block involved), so
the stop at the exit keeps the shadow.  HLT the same way: the exit block's own halt would be
taken for the exit's (the address after a HLT is where the CPU waits), so the CPU would run on
past a `cli; hlt` into the breakpoint's instruction; executed alone with no exit installed, it
leaves the CPU halted, as on a CPU (a breakpoint after it is reached only once an interrupt
wakes the CPU and returns there).  A candidate that is not really an instruction boundary
costs nothing (the run never stops there); one that is costs one counted instruction.  The
candidates are found when the set of exits changes (code rewritten later before an exit is not
looked at again until then).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

__all__ = ["shadow_setters"]

MAX_LEN = 15


@lru_cache(maxsize=4096)
def _is_setter(code: bytes, bits: int) -> bool:
    """Whether `code` is exactly one MOV SS / POP SS / STI / HLT instruction in `bits`-bit
    code."""
    from capstone import CS_ARCH_X86, CS_MODE_16, CS_MODE_32, Cs

    md = Cs(CS_ARCH_X86, CS_MODE_16 if bits == 16 else CS_MODE_32)
    for ins in md.disasm(code, 0, 1):
        if ins.size != len(code):
            return False
        if ins.mnemonic in ("sti", "hlt"):
            return True
        if ins.mnemonic == "pop" and ins.op_str == "ss":
            return True
        return ins.mnemonic == "mov" and ins.op_str.startswith("ss,")
    return False


def shadow_setters(mem: Any, exits: Iterable[int]) -> set[int]:
    """Linear addresses of possible MOV SS / POP SS / STI / HLT instructions that end at an exit
    (16- and 32-bit decodings; bytes that cannot be read are skipped)."""
    out: set[int] = set()
    for x in exits:
        if x < 1:
            continue
        try:
            before = bytes(mem.read_linear(max(0, x - MAX_LEN), min(MAX_LEN, x)))
        except Exception:
            continue
        for k in range(1, len(before) + 1):
            code = before[-k:]
            if _is_setter(code, 16) or _is_setter(code, 32):
                out.add(x - k)
    return out
