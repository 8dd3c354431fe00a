"""Whether a block's last instruction may switch tasks is judged on that instruction, decoded.

The block hook looked at the last bytes only (an EA/9A seven or five bytes from the end, an
FF /3 or /5 near it, a CF last): GRUB 2's TSC calibration loop ends `c1 ea 05 29 11 f9 eb d8`
(`shr edx, 5` puts an EA seven bytes from the end, and the block stores through [ebp-...]), so
the hook took it for a far JMP whose descriptor the block may write and stopped before it at
every one of its 113,000 entries -- GRUB's core.img took 4.6 s to its prompt instead of 0.4.
Where the whole block decodes (`storescan.last_insn`, `_storescan.c`), only its last
instruction counts now; the native hook and the pure-Python fallback judge alike.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from debugger.machine import blockcount, exactfix, storescan
from debugger.machine.taskinsn import task_tail, task_tail_exact
from tests.conftest import GDT_PM, GDT_TAIL, nasm_available

GRUB_BLOCK = bytes.fromhex("2945f4 2945f0 8b11 c1ea05 2911 f9 ebd8")

LOOP = GDT_PM + """
    mov ecx, 0x8000
    mov ebp, 0x8100
    mov ebx, 3000
    jmp short .go
    align 64
.go:
    sub [ebp - 0xc], eax        ; stores of unknown address before the tail
    sub [ebp - 0x10], eax
    mov edx, [ecx]
    shr edx, 5                  ; c1 ea 05: an EA seven bytes before the block's end
    sub [ecx], edx
    dec ebx
    jnz .go
    hlt
""" + GDT_TAIL


def test_the_last_instruction_decides():
    assert task_tail(GRUB_BLOCK) & 2                    # (the bytes alone: a candidate)
    assert task_tail_exact(GRUB_BLOCK, True) == 0
    stores = bytes.fromhex("2945f4")
    for block, code32, kinds in (
            (stores + bytes.fromhex("ea 00000000 2800"), True, 2),         # jmp 28:0
            (stores + bytes.fromhex("9a 00000000 2800"), True, 2),         # call 28:0
            (bytes.fromhex("2946f4 ea 0000 2800"), False, 2),              # 16-bit jmp 28:0
            (bytes.fromhex("2946f4 66ea 00000000 2800"), False, 2),        # jmp dword 28:0
            (stores + bytes.fromhex("ff2d 00100000"), True, 4),            # jmp far [1000h]
            (stores + bytes.fromhex("cf"), True, 1),                       # iretd
            (stores + bytes.fromhex("b0cf c3"), True, 0),                  # mov al, 0cfh; ret
            (stores + bytes.fromhex("b8 00ea0000 c3"), True, 0)):          # mov eax, 0ea00h; ret
        assert task_tail_exact(block, code32) == kinds, block.hex()


def test_native_last_instruction_is_the_python_one():
    import ctypes

    lib = blockcount._lib()
    if lib is None:
        pytest.skip("no native block hook")
    last = lib.bootdbg_last_insn
    last.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_int]
    rng = random.Random(11)
    common = bytes([0x66, 0x67, 0x0F, 0xEA, 0x9A, 0xCF, 0xFF, 0x2D, 0x1D, 0x89, 0xC1, 0x05,
                    0x80, 0x26, 0x00, 0xEB])
    decoded = 0
    for _ in range(20_000):
        n = rng.randrange(1, 24)
        p = bytes(rng.choice(common) if rng.random() < 0.5 else rng.randrange(256)
                  for _ in range(n))
        for code32 in (False, True):
            want = storescan.last_insn(p, code32)
            assert last(p, n, int(code32)) == (-1 if want is None else want), (p.hex(), code32)
            decoded += want is not None
    assert decoded > 5_000


def test_a_loop_that_only_looks_like_a_far_jump_is_not_stopped_before(boot, monkeypatch):
    if not nasm_available():
        pytest.skip("nasm is not installed")
    seen = []
    orig = exactfix.prepare

    def prepare(m, sp):
        seen.append(sp)
        return orig(m, sp)
    monkeypatch.setattr(exactfix, "prepare", prepare)
    m = boot(LOOP)
    r = m.run(200_000)
    assert r.reason == "halted", r
    assert len([sp for sp in seen if sp[0] & exactfix.TASK]) <= 2, seen[:5]


def test_pure_python_fallback_judges_the_same():
    """The loop above without the native block hook (BOOTDBG_NO_NATIVE=1)."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, BOOTDBG_NO_NATIVE="1", PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                          "-k", "looks_like", str(Path(__file__))], capture_output=True,
                         text=True, env=env, cwd=root, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 passed" in out.stdout, out.stdout[-2000:]
