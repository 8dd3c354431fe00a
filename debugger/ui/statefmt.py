"""Plain-text rendering of a CPU state: registers, the hidden segment caches, control registers.

Used wherever text without a terminal is wanted (`bootdbg run` output, JSON-free logs, tests).
"""
from __future__ import annotations

from debugger.cpustate import CpuState, Mode

__all__ = ["format_state", "format_segments", "format_flags", "format_mode_line"]

_FLAG_NAMES = ((21, "ID"), (20, "VIP"), (19, "VIF"), (18, "AC"), (17, "VM"), (16, "RF"),
               (14, "NT"), (11, "OF"), (10, "DF"), (9, "IF"), (8, "TF"), (7, "SF"), (6, "ZF"),
               (4, "AF"), (2, "PF"), (0, "CF"))


def format_flags(rflags: int) -> str:
    names = [n for bit, n in _FLAG_NAMES if rflags >> bit & 1]
    return " ".join(names + [f"IOPL={(rflags >> 12) & 3}"])


def format_mode_line(st: CpuState, icount: int | None = None) -> str:
    parts = [f"mode {st.mode.value}", f"CPL {st.cpl}", f"IOPL {st.iopl}",
             f"VM {int(st.vm)}", f"A20 {'on' if st.a20 else 'off'}",
             f"paging {'on' if st.pg else 'off'}", f"activity {st.activity.name.lower()}"]
    if icount is not None:
        parts.append(f"icount {icount}")
    return "  ".join(parts)


def format_segments(st: CpuState) -> list[str]:
    lines = ["seg   sel   base              limit     AR     decoded"]
    for name, seg in st.segments():
        lines.append(f"{name.upper():<5} {seg.selector:04x}  {seg.base:016x}  {seg.limit:08x}  "
                     f"{seg.ar:05x}  {seg.describe_ar()}")
    lines.append(f"GDTR        {st.gdtr.base:016x}  {st.gdtr.limit:08x}")
    lines.append(f"IDTR        {st.idtr.base:016x}  {st.idtr.limit:08x}")
    return lines


def format_state(st: CpuState, icount: int | None = None) -> str:
    wide = st.mode in (Mode.LONG, Mode.COMPAT) or any(
        getattr(st, r) >> 32 for r in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"))
    lines = [format_mode_line(st, icount)]
    if wide:
        names = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                 "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
        regs = [f"{n.upper():>3}={getattr(st, n):016x}" for n in names]
        lines += ["  ".join(regs[i:i + 4]) for i in range(0, 16, 4)]
        lines.append(f"RIP={st.rip:016x}  RFLAGS={st.rflags:08x} [{format_flags(st.rflags)}]")
    else:
        names = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp")
        regs = [f"E{n[1:].upper()}={getattr(st, n) & 0xFFFFFFFF:08x}" for n in names]
        lines += ["  ".join(regs[:4]), "  ".join(regs[4:])]
        lines.append(f"EIP={st.rip & 0xFFFFFFFF:08x}  EFLAGS={st.rflags:08x} "
                     f"[{format_flags(st.rflags)}]  CS:IP={st.cs.selector:04x}:"
                     f"{st.rip & (0xFFFF if st.bits == 16 else 0xFFFFFFFF):x}  linear={st.pc:x}")
    lines += format_segments(st)
    lines.append(f"CR0={st.cr0:08x} CR2={st.cr2:08x} CR3={st.cr3:08x} CR4={st.cr4:08x} "
                 f"EFER={st.efer:x}")
    lines.append(f"DR6={st.dr6:08x} DR7={st.dr7:08x} interruptibility={st.interruptibility:x}")
    return "\n".join(lines)
