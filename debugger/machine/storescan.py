"""May a translation block change what its last instruction's far pointer names before it runs?

The block hook judges whether a block ending in `JMP/CALL ptr16:16/32` switches tasks by
reading its selector's descriptor as the block is entered.  An instruction earlier in the same
block may still change it: a store into the GDT/LDT (the descriptor, a task gate), or LGDT/LLDT
(no such instruction ends a block in QEMU 5).  Judging a block once, `stores_before` says
whether any instruction before the last may store (explicitly, to the stack, by a string
instruction), do port I/O (a device may write RAM or move the A20 gate) or run 0F 00 / 0F 01
(the descriptor-table instructions); True, too, for anything it cannot decode or a decoding that
does not end exactly at the block's end.  For such a block, on each entry, `stores_hit` locates
the stores to `[disp]` (with the segment bases at entry) and says whether one may reach the
descriptor; any other store, I/O, descriptor-table instruction, a store to `[disp]` after a
segment load, or more than `STORES_MAX` of them counts as one that may (the native hook keeps
the located stores with the block's tail, so an entry costs a comparison or two).  A block
where it may is stopped before, as one ending in `FAR [mem]` is, and the machine then looks at
the far JMP/CALL when it is about to run (an `inc dword [count]` before `jmp 0x20:pm16`, as
in bench-switch, costs no stop).  NT, for IRET, needs nothing of the kind: only POPF, IRET
and task switches change it, each ending its block.

`_storescan.c` is the same decoder, byte for byte (a test compares them).  16- and 32-bit code
only (the hook looks at far JMP/CALL tails in protected mode, not vm86 or long mode).
"""
from __future__ import annotations

__all__ = ["decode", "last_insn", "stores_abs", "stores_before", "stores_hit", "stores_reach"]

_PREFIXES = frozenset({0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3})

# One-byte opcodes: (has ModRM, immediate kind); immediate kinds: 0 none, 1 imm8, 2 imm16,
# 3 immz (16/32 by operand size), 4 ptr16:16/32, 5 moffs (16/32 by address size),
# 6 imm16+imm8 (ENTER), 7 F6/F7 (imm8/immz for /0 /1 only), -1 undecodable here
_UNKNOWN = (False, -1)


def _one_byte() -> list[tuple[bool, int]]:
    t = [(False, 0)] * 256
    for x in range(8):
        b = x * 8
        t[b] = t[b + 1] = t[b + 2] = t[b + 3] = (True, 0)
        t[b + 4], t[b + 5] = (False, 1), (False, 3)
    t[0x0F] = _UNKNOWN                  # (handled apart)
    t[0x62] = t[0x63] = (True, 0)
    t[0x68], t[0x69], t[0x6A], t[0x6B] = (False, 3), (True, 3), (False, 1), (True, 1)
    for op in range(0x70, 0x80):
        t[op] = (False, 1)
    t[0x80], t[0x81], t[0x82], t[0x83] = (True, 1), (True, 3), (True, 1), (True, 1)
    for op in range(0x84, 0x90):
        t[op] = (True, 0)
    t[0x9A] = (False, 4)
    for op in range(0xA0, 0xA4):
        t[op] = (False, 5)
    t[0xA8], t[0xA9] = (False, 1), (False, 3)
    for op in range(0xB0, 0xB8):
        t[op] = (False, 1)
    for op in range(0xB8, 0xC0):
        t[op] = (False, 3)
    t[0xC0] = t[0xC1] = (True, 1)
    t[0xC2] = (False, 2)
    t[0xC4] = t[0xC5] = (True, 0)       # LES/LDS (a VEX prefix when mod = 3: not decoded)
    t[0xC6], t[0xC7] = (True, 1), (True, 3)
    t[0xC8], t[0xCA], t[0xCD] = (False, 6), (False, 2), (False, 1)
    for op in range(0xD0, 0xD4):
        t[op] = (True, 0)
    t[0xD4] = t[0xD5] = (False, 1)
    for op in range(0xD8, 0xE0):
        t[op] = (True, 0)
    for op in range(0xE0, 0xE8):
        t[op] = (False, 1)
    t[0xE8] = t[0xE9] = (False, 3)
    t[0xEA], t[0xEB] = (False, 4), (False, 1)
    t[0xF6] = t[0xF7] = (True, 7)
    t[0xFE] = t[0xFF] = (True, 0)
    return t


def _two_byte() -> list[tuple[bool, int]]:
    t = [_UNKNOWN] * 256
    for op in (0x00, 0x01, 0x02, 0x03, 0x0D, *range(0x10, 0x24), *range(0x28, 0x30),
               *range(0x40, 0x80), *range(0x90, 0xA0), 0xA3, 0xA5, 0xAB, *range(0xAD, 0xC2),
               0xC3, 0xC7, *range(0xD0, 0x100)):
        t[op] = (True, 0)
    for op in (0x05, 0x06, 0x07, 0x08, 0x09, 0x0B, 0x0E, *range(0x30, 0x38), 0x77, 0xA0, 0xA1,
               0xA2, 0xA8, 0xA9, 0xAA, *range(0xC8, 0xD0)):
        t[op] = (False, 0)
    for op in (0x0F, 0x70, 0x71, 0x72, 0x73, 0xA4, 0xAC, 0xBA, 0xC2, 0xC4, 0xC5, 0xC6):
        t[op] = (True, 1)
    for op in range(0x80, 0x90):
        t[op] = (False, 3)
    t[0x24] = t[0x25] = t[0x26] = t[0x27] = _UNKNOWN
    return t


_ONE, _TWO = _one_byte(), _two_byte()
# ModRM forms that only read memory (anything else with a memory operand may store)
_READS_ONE = frozenset({0x02, 0x03, 0x0A, 0x0B, 0x12, 0x13, 0x1A, 0x1B, 0x22, 0x23, 0x2A, 0x2B,
                        0x32, 0x33, 0x38, 0x39, 0x3A, 0x3B, 0x62, 0x69, 0x6B, 0x84, 0x85, 0x8A,
                        0x8B, 0x8D, 0x8E, 0xC4, 0xC5})
_READS_TWO = frozenset({0x02, 0x03, *range(0x40, 0x50), 0xA3, 0xAF, 0xB6, 0xB7, 0xB8, 0xBC,
                        0xBD, 0xBE, 0xBF})
# Stores without a ModRM memory operand: pushes, string stores, MOV moffs,A, port I/O, calls
_WRITES_ONE = frozenset({0x06, 0x0E, 0x16, 0x1E, *range(0x50, 0x58), 0x60, 0x68, 0x6A, 0x6C,
                         0x6D, 0x6E, 0x6F, 0x9A, 0x9C, 0xA2, 0xA3, 0xA4, 0xA5, 0xAA, 0xAB,
                         0xC8, 0xCC, 0xCD, 0xCE, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xEC, 0xED,
                         0xEE, 0xEF})
_WRITES_TWO = frozenset({0x00, 0x01, 0xA0, 0xA8})


def _modrm_length(p: bytes, i: int, a32: bool) -> int:
    """Bytes of the ModRM at p[i] with its SIB and displacement (-1: past the end)."""
    if i >= len(p):
        return -1
    modrm = p[i]
    mod, rm = modrm >> 6, modrm & 7
    if mod == 3:
        return 1
    if not a32:
        return 1 + (1 if mod == 1 else 2 if mod == 2 or rm == 6 else 0)
    n = 1
    if rm == 4:
        if i + 1 >= len(p):
            return -1
        n += 1
        if mod == 0 and p[i + 1] & 7 == 5:
            n += 4
    return n + (1 if mod == 1 else 4 if mod == 2 or (mod == 0 and rm == 5) else 0)


# Effects of an instruction (`decode`)
NONE, ABS, ANY, SREG = 0, 1, 2, 3   # no store; a store to [disp] only; may store anywhere (or
#                                     I/O, a descriptor-table instruction); a segment load
_SREG_ONE = frozenset({0x07, 0x17, 0x1F, 0x8E, 0xC4, 0xC5})
_SREG_TWO = frozenset({0xA1, 0xA9, 0xB2, 0xB4, 0xB5})
_SEGS = {0x26: 0, 0x2E: 1, 0x36: 2, 0x3E: 3, 0x64: 4, 0x65: 5}   # ES CS SS DS FS GS
_DS = 3


def _absolute(p: bytes, j: int, a32: bool) -> int | None:
    """The displacement of the ModRM at p[j] when it names [disp] alone (else None)."""
    modrm = p[j]
    if a32 and modrm & 0xC7 == 0x05:
        return int.from_bytes(p[j + 1:j + 5], "little")
    if not a32 and modrm & 0xC7 == 0x06:
        return int.from_bytes(p[j + 1:j + 3], "little")
    return None


def decode(p: bytes, i: int, code32: bool) -> tuple[int, int, int, int]:
    """(length, effect, segment, offset) of the instruction at p[i] (length -1: not decoded
    here); for ABS, the store's segment register (0 ES .. 5 GS) and offset."""
    j, o32, a32, seg = i, code32, code32, _DS
    while j < len(p) and p[j] in _PREFIXES and j - i < 14:
        if p[j] == 0x66:
            o32 = not code32
        elif p[j] == 0x67:
            a32 = not code32
        elif p[j] in _SEGS:
            seg = _SEGS[p[j]]
        j += 1
    if j >= len(p):
        return -1, ANY, 0, 0
    op = p[j]
    j += 1
    two = op == 0x0F
    if two:
        if j >= len(p):
            return -1, ANY, 0, 0
        op = p[j]
        j += 1
        if op in (0x38, 0x3A):          # three-byte maps: ModRM (and imm8 for 0F 3A)
            if j >= len(p):
                return -1, ANY, 0, 0
            j += 1
            n = _modrm_length(p, j, a32)
            return (-1, ANY, 0, 0) if n < 0 else (j + n + (1 if op == 0x3A else 0) - i, ANY, 0, 0)
    has_modrm, imm = (_TWO if two else _ONE)[op]
    if imm < 0:
        return -1, ANY, 0, 0
    effect = ANY if op in (_WRITES_TWO if two else _WRITES_ONE) else NONE
    if op in (_SREG_TWO if two else _SREG_ONE):
        effect = SREG
    offset = 0
    if has_modrm:
        if j >= len(p):
            return -1, ANY, 0, 0
        modrm = p[j]
        reg = (modrm >> 3) & 7
        if not two and op in (0xC4, 0xC5) and modrm >> 6 == 3:
            return -1, ANY, 0, 0
        n = _modrm_length(p, j, a32)
        if n < 0 or j + n > len(p):
            return -1, ANY, 0, 0
        if modrm >> 6 != 3 and effect == NONE:
            if two:
                reads = op in _READS_TWO or (op == 0xBA and reg == 4)
                other = op in (0xAB, 0xAE, 0xB3, 0xBB) or (op == 0xC7 and reg != 1)
            else:
                reads = (op in _READS_ONE or (0x80 <= op <= 0x83 and reg == 7)
                         or (op in (0xF6, 0xF7) and reg not in (2, 3)))
                other = 0xD8 <= op <= 0xDF
            if not reads:
                disp = _absolute(p, j, a32)
                effect = ANY if other or disp is None else ABS
                offset = disp or 0
        if not two and op == 0xFF and reg in (2, 3, 6):
            effect = ANY                # (CALL, PUSH: the stack)
        j += n
        if imm == 7:
            imm = (1 if op == 0xF6 else 3) if reg in (0, 1) else 0
    size = {0: 0, 1: 1, 2: 2, 3: 4 if o32 else 2, 4: (4 if o32 else 2) + 2,
            5: 4 if a32 else 2, 6: 3}[imm]
    if not two and op in (0xA2, 0xA3):  # MOV [moffs], AL/eAX
        effect, offset = ABS, int.from_bytes(p[j:j + size], "little")
    return j + size - i, effect, seg, offset


def last_insn(p: bytes, code32: bool) -> int | None:
    """Where the block's last instruction begins, when the whole block decodes here."""
    i = 0
    while True:
        n = decode(p, i, code32)[0]
        if n < 0 or i + n > len(p):
            return None
        if i + n == len(p):
            return i
        i += n


def stores_before(p: bytes, code32: bool) -> bool:
    """May an instruction of the block `p` before its last one store to memory, do port I/O or
    load a descriptor table?  (True, too, when `p` does not decode here.)"""
    i = 0
    while True:
        n, effect, _seg, _off = decode(p, i, code32)
        if n < 0 or i + n > len(p):
            return True
        if i + n == len(p):
            return False
        if effect in (ABS, ANY):
            return True
        i += n


STORES_MAX = 4      # stores to [disp] located in one block, at most


def stores_abs(p: bytes, code32: bool) -> list[tuple[int, int]] | None:
    """The stores to [disp] before the block's last instruction, (segment 0 ES .. 5 GS,
    offset), when they are all it may store: nothing else that may store, no port I/O or
    descriptor-table instruction, no segment load before one, at most STORES_MAX; else None
    (also when `p` does not decode here)."""
    i, loaded, found = 0, False, []
    while True:
        n, effect, seg, offset = decode(p, i, code32)
        if n < 0 or i + n > len(p):
            return None
        if i + n == len(p):
            return found
        if effect == ANY:
            return None
        if effect == SREG:
            loaded = True
        elif effect == ABS:
            if loaded or len(found) == STORES_MAX:
                return None
            found.append((seg, offset))
        i += n


def stores_reach(found: list[tuple[int, int]] | None, seg_bases: tuple[int, ...],
                 linear: int) -> bool:
    """May one of the stores `found` (16 bytes from where it begins, at most) reach the 8
    bytes at `linear`, the segment bases (ES..GS) being `seg_bases`?"""
    if found is None:
        return True
    for seg, offset in found:
        at = seg_bases[seg] + offset
        if at + 16 > 1 << 32 or (at < linear + 8 and linear < at + 16):
            return True
    return False


def stores_hit(p: bytes, code32: bool, seg_bases: tuple[int, ...], linear: int) -> bool:
    """May an instruction of the block `p` before its last one change the 8 bytes at `linear`
    (a descriptor), the segment bases being `seg_bases` (ES..GS) as the block begins?"""
    return stores_reach(stores_abs(p, code32), seg_bases, linear)
