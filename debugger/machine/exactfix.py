"""Instructions Unicorn (QEMU 5) executes differently from the CPU and from QEMU 7.2, run one at
a time and corrected after each.

The native block hook (`_blockcount.c`, or its Python fallback in `blockcount.py`) stops the
engine *before* a translation block that may hold one -- in the fast (block-counted) slices and
in the counted runs alike:

- `IPWRAP`: 16-bit code (real mode, vm86, a 16-bit code segment) whose block runs past offset
  FFFFh.  Unicorn carries on at CS:10000h (EIP 0001xxxxh); QEMU 7.2 (where CS.base+10000h is a
  page boundary) and the 8086 wrap IP to 0000, and so does bootdbg everywhere.
  (An instruction straddling FFFFh is fetched as QEMU 7.2 fetches it, from CS.base+10000h on,
  and IP wraps after it.)
- `FLAGS`: RF set, or vm86 at IOPL 3: Unicorn's PUSHF/PUSHFD store VM and RF in the image, where
  the CPU stores both as 0; and Unicorn never clears RF once IRET has loaded it, where the CPU
  clears it when the next instruction completes.
- `SCAN`: a block whose bytes may hold `LOCK NEG m` (Unicorn sets SF/ZF/PF from the operand
  before the negation) or `SMSW r32` (Unicorn writes 16 bits; QEMU 7.2 stores CR0[31:0]).
- `TASK`: a block whose last instruction switches tasks (IRET with NT=1, far JMP/CALL to a TSS
  or task gate -- or may, after a store in the block that may reach its descriptor:
  `storescan.py`): the machine does that instruction itself (`taskinsn.py`).

`IPWRAP`, `SCAN` and whether a block's last instruction may be an IRET or a far JMP/CALL are
functions of the block alone (address, size, CS base, mode, bytes): the native hook judges each
translation block once and keeps the verdict in spare bits of the block's cflags, so an
ordinary block that runs again costs one test (and one of EFLAGS for `FLAGS`).

The machine then runs such a block exactly (`prepare`): the instructions before the first one
Unicorn gets wrong as one counted run, that one alone, corrected after it (`fix`); a block with
none (a byte pattern that was an immediate) is let through whole.  A fast slice that meets such
a block is run again exactly, as for any irregular block, so both ways give the same states.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Callable

from debugger.cpustate import RF_RF, RF_VM
from debugger.machine import taskinsn
from debugger.machine import uc_layout as L

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort

__all__ = ["IPWRAP", "FLAGS", "TASK", "ALL", "special", "prepare"]

IPWRAP, FLAGS, SCAN, TASK = 1, 2, 4, 8
ALL = IPWRAP | FLAGS | SCAN | TASK
_HF_CS32, _HF_CS64 = 1 << 4, 1 << 15
_IOPL = 0x3000
_CS_BASE = L.OFF_SEGS + 24 + 8
_PREFIXES = frozenset({0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3})


def scan_code(code: bytes, code64: bool) -> bool:
    """`_blockcount.c`'s `scan_code`: may `code` hold LOCK NEG m or SMSW r (conservative)?"""
    i = code.find(0xF0)
    while i >= 0:
        j = i + 1
        while j < len(code) and (code[j] in _PREFIXES or (code64 and 0x40 <= code[j] < 0x50)):
            j += 1
        if j + 1 < len(code) and code[j] in (0xF6, 0xF7) and (code[j + 1] >> 3) & 7 == 3 \
                and code[j + 1] >> 6 != 3:
            return True
        i = code.find(0xF0, i + 1)
    if not code64:
        i = code.find(b"\x0f\x01")
        while i >= 0:
            if i + 2 < len(code) and code[i + 2] & 0xF8 == 0xE0:
                return True
            i = code.find(b"\x0f\x01", i + 1)
    return False


def special(eng: L.Engine, address: int, size: int,
            read: Callable[[int, int], bytes] | None = None,
            read_data: Callable[[int, int], bytes] | None = None) -> int:
    """The `_blockcount.c` rule (`exact_special`), for the pure-Python fallback hook (`read`:
    the block's bytes, `read_data`: memory; none: no scan, no task-switch check)."""
    hf = eng.u32(L.OFF_HFLAGS)
    ef = eng.u64(L.OFF_EFLAGS)
    why = 0
    if not hf & (_HF_CS32 | _HF_CS64):
        eip = (address - eng.u64(_CS_BASE)) & 0xFFFFFFFF
        if eip <= 0xFFFF and eip + size >= 0x10000:
            why |= IPWRAP
    if ef & RF_RF or (ef & RF_VM and ef & _IOPL == _IOPL):
        why |= FLAGS
    if read is not None:
        try:
            if scan_code(read(address, size), bool(hf & _HF_CS64)):
                why |= SCAN
        except Exception:
            pass
    if read is not None and read_data is not None:
        from debugger.machine.taskinsn import switches_now

        if switches_now(eng, address, size, read, read_data):
            why |= TASK
    return why


@lru_cache(maxsize=None)
def _cs(bits: int, detail: bool = False):   # noqa: ANN202
    from capstone import CS_ARCH_X86, CS_MODE_16, CS_MODE_32, CS_MODE_64, Cs

    md = Cs(CS_ARCH_X86, {16: CS_MODE_16, 32: CS_MODE_32, 64: CS_MODE_64}[bits])
    md.detail = detail
    return md


def _opcode(code: bytes, bits: int) -> int:
    """Index of the opcode byte after the prefixes (and a REX in 64-bit code)."""
    i = 0
    while i < len(code) and (code[i] in _PREFIXES or (bits == 64 and 0x40 <= code[i] < 0x50)):
        i += 1
    return i


def _wrong(code: bytes, bits: int, eip: int, length: int, ef: int, why: int) -> frozenset[str]:
    """What Unicorn gets wrong in the instruction `code` at `eip` (empty: nothing)."""
    i = _opcode(code, bits)
    op = code[i] if i < len(code) else -1
    o32 = bits == 64 or (0x66 in code[:i]) == (bits == 16)
    kinds = set()
    if why & IPWRAP and bits == 16 and eip <= 0xFFFF and eip + length >= 0x10000:
        kinds.add("ipwrap")
    if ef & RF_RF:
        kinds.add("rf")
    if op == 0x9C and o32 and ef & (RF_VM | RF_RF):
        kinds.add("pushf")
    if why & SCAN and i + 1 < len(code):
        modrm = code[i + 1] if op != 0x0F else (code[i + 2] if i + 2 < len(code) else 0)
        if op in (0xF6, 0xF7) and 0xF0 in code[:i] and (modrm >> 3) & 7 == 3 and modrm >> 6 != 3:
            kinds.add("lockneg")
        if (op == 0x0F and code[i + 1] == 0x01 and modrm & 0xF8 == 0xE0 and bits != 64
                and o32):
            kinds.add("smsw")
    return frozenset(kinds)


def prepare(m: "MachinePort", sp: tuple[int, int, int]) -> tuple[int | None, Callable[[], None] | None]:
    """For the block `sp` = (why, address, size) the last run stopped before, at CS:IP now: how
    many instructions the next slice may run (None: as many as it wanted; 0: none, the
    instruction at CS:IP switches tasks and the machine does it, `taskinsn.execute`) and what to
    correct after its one instruction (None: nothing).  Lets the block through the hook once."""
    why, address, size = sp
    cpu = m.cpu
    _sel, rip0, pc, bits = cpu.where()
    ef0 = cpu.eflags
    m._blocks.allow(address)          # (the hook's address: CS.base+EIP, not wrapped at 4 GiB)
    try:
        block = m.mem.read_linear(pc, max(size, 1) + 15)
    except Exception:
        try:
            block = m.mem.read_linear(pc, max(size, 1))
        except Exception:
            return 1, None              # (the fetch faults: nothing to correct)
    insns = [length for _a, length, _m, _o in _cs(bits).disasm_lite(block, 0)]
    off = 0
    for k, length in enumerate(insns):
        if off >= size:
            break
        eip = (rip0 + off) & 0xFFFFFFFF
        code = block[off:off + length]
        if why & TASK and off + length >= size and taskinsn.candidate(code, bits):
            if k:
                return k, None          # (up to it; then the hook judges it again)
            if taskinsn.switches(m, code, bits):
                return 0, None
        kinds = _wrong(code, bits, eip, length, ef0, why)
        if kinds:
            return (k, None) if k else (1, _fixer(m, kinds, block[off:off + length], bits))
        off += length
    return None, None


def _fixer(m: "MachinePort", kinds: frozenset[str], code: bytes,
           bits: int) -> Callable[[], None]:
    """The correction after the one instruction `code` at CS:IP now, Unicorn's way, ran."""
    cpu = m.cpu
    rip0, ef0 = cpu.rip, cpu.eflags
    cs_base = cpu.seg("cs").base
    i = _opcode(code, bits)
    where = None
    if "lockneg" in kinds:
        from debugger.machine.undocumented import operand_linear

        ins = next(_cs(bits, True).disasm(code, 0, 1), None)
        if ins is not None and ins.operands:
            where = operand_linear(m, ins, ins.operands[0], code[:i], bits), ins.operands[0].size

    def fix() -> None:
        ef = cpu.eflags
        if "ipwrap" in kinds:
            rip = cpu.rip
            if (rip == rip0 + len(code) and rip > 0xFFFF and cpu.where()[3] == 16
                    and cpu.seg("cs").base == cs_base):
                cpu.rip = rip & 0xFFFF
        if "pushf" in kinds:
            ss = cpu.seg("ss")
            mask = 0xFFFFFFFFFFFFFFFF if bits == 64 else 0xFFFFFFFF if ss.db else 0xFFFF
            top = (ss.base if bits != 64 else 0) + (cpu.gpr(4) & mask)
            try:
                image = m.mem.read_linear_u(top, 4)
                if image & (RF_RF | RF_VM):
                    m.mem.write_linear_u(top, 4, image & ~(RF_RF | RF_VM), guest=True)
            except Exception:
                pass
        if "smsw" in kinds:
            cpu.set_gpr(code[i + 2] & 7, cpu.cr(0) & 0xFFFFFFFF)
        if "lockneg" in kinds and where is not None:
            (linear, _user), size = where
            try:
                r = int.from_bytes(m.mem.read_linear(linear, size), "little")
            except Exception:
                r = None
            if r is not None:
                ef = ef & ~0xC4 | (0x40 if r == 0 else 0) | (0x80 if r >> (8 * size - 1) else 0) \
                    | (0x04 if bin(r & 0xFF).count("1") % 2 == 0 else 0)
        if ef0 & RF_RF and ef & RF_RF and code[i:i + 1] != b"\xcf":
            ef &= ~RF_RF          # (RF lasts one instruction; IRET loads it from its image)
        if ef != cpu.eflags:
            cpu.eflags = ef
        m.mutations += 1
    return fix
