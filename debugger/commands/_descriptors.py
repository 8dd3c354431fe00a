"""Decoding the guest's descriptor tables (GDT/LDT/IDT/IVT) and TSS from memory."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from debugger.cpustate import CpuState, Mode, Segment
from debugger.ui.fmt import seg_type

if TYPE_CHECKING:
    from debugger.engine.session import Session

__all__ = ["Descriptor", "Gate", "read_table", "decode_descriptors", "decode_gates",
           "TSS32", "TSS16", "TSS64", "VECTOR_NAMES"]

VECTOR_NAMES = {
    0x00: "#DE divide error", 0x01: "#DB debug", 0x02: "NMI", 0x03: "#BP breakpoint",
    0x04: "#OF overflow", 0x05: "#BR bound / print screen", 0x06: "#UD invalid opcode",
    0x07: "#NM no math coprocessor", 0x08: "#DF double fault / IRQ0 timer",
    0x09: "IRQ1 keyboard", 0x0A: "#TS / IRQ2 cascade", 0x0B: "#NP / IRQ3 COM2",
    0x0C: "#SS / IRQ4 COM1", 0x0D: "#GP / IRQ5", 0x0E: "#PF / IRQ6 floppy",
    0x0F: "IRQ7 LPT1", 0x10: "video", 0x11: "equipment list", 0x12: "memory size",
    0x13: "disk", 0x14: "serial", 0x15: "system services", 0x16: "keyboard",
    0x17: "printer", 0x18: "ROM BASIC / boot failure", 0x19: "bootstrap loader",
    0x1A: "time of day", 0x1B: "Ctrl-Break", 0x1C: "user timer tick",
    0x1D: "video parameters (data)", 0x1E: "diskette parameters (data)",
    0x1F: "8x8 font upper half (data)", 0x41: "hard disk 0 parameters (data)",
    0x43: "8x8 font (data)", 0x46: "hard disk 1 parameters (data)", 0x4A: "RTC alarm",
    0x70: "IRQ8 RTC", 0x74: "IRQ12 mouse", 0x75: "IRQ13 FPU", 0x76: "IRQ14 primary IDE",
    0x77: "IRQ15 secondary IDE",
}


@dataclass(frozen=True)
class Descriptor:
    index: int
    selector: int
    raw: int
    seg: Segment           # decoded as a cache would hold it (gates: base = offset)
    long_system: bool = False

    @property
    def empty(self) -> bool:
        return self.raw == 0

    @property
    def text(self) -> str:
        s = self.seg
        if self.empty:
            return "null" if self.index == 0 else "empty"
        return seg_type(s)


@dataclass(frozen=True)
class Gate:
    vector: int
    kind: str              # "int16", "trap32", "int64", "task", "ivt", "bad"
    selector: int
    offset: int
    dpl: int
    present: int
    ist: int = 0
    raw: int = 0


def read_table(session: "Session", base: int, limit: int, cap: int = 0x10000) -> bytes:
    size = min(limit + 1, cap)
    if size <= 0:
        return b""
    return session.read_memory(base, size)


def decode_descriptors(data: bytes, long_mode: bool, ldt: bool = False) -> list[Descriptor]:
    out: list[Descriptor] = []
    i = 0
    while i + 8 <= len(data):
        raw = int.from_bytes(data[i:i + 8], "little")
        sel = i | (4 if ldt else 0)
        high = raw >> 32
        is_system = raw != 0 and not (high >> 12) & 1
        sys_type = (high >> 8) & 0xF
        seg = Segment.from_descriptor(sel, raw)
        wide = long_mode and is_system and sys_type in (2, 9, 11, 12) and i + 16 <= len(data)
        if is_system and sys_type in (4, 5, 6, 7, 12, 14, 15):
            off = (raw & 0xFFFF) | (high & 0xFFFF0000 if sys_type >= 12 else 0)
            if wide:
                off |= (int.from_bytes(data[i + 8:i + 12], "little") << 32)
            seg = Segment((raw >> 16) & 0xFFFF, off, 0, seg.ar)
        elif wide:
            upper = int.from_bytes(data[i + 8:i + 12], "little")
            seg = Segment(seg.selector, seg.base | (upper << 32), seg.limit, seg.ar)
        out.append(Descriptor(i // 8, sel, raw, seg, wide))
        i += 16 if wide else 8
    return out


def decode_gates(data: bytes, st: CpuState) -> list[Gate]:
    out: list[Gate] = []
    if not st.pe:
        for v in range(len(data) // 4):
            w = int.from_bytes(data[4 * v:4 * v + 4], "little")
            out.append(Gate(v, "ivt", w >> 16, w & 0xFFFF, 0, 1, raw=w))
        return out
    long_mode = st.mode in (Mode.LONG, Mode.COMPAT)
    size = 16 if long_mode else 8
    for v in range(len(data) // size):
        raw = int.from_bytes(data[v * size:v * size + 8], "little")
        high = raw >> 32
        t = (high >> 8) & 0xF
        dpl, p = (high >> 13) & 3, (high >> 15) & 1
        sel = (raw >> 16) & 0xFFFF
        off = (raw & 0xFFFF) | (high & 0xFFFF0000)
        if long_mode:
            off |= int.from_bytes(data[v * size + 8:v * size + 12], "little") << 32
            kind = {14: "int64", 15: "trap64"}.get(t, "bad")
        else:
            kind = {5: "task", 6: "int16", 7: "trap16", 14: "int32", 15: "trap32"}.get(t, "bad")
            if t in (6, 7):
                off &= 0xFFFF
        if kind == "task":
            off = 0
        out.append(Gate(v, kind, sel, off, dpl, p, ist=high & 7 if long_mode else 0, raw=raw))
    return out


# (name, offset, size) of the fields of each TSS format.
TSS32 = (("link", 0, 2), ("esp0", 4, 4), ("ss0", 8, 2), ("esp1", 12, 4), ("ss1", 16, 2),
         ("esp2", 20, 4), ("ss2", 24, 2), ("cr3", 28, 4), ("eip", 32, 4), ("eflags", 36, 4),
         ("eax", 40, 4), ("ecx", 44, 4), ("edx", 48, 4), ("ebx", 52, 4), ("esp", 56, 4),
         ("ebp", 60, 4), ("esi", 64, 4), ("edi", 68, 4), ("es", 72, 2), ("cs", 76, 2),
         ("ss", 80, 2), ("ds", 84, 2), ("fs", 88, 2), ("gs", 92, 2), ("ldt", 96, 2),
         ("trap", 100, 2), ("iomap", 102, 2))
TSS16 = (("link", 0, 2), ("sp0", 2, 2), ("ss0", 4, 2), ("sp1", 6, 2), ("ss1", 8, 2),
         ("sp2", 10, 2), ("ss2", 12, 2), ("ip", 14, 2), ("flags", 16, 2), ("ax", 18, 2),
         ("cx", 20, 2), ("dx", 22, 2), ("bx", 24, 2), ("sp", 26, 2), ("bp", 28, 2),
         ("si", 30, 2), ("di", 32, 2), ("es", 34, 2), ("cs", 36, 2), ("ss", 38, 2),
         ("ds", 40, 2), ("ldt", 42, 2))
TSS64 = (("rsp0", 4, 8), ("rsp1", 12, 8), ("rsp2", 20, 8)) + tuple(
    (f"ist{i}", 36 + 8 * (i - 1), 8) for i in range(1, 8)) + (("iomap", 102, 2),)
