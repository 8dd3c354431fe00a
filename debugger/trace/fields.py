"""The CPU state as flat named integer fields: what an export lists as changed and a diff compares.

`flatten(state)` turns a `CpuState` into `{"rax": .., "rip": .., "cs.selector": .., "cs.base": ..,
"gdtr.limit": .., ...}`: the general registers, RIP, RFLAGS, the control, debug and EFER
registers, every segment register with its hidden cache (selector, base, limit, access rights
in the VMX layout) and GDTR/IDTR.  `flatten_partial(kwargs)` does the same for the CpuState
keyword arguments a QEMU register dump provides (only the fields the dump holds).
`display(name, wide)` is the name a user reads: EAX..EDI, EIP, EFLAGS outside long mode.
"""
from __future__ import annotations

from typing import Any, Mapping

from debugger.cpustate import GPR_NAMES, SEGMENT_NAMES, CpuState

__all__ = ["FIELDS", "SEGMENT_FIELDS", "flatten", "flatten_partial", "changed", "display",
           "hex_width", "FLAG_FIELDS"]

_SCALARS = GPR_NAMES + ("rip", "rflags", "cr0", "cr2", "cr3", "cr4", "dr0", "dr1", "dr2",
                        "dr3", "dr6", "dr7", "efer")
SEGMENT_FIELDS = ("selector", "base", "limit", "ar")
FIELDS: tuple[str, ...] = _SCALARS + tuple(
    f"{s}.{f}" for s in SEGMENT_NAMES for f in SEGMENT_FIELDS) + (
    "gdtr.base", "gdtr.limit", "idtr.base", "idtr.limit")
# Fields whose bits are independent flags (compared bit by bit, not byte by byte).
FLAG_FIELDS = frozenset({"rflags"})

_E_NAMES = {"rax": "eax", "rcx": "ecx", "rdx": "edx", "rbx": "ebx", "rsp": "esp", "rbp": "ebp",
            "rsi": "esi", "rdi": "edi", "rip": "eip", "rflags": "eflags"}


def flatten(st: CpuState) -> dict[str, int]:
    out = {n: getattr(st, n) for n in _SCALARS}
    for s in SEGMENT_NAMES:
        seg = getattr(st, s)
        out[f"{s}.selector"] = seg.selector
        out[f"{s}.base"] = seg.base
        out[f"{s}.limit"] = seg.limit
        out[f"{s}.ar"] = seg.ar
    out["gdtr.base"], out["gdtr.limit"] = st.gdtr.base, st.gdtr.limit
    out["idtr.base"], out["idtr.limit"] = st.idtr.base, st.idtr.limit
    return out


def flatten_partial(kw: Mapping[str, Any]) -> dict[str, int]:
    """Flat fields from CpuState keyword arguments that may lack some fields."""
    out: dict[str, int] = {}
    for n in _SCALARS:
        v = kw.get(n)
        if v is not None:
            out[n] = int(v)
    for s in SEGMENT_NAMES + ("gdtr", "idtr"):
        v = kw.get(s)
        if v is None:
            continue
        for f in (SEGMENT_FIELDS if s in SEGMENT_NAMES else ("base", "limit")):
            out[f"{s}.{f}"] = int(getattr(v, f))
    return out


def changed(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """{field: (old, new)} for every field present in both whose value differs."""
    return {k: (v, after[k]) for k, v in before.items() if k in after and after[k] != v}


def display(name: str, wide: bool = False) -> str:
    """The user's name of a field: EAX.. (not `wide`, i.e. outside long mode) or RAX.., CS.base."""
    if not wide and name in _E_NAMES:
        return _E_NAMES[name].upper()
    head, dot, tail = name.partition(".")
    return head.upper() + dot + tail


def hex_width(name: str, wide: bool = False) -> int:
    """Hex digits to show a field with (16 for 64-bit values in long mode, R8-R15, EFER)."""
    if name.endswith(".selector"):
        return 4
    if name == "efer" or name in GPR_NAMES[8:] or (wide and (name in _E_NAMES
                                                              or name.endswith(".base"))):
        return 16
    return 8
