"""Which translation blocks can change watched state without ending the block.

Unicorn ends a translation block after most state-changing instructions (CR writes, far jumps,
IRET, ...), so comparing the watched state at block boundaries sees them.  A few do not end the
block (unicorn-notes.md §3.2): segment loads in real, vm86 and 16-bit protected mode (and FS/GS
loads everywhere), LGDT/LIDT/LLDT/LTR, WRMSR.  A block holding one of them could change a field
and change it back before its end, invisibly at the boundary -- so the detector stops before
such a block and the engine steps through it exactly.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from debugger.disasm import disassemble

__all__ = ["classify", "CATEGORIES", "relevant_categories", "leading_safe", "last_changer",
           "starts_with"]

CATEGORIES = ("sreg", "dtr", "msr")
_SREGS = ("ds", "es", "fs", "gs", "ss")
_DTR = {"lgdt", "lidt", "lldt", "ltr"}
_MSR = {"wrmsr", "swapgs", "wrfsbase", "wrgsbase"}
_LOADS = {"lds", "les", "lfs", "lgs", "lss"}
_ONE = {c: frozenset((c,)) for c in CATEGORIES}


def classify(read: Callable[[int, int], bytes], address: int, size: int, bits: int) -> frozenset[str]:
    """The categories of non-block-ending state changes inside the block."""
    try:
        code = read(address, size)
    except Exception:
        return frozenset(CATEGORIES)          # unreadable: be safe, step it
    found: set[str] = set()
    for ins in disassemble(code, address, bits):
        found |= _categories_of(ins)
    return frozenset(found)


def _categories_of(ins: Any) -> frozenset[str]:
    m = ins.mnemonic
    if m in _DTR:
        return _ONE["dtr"]
    if m in _MSR:
        return _ONE["msr"]
    if m in _LOADS:
        return _ONE["sreg"]
    if m in ("mov", "pop") and ins.op_str.split(",")[0].strip() in _SREGS:
        return _ONE["sreg"]
    if m == "(bad)":
        return frozenset(CATEGORIES)
    return frozenset()


def leading_safe(read: Callable[[int, int], bytes], address: int, size: int, bits: int,
                 categories: frozenset[str]) -> int:
    """How many instructions at the start of the block come before the first one of
    `categories` (by the rules of `classify`); 0 when that cannot be told (unreadable, or no
    such instruction found in what decodes)."""
    try:
        code = read(address, size)
    except Exception:
        return 0
    n = 0
    for ins in disassemble(code, address, bits):
        if _categories_of(ins) & categories:
            return n
        n += 1
    return 0


# Instructions that may change the watched state (or hand it to a device) besides the categories:
# port I/O (A20 through port 92h or the keyboard controller) and everything that ends a block by
# changing it (far transfers, returns from interrupts, control-register writes, POPF).  Inside
# a block they can only be last; listed so that `last_changer` never has to rely on that.
_IO = {"in", "out", "insb", "insw", "insd", "outsb", "outsw", "outsd"}
_ENDERS = {"ljmp", "lcall", "retf", "retfq", "lret", "lretq", "iret", "iretd", "iretq", "int",
           "int1", "int3", "into", "ud2", "ud0", "hlt", "popf", "popfd", "popfq", "lmsw", "clts",
           "sysenter", "sysexit", "syscall", "sysret", "sysretq", "rsm", "bound", "jmp", "call",
           "vmcall", "vmmcall"}
_CTRL = re.compile(r"[cd]r\d")


def _may_change(ins: Any) -> bool:
    m = ins.mnemonic.split()[-1] if ins.mnemonic else ""
    if _categories_of(ins) or m in _IO or m in _ENDERS or m == "(bad)":
        return True
    return m == "mov" and _CTRL.match(ins.op_str) is not None    # (a write: CRn/DRn first)


def last_changer(read: Callable[[int, int], bytes], address: int, size: int,
                 bits: int) -> tuple[int, int] | None:
    """(instructions, address of the last) when the block's instructions exactly fill it and
    none but the last can change the watched state (nor halt, fault on purpose, do port I/O or
    transfer control): a change seen where the whole block ran is then the last one's.  None
    otherwise."""
    try:
        code = read(address, size)
    except Exception:
        return None
    insns = disassemble(code, address, bits)
    if not insns or sum(i.size for i in insns) != size:
        return None
    if any(_may_change(i) for i in insns[:-1]):
        return None
    return len(insns), insns[-1].address


def starts_with(read: Callable[[int, int], bytes], address: int, size: int, bits: int,
                categories: frozenset[str]) -> bool:
    """The first instruction at `address` is one of `categories` (or cannot be decoded)."""
    try:
        code = read(address, size)
    except Exception:
        return True
    insns = disassemble(code, address, bits, count=1)
    return not insns or bool(_categories_of(insns[0]) & categories) \
        or insns[0].mnemonic == "(bad)"


def relevant_categories(catch_kinds: set[str], watch_fields: bool) -> frozenset[str]:
    """Which categories matter for the armed catchpoints (and field watches)."""
    if watch_fields or catch_kinds & {"vmx-invalid", "vmx-valid"}:
        return frozenset(CATEGORIES)
    out = set()
    if "sreg" in catch_kinds:     # ("mode" changes only where a block ends: transitions.py)
        out.add("sreg")
    if "dtr" in catch_kinds:
        out.add("dtr")
    if "cr" in catch_kinds:
        out.add("msr")
    return frozenset(out)
