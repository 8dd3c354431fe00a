"""Instructions Unicorn (QEMU 5) executes differently from the CPU and from QEMU 7.2, run one at
a time and corrected after each.

The native block hook (`_blockcount.c`, or its Python fallback in `blockcount.py`) stops the
engine *before* a translation block that may hold one -- in the fast (block-counted) slices and
in the counted runs alike -- using only what costs two compares on an ordinary block:

- `IPWRAP`: 16-bit code (real mode, vm86, a 16-bit code segment) whose block runs past offset
  FFFFh.  Unicorn carries on at CS:10000h (EIP 0001xxxxh); the CPU and QEMU 7.2 wrap IP to 0000.
  (An instruction straddling FFFFh is fetched as QEMU 7.2 fetches it, from CS.base+10000h on,
  and IP wraps after it.)
- `FLAGS`: RF set, or vm86 at IOPL 3: Unicorn's PUSHF/PUSHFD store VM and RF in the image, where
  the CPU stores both as 0; and Unicorn never clears RF once IRET has loaded it, where the CPU
  clears it when the next instruction completes.

The machine then runs that block exactly (`prepare`): one instruction per slice, corrected after
it; or, for a vm86 block at IOPL 3 with no PUSHF byte in it, the whole block let through once.
A fast slice that meets such a block is run again exactly (as for any irregular block), so both
ways of running give the same states.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Callable

from debugger.cpustate import RF_RF, RF_VM
from debugger.machine import uc_layout as L

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort

__all__ = ["IPWRAP", "FLAGS", "ALL", "special", "prepare"]

IPWRAP, FLAGS = 1, 2
ALL = IPWRAP | FLAGS
_HF_CS32, _HF_CS64 = 1 << 4, 1 << 15
_IOPL = 0x3000
_CS_BASE = L.OFF_SEGS + 24 + 8
_PREFIXES = frozenset({0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3})


def special(eng: L.Engine, address: int, size: int) -> int:
    """The `_blockcount.c` rule (`exact_special`), for the pure-Python fallback hook."""
    hf = eng.u32(L.OFF_HFLAGS)
    ef = eng.u64(L.OFF_EFLAGS)
    why = 0
    if not hf & (_HF_CS32 | _HF_CS64):
        eip = (address - eng.u64(_CS_BASE)) & 0xFFFFFFFF
        if eip <= 0xFFFF and eip + size > 0x10000:
            why |= IPWRAP
    if ef & RF_RF or (ef & RF_VM and ef & _IOPL == _IOPL):
        why |= FLAGS
    return why


@lru_cache(maxsize=None)
def _cs(bits: int):   # noqa: ANN202
    from capstone import CS_ARCH_X86, CS_MODE_16, CS_MODE_32, CS_MODE_64, Cs

    return Cs(CS_ARCH_X86, {16: CS_MODE_16, 32: CS_MODE_32, 64: CS_MODE_64}[bits])


def _opcode(code: bytes, bits: int) -> tuple[int, set[int]]:
    """Index of the opcode byte after the prefixes (and a REX in 64-bit code), and the
    prefixes."""
    i, seen = 0, set()
    while i < len(code) and (code[i] in _PREFIXES or (bits == 64 and 0x40 <= code[i] < 0x50)):
        seen.add(code[i])
        i += 1
    return i, seen


def prepare(m: "MachinePort", sp: tuple[int, int, int]) -> tuple[int | None, Callable[[], None] | None]:
    """For the block `sp` = (why, address, size) the last run stopped before, at CS:IP now: how
    many instructions the next slice may run (None: as many as it wanted) and what to correct
    after its one instruction (None: nothing).  Lets the block through the hook once."""
    why, address, size = sp
    cpu = m.cpu
    _sel, rip0, pc, bits = cpu.where()
    ef0 = cpu.eflags
    m._blocks.allow(pc)
    try:
        code = m.mem.read_linear(pc, 16)
    except Exception:
        return 1, None              # (the fetch faults: nothing to correct)
    i, prefixes = _opcode(code, bits)
    op = code[i] if i < len(code) else -1
    if not (why & IPWRAP or ef0 & RF_RF):
        # vm86 at IOPL 3: only a PUSHF needs a correction; a block without the byte runs whole
        try:
            block = m.mem.read_linear(address, size) if address == pc else code
        except Exception:
            block = code
        if 0x9C not in block:
            return None, None
    ins = next(_cs(bits).disasm_lite(code, rip0, 1), None)
    length = ins[1] if ins is not None else 0
    pushf = op == 0x9C and (bits == 64 or (0x66 in prefixes) == (bits == 16))
    cs_base = cpu.seg("cs").base

    def fix() -> None:
        ef = cpu.eflags
        changed = False
        if pushf and ef0 & (RF_RF | RF_VM):
            ss = cpu.seg("ss")
            mask = 0xFFFFFFFFFFFFFFFF if bits == 64 else 0xFFFFFFFF if ss.db else 0xFFFF
            top = (ss.base if bits != 64 else 0) + (cpu.gpr(4) & mask)
            try:
                image = m.mem.read_linear_u(top, 4)
                if image & (RF_RF | RF_VM):
                    m.mem.write_linear_u(top, 4, image & ~(RF_RF | RF_VM))
            except Exception:
                pass
        if ef0 & RF_RF and ef & RF_RF and op != 0xCF:
            # (RF lasts one instruction; IRET loads it from its image)
            cpu.eflags = ef & ~RF_RF
            changed = True
        if why & IPWRAP and bits == 16 and rip0 <= 0xFFFF and length:
            rip = cpu.rip
            if (rip == rip0 + length and rip > 0xFFFF and cpu.where()[3] == 16
                    and cpu.seg("cs").base == cs_base):
                cpu.rip = rip & 0xFFFF
                changed = True
        if changed:
            m.mutations += 1
    return 1, fix
