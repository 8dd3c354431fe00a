"""Target descriptions and register layouts for gdb: i8086 (16-bit code), i386 and x86-64.

The layout is the order of the `g` packet; each register is read from and written to the one
CPU record (`CpuState`).  x87/SSE registers are described (gdb's i386 code expects them) but the
machine does not model them: they read as their reset values and writes are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from debugger.cpustate import CpuState

__all__ = ["Reg", "Layout", "layout_for", "LAYOUTS"]

Getter = Callable[[CpuState], int]


@dataclass(frozen=True)
class Reg:
    name: str
    bits: int
    type: str
    feature: str
    get: Getter
    write: str | None = None        # register name for `regwrite` (None: read-only)
    group: str | None = None


def _linear_pc(st: CpuState) -> int:
    return st.rip if st.lma and st.cs.l else (st.cs.base + st.rip) & 0xFFFFFFFF


_EFLAGS_FIELDS = [("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8),
                  ("IF", 9), ("DF", 10), ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17),
                  ("AC", 18), ("VIF", 19), ("VIP", 20), ("ID", 21)]
_MXCSR_FIELDS = [("IE", 0), ("DE", 1), ("ZE", 2), ("OE", 3), ("UE", 4), ("PE", 5), ("DAZ", 6),
                 ("IM", 7), ("DM", 8), ("ZM", 9), ("OM", 10), ("UM", 11), ("PM", 12),
                 ("FZ", 15)]

CORE, SSE, SEGS = "org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse", "org.bootdbg.x86.segments"


def _zero(st: CpuState) -> int:
    return 0


def _const(v: int) -> Getter:
    return lambda st: v


def _gpr(name: str, mask: int) -> Getter:
    return lambda st: getattr(st, name) & mask


def _seg_field(seg: str, fld: str) -> Getter:
    return lambda st: getattr(getattr(st, seg), fld)


def _x87(core: list[Reg]) -> None:
    for i in range(8):
        core.append(Reg(f"st{i}", 80, "i387_ext", CORE, _zero))
    for name, v in (("fctrl", 0x37F), ("fstat", 0), ("ftag", 0xFFFF), ("fiseg", 0),
                    ("fioff", 0), ("foseg", 0), ("fooff", 0), ("fop", 0)):
        core.append(Reg(name, 32, "int", CORE, _const(v), group="float"))


def _build(bits: int) -> list[Reg]:
    regs: list[Reg] = []
    if bits == 64:
        for n in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"):
            regs.append(Reg(n, 64, "data_ptr" if n in ("rbp", "rsp") else "int64", CORE,
                            _gpr(n, 2**64 - 1), n))
        for i in range(8, 16):
            regs.append(Reg(f"r{i}", 64, "int64", CORE, _gpr(f"r{i}", 2**64 - 1), f"r{i}"))
        regs.append(Reg("rip", 64, "code_ptr", CORE, _linear_pc, "pc"))
    else:
        for n in ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"):
            regs.append(Reg(n, 32, "data_ptr" if n in ("esp", "ebp") else "int32", CORE,
                            _gpr("r" + n[1:], 0xFFFFFFFF), n))
        regs.append(Reg("eip", 32, "code_ptr", CORE, _linear_pc, "pc"))
    regs.append(Reg("eflags", 32, "i386_eflags", CORE, _gpr("rflags", 0xFFFFFFFF), "eflags"))
    for s in ("cs", "ss", "ds", "es", "fs", "gs"):
        regs.append(Reg(s, 32, "int32", CORE, _seg_field(s, "selector"), s))
    _x87(regs)
    for i in range(16 if bits == 64 else 8):
        regs.append(Reg(f"xmm{i}", 128, "vec128", SSE, _zero))
    regs.append(Reg("mxcsr", 32, "i386_mxcsr", SSE, _const(0x1F80), group="vector"))
    base_bits = 64 if bits == 64 else 32
    regs.append(Reg("pc_offset", base_bits, "int", SEGS, _gpr("rip", 2**base_bits - 1), "rip",
                    "system"))
    for s in ("es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"):
        if s in ("ldtr", "tr"):
            regs.append(Reg(s, 16, "int", SEGS, _seg_field(s, "selector"), None, "system"))
        regs.append(Reg(f"{s}_base", base_bits, "data_ptr", SEGS, _seg_field(s, "base"),
                        f"{s}.base", "system"))
        regs.append(Reg(f"{s}_limit", 32, "int", SEGS, _seg_field(s, "limit"),
                        f"{s}.limit", "system"))
        regs.append(Reg(f"{s}_ar", 32, "int", SEGS, _seg_field(s, "ar"), f"{s}.ar", "system"))
    for t in ("gdtr", "idtr"):
        regs.append(Reg(f"{t}_base", base_bits, "data_ptr", SEGS,
                        _seg_field(t, "base"), f"{t}.base", "system"))
        regs.append(Reg(f"{t}_limit", 32, "int", SEGS, _seg_field(t, "limit"),
                        f"{t}.limit", "system"))
    for c in ("cr0", "cr2", "cr3", "cr4"):
        regs.append(Reg(c, base_bits, "int", SEGS, _gpr(c, 2**base_bits - 1), c, "system"))
    regs.append(Reg("efer", 64, "int", SEGS, _gpr("efer", 2**64 - 1), "efer", "system"))
    return regs


def _flags_xml(id_: str, fields: list[tuple[str, int]]) -> str:
    body = "".join(f'<field name="{n}" start="{b}" end="{b}"/>' for n, b in fields)
    return f'<flags id="{id_}" size="4">{body}</flags>'


_VEC_TYPES = ('<vector id="v4f" type="ieee_single" count="4"/>'
              '<vector id="v2d" type="ieee_double" count="2"/>'
              '<vector id="v16i8" type="int8" count="16"/>'
              '<vector id="v8i16" type="int16" count="8"/>'
              '<vector id="v4i32" type="int32" count="4"/>'
              '<vector id="v2i64" type="int64" count="2"/>'
              '<union id="vec128"><field name="v4_float" type="v4f"/>'
              '<field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/>'
              '<field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>'
              '<field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/>'
              '</union>')


@dataclass(frozen=True)
class Layout:
    name: str              # "i8086" | "i386" | "x86-64"
    architecture: str      # the BFD architecture gdb uses
    regs: tuple[Reg, ...]

    @property
    def pc_index(self) -> int:
        return next(i for i, r in enumerate(self.regs) if r.write == "pc")

    def xml(self) -> str:
        parts = ['<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">',
                 '<target version="1.0">', f"<architecture>{self.architecture}</architecture>"]
        feature = None
        for n, r in enumerate(self.regs):
            if r.feature != feature:
                if feature is not None:
                    parts.append("</feature>")
                feature = r.feature
                parts.append(f'<feature name="{feature}">')
                if feature == CORE:
                    parts.append(_flags_xml("i386_eflags", _EFLAGS_FIELDS))
                elif feature == SSE:
                    parts.append(_VEC_TYPES + _flags_xml("i386_mxcsr", _MXCSR_FIELDS))
            group = f' group="{r.group}"' if r.group else ""
            parts.append(f'<reg name="{r.name}" bitsize="{r.bits}" type="{r.type}" '
                         f'regnum="{n}"{group}/>')
        parts.append("</feature></target>")
        return "".join(parts)

    def encode(self, st: CpuState, index: int) -> str:
        r = self.regs[index]
        nbytes = r.bits // 8
        return (r.get(st) & ((1 << r.bits) - 1)).to_bytes(nbytes, "little").hex()

    def encode_all(self, st: CpuState) -> str:
        return "".join(self.encode(st, i) for i in range(len(self.regs)))


LAYOUTS = {
    "i8086": Layout("i8086", "i8086", tuple(_build(32))),
    "i386": Layout("i386", "i386", tuple(_build(32))),
    "x86-64": Layout("x86-64", "i386:x86-64", tuple(_build(64))),
}


def layout_for(st: CpuState) -> Layout:
    """The layout matching the code size the CPU runs now."""
    return LAYOUTS[{16: "i8086", 32: "i386", 64: "x86-64"}[st.bits]]
