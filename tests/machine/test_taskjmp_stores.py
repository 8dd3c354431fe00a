"""A far JMP/CALL ptr16:xx to a descriptor its own translation block has just written.

The block hook decides whether such a block switches tasks (and so must be stopped before: the
machine does the switch, Unicorn's is wrong with 16-bit TSSs) by reading the selector's
descriptor as the block is entered -- before the block's stores.  Before, a block that wrote a
16-bit TSS descriptor or a task gate and then jumped to it was let through: Unicorn switched,
stored the outgoing 32-bit task in the 16-bit format (the main TSS's saved EIP stayed 0) and
only the exact one-instruction run was right.  Now such blocks (any store, port I/O or
descriptor-table load before the tail: `machine/storescan.py`) are stopped before, as
`FAR [mem]` ones are.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from debugger.machine import blockcount, storescan
from debugger.machine.pc import Stop
from tests.machine.test_taskgate import MAIN, T16, _desc_type, _guest, _resume, _u

# The stores and the far JMP/CALL in one translation block (aligned: no page boundary between).
WRITE_TSS = """
    jmp short .go
    align 64
.go:
    mov dword [gdt + 0x48], 0x2200002b      ; 48: the 16-bit TSS (was: data, not present)
    mov dword [gdt + 0x4c], 0x00008100
jump_at:
    jmp 0x48:0
    hlt
"""
WRITE_GATE = """
    jmp short .go
    align 64
.go:
    mov dword [gdt + 0x48], 0x00380000      ; 48: a task gate to the 16-bit TSS (38h)
    mov dword [gdt + 0x4c], 0x00008500
call_at:
    call 0x48:0
    hlt
"""
SETUP = "    mov dword [0x2200 + 0x2c], 0x77777777\n"


def _run(m, how: str, budget: int = 200_000):
    """Run to the next HLT: fast slices, counted slices, or one instruction at a time."""
    if how == "counted":
        m._fast_on = False
    elif how == "stepped":
        m._fast_on = False
        start = m.icount
        while m.run(1).reason == Stop.BUDGET:
            assert m.icount - start < budget
        return m.state()
    r = m.run(budget)
    assert r.reason == Stop.HALTED, r
    return m.state()


def _every_way(boot, body: str, check, resume_check=None) -> None:
    results = []
    for how in ("fast", "counted", "stepped"):
        m = _guest(boot, SETUP, body)
        st = _run(m, how)
        check(m, st)
        tss = (m.mem.read_linear(MAIN, 0x68), m.mem.read_linear(T16, 0x30))
        if resume_check is not None:
            _resume(m)
            st2 = _run(m, how)
            resume_check(m, st2)
            tss += (m.mem.read_linear(MAIN, 0x68), m.mem.read_linear(T16, 0x30))
        results.append((how, m.icount, m.state(), tss))
        if how == "fast":
            assert m.fast_slices + m.fast_redone > 0 or not blockcount.available()
    assert results[0][1:] == results[1][1:] == results[2][1:]


def test_jmp_to_a_16_bit_tss_written_in_the_same_block(boot):
    def check(m, st):
        assert st.tr.selector == 0x48 and st.tr.base == T16 and st.tr.limit == 0x2B
        assert (st.rax, st.rcx, st.rdi) == (0xFFFF1600, 0xFFFF1601, 0xFFFF1607)
        assert st.rsp == 0xFFFF6000 and st.ss.selector == 0x50
        assert not st.rflags & 0x4000                       # (a JMP: no NT, no back link)
        assert _desc_type(m, 0x48) == 0x3 and _desc_type(m, 0x28) == 0x9
        # The outgoing task in its own (32-bit) format: EIP after the JMP, EAX, ESP.
        after = _u(m, MAIN + 0x20)
        assert m.mem.read_linear(after - 7, 1) == b"\xea"
        assert (_u(m, MAIN + 0x28), _u(m, MAIN + 0x38)) == (0x11111111, 0x9000)
        assert [_u(m, MAIN + 0x48 + 4 * i, 2) for i in range(6)] == [0x10, 8] + [0x10] * 4
        assert _u(m, T16 + 0x2C) == 0x77777777              # (past the 16-bit TSS: untouched)
    _every_way(boot, WRITE_TSS, check)


def test_call_through_a_task_gate_built_in_the_same_block(boot):
    def check(m, st):
        assert st.tr.selector == 0x38 and st.tr.base == T16
        assert (st.rax, st.rdi) == (0xFFFF1600, 0xFFFF1607)
        assert st.rflags & 0x4000 and _u(m, T16, 2) == 0x28  # NT, back link
        assert _desc_type(m, 0x38) == 0x3 and _desc_type(m, 0x28) == 0xB
        after = _u(m, MAIN + 0x20)
        assert m.mem.read_linear(after - 7, 1) == b"\x9a"
        assert (_u(m, MAIN + 0x28), _u(m, MAIN + 0x34)) == (0x11111111, 0x22222222)
        assert _u(m, T16 + 0x2C) == 0x77777777

    def back(m, st):                    # IRET (NT=1) to the main task, saved 16-bit
        assert st.tr.selector == 0x28 and not st.rflags & 0x4000
        assert m.mem.read_linear(st.rip - 8, 1) == b"\x9a"
        assert (st.rax, st.rbx) == (0x11111111, 0x22222222)
        assert _desc_type(m, 0x38) == 0x1 and _desc_type(m, 0x28) == 0xB
        assert [_u(m, T16 + 0x12 + 2 * i, 2) for i in range(4)] == [0x1600, 0x1601, 0x1602, 0x1603]
        assert _u(m, T16 + 0x2C) == 0x77777777
    _every_way(boot, WRITE_GATE, check, back)


def test_popf_ends_its_translation_block():
    """Why IRET needs no such care: NT, read as its block is entered, changes only by POPF (or
    IRET, a task switch), and QEMU 5 ends a block after POPF (TF/AC may change)."""
    from unicorn import UC_ARCH_X86, UC_HOOK_BLOCK, UC_MODE_32, Uc
    from unicorn.x86_const import UC_X86_REG_ESP

    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 0x10000)
    uc.mem_write(0x1000, bytes.fromhex("9c 9d 90 90 f4"))     # pushfd; popfd; nop; nop; hlt
    uc.reg_write(UC_X86_REG_ESP, 0x8000)
    blocks = []
    uc.hook_add(UC_HOOK_BLOCK, lambda _uc, address, size, _ud: blocks.append((address, size)))
    uc.emu_start(0x1000, 0x1004)
    assert blocks[0] == (0x1000, 2)


def test_stores_before_judges_blocks():
    d16, d32 = False, True
    jmp32 = bytes.fromhex("ea 00000000 4800")
    assert not storescan.stores_before(jmp32, d32)
    # register-only and read-only instructions before the tail
    assert not storescan.stores_before(bytes.fromhex("b8 10000000 8ed8 8b0d 00100000") + jmp32,
                                       d32)
    assert not storescan.stores_before(bytes.fromhex("833d 00200000 05") + jmp32, d32)  # cmp m
    # stores, pushes, string stores, port I/O, LGDT/LLDT
    for before in ("c705 48000000 2b000022", "50", "ab", "e692", "0f0115 00100000", "0f00d0",
                   "a3 00100000", "ff35 00100000", "f615 00100000"):
        assert storescan.stores_before(bytes.fromhex(before) + jmp32, d32), before
    # 16-bit code: MOV [bx+si+4], AX; a 16-bit tail
    jmp16 = bytes.fromhex("ea 0000 4800")
    assert storescan.stores_before(bytes.fromhex("8940 04") + jmp16, d16)
    assert not storescan.stores_before(bytes.fromhex("8b40 04") + jmp16, d16)
    # a decoding that does not end at the block's end, or an opcode not decoded here
    assert storescan.stores_before(bytes.fromhex("b8 1000") + jmp32, d32)
    assert storescan.stores_before(bytes.fromhex("0f24c0") + jmp32, d32)


def test_stores_hit_locates_absolute_stores():
    bases = (0, 0, 0, 0x1000, 0, 0x20000)             # ES CS SS DS FS GS
    jmp32 = bytes.fromhex("ea 00000000 2000")
    desc = 0x7F00 + 0x20
    # inc dword [8190h] (bench-switch's count): DS:8190h is not the descriptor at 7F20h
    block = bytes.fromhex("ff0590810000 bc00700000") + jmp32
    assert storescan.stores_before(block, True)
    assert not storescan.stores_hit(block, True, bases, desc)
    assert storescan.stores_hit(block, True, bases, 0x1000 + 0x8190 + 4)
    # mov dword [6F24h], imm (DS base 1000h): the descriptor's upper half
    assert storescan.stores_hit(bytes.fromhex("c705 246f0000 00810000") + jmp32, True, bases, desc)
    assert not storescan.stores_hit(bytes.fromhex("65c705 246f0000 00810000") + jmp32, True,
                                    bases, desc)       # (GS: 26F24h)
    # mov [moffs], eax; a 16-bit [disp16]
    assert storescan.stores_hit(bytes.fromhex("a3 206f0000") + jmp32, True, bases, desc)
    assert storescan.stores_hit(bytes.fromhex("c706 266f 8100") + bytes.fromhex("ea 0000 2000"),
                                False, bases, desc)
    # more stores to [disp] than are located (STORES_MAX): may hit
    far = bytes.fromhex("a3 00000100")
    assert not storescan.stores_hit(far * storescan.STORES_MAX + jmp32, True, bases, desc)
    assert storescan.stores_hit(far * (storescan.STORES_MAX + 1) + jmp32, True, bases, desc)
    # a store through a register, a push, a segment load before [disp], LGDT: may hit
    for before in ("8903", "50", "8ed8 a3 00000000", "0f0115 00000000", "e680"):
        assert storescan.stores_hit(bytes.fromhex(before) + jmp32, True, bases, desc), before


def test_native_decoder_is_the_python_one():
    import ctypes

    lib = blockcount._lib()
    if lib is None:
        pytest.skip("no native block hook")
    before, hit = lib.bootdbg_stores_before, lib.bootdbg_stores_hit
    before.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_int]
    hit.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_int,
                    ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint64]
    rng = random.Random(5)
    common = bytes([0x66, 0x67, 0x0F, 0x8B, 0x89, 0xC7, 0xF7, 0xFF, 0x80, 0x04, 0x05, 0x06,
                    0x44, 0x25, 0x26, 0x65, 0xA3, 0x8E, 0x00, 0x10])
    seen = set()
    for k in range(20_000):
        n = rng.randrange(1, 24)
        p = bytes(rng.choice(common) if rng.random() < 0.5 else rng.randrange(256)
                  for _ in range(n))
        bases = tuple(rng.choice((0, 0x10, 0xFFFFFFF0, rng.randrange(1 << 32))) for _ in range(6))
        i = rng.randrange(n)                # (near what a [disp] in it would name)
        linear = (bases[rng.randrange(6)] + int.from_bytes(p[i:i + rng.choice((2, 4))], "little")
                  + rng.randrange(-12, 16)) & 0xFFFFFFFF
        cbases = (ctypes.c_uint64 * 6)(*bases)
        for code32 in (False, True):
            assert bool(before(p, n, int(code32))) == storescan.stores_before(p, code32), \
                (p.hex(), code32)
            h = storescan.stores_hit(p, code32, bases, linear)
            assert bool(hit(p, n, int(code32), cbases, linear)) == h, \
                (p.hex(), code32, bases, linear)
            seen.add((storescan.stores_before(p, code32), h))
    assert seen == {(False, False), (True, False), (True, True)}


def test_pure_python_fallback_stops_the_same():
    """The tests above without the native block hook (BOOTDBG_NO_NATIVE=1), in a process of
    their own."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, BOOTDBG_NO_NATIVE="1", PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                          "-k", "same_block", str(Path(__file__))], capture_output=True,
                         text=True, env=env, cwd=root, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
