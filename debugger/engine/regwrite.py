"""`set REG = VALUE`: a register or field write expressed as a new CpuState."""
from __future__ import annotations

import dataclasses

from debugger.cpustate import GPR_NAMES, CpuState, DescriptorTable, Segment

__all__ = ["apply", "writable_names"]

_FLAG_BITS = {"cf": 0, "pf": 2, "af": 4, "zf": 6, "sf": 7, "tf": 8, "if": 9, "df": 10,
              "of": 11, "nt": 14, "rf": 16, "vm": 17, "ac": 18, "vif": 19, "vip": 20, "id": 21}
_PLAIN = ("rip", "rflags", "cr0", "cr2", "cr3", "cr4", "dr0", "dr1", "dr2", "dr3", "dr6", "dr7",
          "efer")
_ALIASES = {"eip": ("rip", 0xFFFFFFFF, 0), "ip": ("rip", 0xFFFF, 0),
            "eflags": ("rflags", 0xFFFFFFFF, 0), "flags": ("rflags", 0xFFFF, 0)}


def _gpr_alias(name: str) -> tuple[str, int, int] | None:
    legacy = {"a": "rax", "b": "rbx", "c": "rcx", "d": "rdx"}
    for base, full in (("si", "rsi"), ("di", "rdi"), ("bp", "rbp"), ("sp", "rsp")):
        if name == "e" + base:
            return full, 0xFFFFFFFF, 0
        if name == base:
            return full, 0xFFFF, 0
        if name == base + "l":
            return full, 0xFF, 0
    if len(name) == 3 and name[0] == "e" and name[2] == "x" and name[1] in legacy:
        return legacy[name[1]], 0xFFFFFFFF, 0
    if len(name) == 2 and name[0] in legacy:
        full = legacy[name[0]]
        return {"x": (full, 0xFFFF, 0), "l": (full, 0xFF, 0), "h": (full, 0xFF, 8)}.get(
            name[1])
    if name.startswith("r") and name[1:].rstrip("dwb").isdigit():
        n = int(name[1:].rstrip("dwb"))
        if 8 <= n <= 15:
            suf = name[len(str(n)) + 1:]
            mask = {"": 2**64 - 1, "d": 0xFFFFFFFF, "w": 0xFFFF, "b": 0xFF}.get(suf)
            if mask is not None:
                return f"r{n}", mask, 0
    return None


# Widths of the hidden-cache and table-register fields (as the VMCS holds them).
_FIELD_BITS = {"selector": 16, "base": 64, "limit": 32, "ar": 32}


def _in_range(name: str, value: int, bits: int) -> int:
    """`value` as an unsigned `bits`-bit field (a negative one in two's complement), or a
    ValueError that says the range."""
    top = (1 << bits) - 1
    if -(1 << (bits - 1)) <= value < 0:
        value &= top
    if not 0 <= value <= top:
        raise ValueError(f"cannot set {name}: {value:#x} is out of range (0..{top:#x})")
    return value


def apply(st: CpuState, name: str, value: int) -> CpuState:
    n = name.strip().lower()
    if n in GPR_NAMES or n in _PLAIN:
        return st.replace(**{n: value & (2**64 - 1)})
    if n == "pc":
        return st.replace(rip=_pc_offset(st, value))
    alias = _ALIASES.get(n) or _gpr_alias(n)
    if alias:
        full, mask, shift = alias
        old = getattr(st, full)
        return st.replace(**{full: (old & ~(mask << shift)) | ((value & mask) << shift)})
    if n in _FLAG_BITS or (n.startswith(("eflags.", "rflags.")) and n.split(".")[1] in _FLAG_BITS):
        bit = _FLAG_BITS[n.split(".")[-1]]
        return st.replace(rflags=(st.rflags & ~(1 << bit)) | ((value & 1) << bit))
    if n in ("iopl", "eflags.iopl"):
        return st.replace(rflags=(st.rflags & ~0x3000) | ((value & 3) << 12))
    if "." in n:
        reg, fld = n.split(".", 1)
        if reg in ("es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"):
            fld = {"sel": "selector"}.get(fld, fld)
            if fld not in ("selector", "base", "limit", "ar"):
                raise KeyError(f"cannot set {name}: segment fields are selector, base, "
                               "limit, ar")
            seg: Segment = getattr(st, reg)
            # (ES/CS/SS/DS bases are 32 bits wide on the CPU, as in the VMCS checks)
            bits = 32 if fld == "base" and reg in ("es", "cs", "ss", "ds") else _FIELD_BITS[fld]
            value = _in_range(name, value, bits)
            return st.replace(**{reg: dataclasses.replace(seg, **{fld: value})})
        if reg in ("gdtr", "idtr") and fld in ("base", "limit"):
            dt: DescriptorTable = getattr(st, reg)
            value = _in_range(name, value, _FIELD_BITS[fld])
            return st.replace(**{reg: dataclasses.replace(dt, **{fld: value})})
    if n in ("es", "cs", "ss", "ds", "fs", "gs"):
        seg = getattr(st, n)
        if st.pe and not st.vm:
            raise KeyError(f"cannot set {name} in protected mode: set {n}.selector/.base/"
                           ".limit/.ar explicitly")
        new = Segment.vm86(value) if st.vm else dataclasses.replace(
            seg, selector=value & 0xFFFF, base=(value & 0xFFFF) << 4)
        return st.replace(**{n: new})
    raise KeyError(f"unknown register {name!r}")


def _pc_offset(st: CpuState, linear: int) -> int:
    """The RIP that makes the next instruction's linear address (`pc`, CS.base + IP) `linear`."""
    if st.bits == 64:
        return _in_range("pc", linear, 64)
    off = linear - st.cs.base
    top = 0xFFFF if st.bits == 16 else 0xFFFFFFFF
    if not 0 <= off <= top:
        raise ValueError(f"cannot set pc to {linear:#x}: CS.base is {st.cs.base:#x}, so IP "
                         f"would be {off:#x} (0..{top:#x}); set eip or cs instead")
    return off


def writable_names() -> list[str]:
    return list(GPR_NAMES) + list(_PLAIN) + list(_ALIASES) + list(_FLAG_BITS) + ["pc"]
