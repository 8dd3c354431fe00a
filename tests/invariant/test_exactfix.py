"""The instructions Unicorn runs differently from the CPU (debugger/machine/exactfix.py): every way
the machine runs them -- fast block-counted slices, counted slices, one instruction at a time --
gives the same states, and those states are the CPU's.

- Generated 16-bit code placed at 2000:FFFx so that it runs past offset FFFFh (instructions of
  every length, some straddling FFFFh), looped long enough for fast slices: IP wraps to 0000
  after every instruction that passes FFFFh, never EIP 0001xxxxh.
- PUSHFD after IRETD loaded RF, in a loop: the image has RF clear, RF lasts one instruction.
- The conformance images that exercise them, run the three ways: the same output and state.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.machine import blockcount
from debugger.machine.disk import disk_from_bytes
from debugger.machine.pc import Machine, Stop

# 16-bit instructions of every length (none changes CX, SP or the flow but by falling through)
POOL = [b"\x90", b"\x40", b"\xf8", b"\x89\xd8", b"\x66\x40", b"\x74\x00", b"\x3c\x07",
        b"\x8d\x47\x05", b"\x05\x34\x12", b"\x66\x05\x78\x56\x34\x12", b"\x2e\x8b\x1e\x00\x00",
        # LOCK NEG m8/m16/m32 and SMSW r32, which the plain program replaces by the same
        # instruction without LOCK (a DS: prefix instead) and by MOV EAX, CR0 (DS: prefixed)
        b"\xf0\xf6\x1f", b"\xf0\xf7\x1f", b"\x66\xf0\xf7\x1f", b"\x66\x0f\x01\xe0"]
PLAIN = {b"\xf0\xf6\x1f": b"\x3e\xf6\x1f", b"\xf0\xf7\x1f": b"\x3e\xf7\x1f",
         b"\x66\xf0\xf7\x1f": b"\x66\x3e\xf7\x1f", b"\x66\x0f\x01\xe0": b"\x3e\x0f\x20\xc0"}
SEG = 0x2000


def _machine(boot: bytes, ram: dict[int, bytes]) -> Machine:
    sector = boot.ljust(510, b"\xf4") + b"\x55\xaa"
    m = Machine([disk_from_bytes(sector, "gen.img", boot=True)])
    for addr, data in ram.items():
        m.mem.write_phys(addr, data)
    return m


def _wrap_case(start: int, picks: list[int], loops: int,
               plain: bool = False) -> tuple[bytes, dict[int, bytes], int]:
    """Code at SEG:start that runs past FFFFh, a tail where IP lands after the wrap (count down
    CX, jump back), HLT everywhere Unicorn would land without the wrap (SEG:10000h on)."""
    code = b""
    for i in picks:
        one = POOL[i % len(POOL)]
        code += PLAIN.get(one, one) if plain else one
        if start + len(code) > 0xFFFF:
            break
    while start + len(code) <= 0xFFFF:
        code += b"\x90"
    land = start + len(code) - 0x10000
    rel = (start - (land + 6)) & 0xFFFF
    tail = b"\x49\x74\x03\xe9" + rel.to_bytes(2, "little") + b"\xf4"
    base = SEG << 4
    # (a straddling instruction's bytes from CS.base+10000h on, where QEMU 7.2 fetches them)
    ram = {base + 0x10000: b"\xf4" * 64, base + start: code, base + land: tail}
    boot = b"\xfa\xb9" + loops.to_bytes(2, "little") + b"\xea" + start.to_bytes(2, "little") + \
        SEG.to_bytes(2, "little")
    return boot, ram, land


def _three_ways(boot: bytes, ram: dict[int, bytes], n: int, steps: int,
                each=None) -> tuple[Machine, Machine]:   # noqa: ANN001
    """Fast slices vs counted slices over `n` instructions, and the first `steps` instructions
    one at a time against a counted run of the same length."""
    fast = _machine(boot, ram)
    fast.run(n)
    exact = _machine(boot, ram)
    exact._fast_on = False
    exact.run(n)
    assert fast.icount == exact.icount
    assert fast.state() == exact.state()
    one = _machine(boot, ram)
    one._fast_on = False
    for _ in range(steps):
        if one.run(1).reason != Stop.BUDGET:
            break
        if each is not None:
            each(one)
    counted = _machine(boot, ram)
    counted._fast_on = False
    counted.run(one.icount)
    assert one.state() == counted.state()
    return fast, one


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(start=st.integers(0xFFF0, 0xFFFF), picks=st.lists(st.integers(0, 63), min_size=16,
                                                         max_size=16))
def test_ip_wraps_in_16_bit_code_every_way(start, picks):
    loops = 40              # (a fast slice meets the block first, then counted runs)
    boot, ram, land = _wrap_case(start, picks, loops)

    def eip_16(m: Machine) -> None:
        st_ = m.state()
        assert st_.rip <= 0xFFFF, f"EIP {st_.rip:#x} in 16-bit code at icount {m.icount}"

    fast, one = _three_ways(boot, ram, 1_000_000, 400, eip_16)
    # LOCK NEG and SMSW r32 leave the state plain NEG and MOV EAX, CR0 leave
    # (after every instruction, one at a time: flags are overwritten soon after)
    boot2, ram2, _ = _wrap_case(start, picks, loops, plain=True)
    plain, locked = _machine(boot2, ram2), _machine(boot, ram)
    for m in (plain, locked):
        m._fast_on = False
    for _ in range(300):
        locked.run(1)
        plain.run(1)
        assert plain.state() == locked.state(), f"differs at icount {plain.icount}"
    plain.run(1_000_000)
    assert (plain.icount, plain.state()) == (fast.icount, fast.state())
    assert fast.fast_slices + fast.fast_redone > 0 or not blockcount.available(), \
        "no fast slice ran"
    st_ = fast.state()
    assert (st_.cs.selector, st_.rip, st_.rcx & 0xFFFF) == (SEG, land + 7, 0), \
        f"ended at {st_.cs.selector:04x}:{st_.rip:x} cx={st_.rcx & 0xFFFF:#x}"


PUSHFD_LOOP = """
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    xor si, si              ; images with RF or VM set
    mov cx, 300
.loop:
    push dword 0x10002      ; IRETD to .rf with RF set
    push dword 0
    push dword .rf
    iretd
.rf:
    pushfd
    pop eax
    test eax, 0x30000
    jz .ok
    inc si
.ok:
    loop .loop
    hlt
"""


def test_pushfd_after_iretd_with_rf(tmp_path):
    if shutil.which("nasm") is None:
        pytest.skip("nasm is not installed")
    src = tmp_path / "rf.asm"
    src.write_text(PUSHFD_LOOP)
    subprocess.run(["nasm", "-f", "bin", str(src), "-o", str(tmp_path / "rf.bin")], check=True)
    boot = (tmp_path / "rf.bin").read_bytes()
    rf_at = boot.index(b"\x66\x9c") + 0x7C00

    def rf_once(m: Machine) -> None:
        st_ = m.state()
        if st_.rip != rf_at:
            assert not st_.rflags & 0x10000, f"RF still set at {st_.rip:#x}"

    fast, one = _three_ways(boot, {}, 1_000_000, 600, rf_once)
    for m in (fast, one):
        assert m.state().rsi & 0xFFFF == 0, "a PUSHFD image had RF or VM set"
    assert fast.state().rcx & 0xFFFF == 0
    assert fast.fast_slices + fast.fast_redone > 0 or not blockcount.available(), \
        "no fast slice ran"


@pytest.mark.parametrize("name", ["ipwrap", "protected", "taskjmp"])
def test_conformance_image_every_way(name):
    if shutil.which("nasm") is None:
        pytest.skip("nasm is not installed")
    from tests.conformance import runner

    img = runner.build(name).read_bytes()
    outs = []
    for fast in (True, False):
        m = Machine([disk_from_bytes(img, name, boot=True)])
        m._fast_on = fast
        m.run(3_000_000)
        outs.append((m.icount, m.state(), bytes(m.devices.debugcon.output)))
    assert outs[0] == outs[1]
    m = Machine([disk_from_bytes(img, name, boot=True)])
    m._fast_on = False
    while m.icount < outs[0][0] and m.run(1).reason == Stop.BUDGET:
        pass
    assert (m.icount, m.state(), bytes(m.devices.debugcon.output)) == outs[0]


def test_pure_python_fallback_hook_corrects_the_same():
    """Without the native block hook (BOOTDBG_NO_NATIVE=1), its Python fallback stops before the
    same blocks: the tests above, in a process of their own."""
    import os
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, BOOTDBG_NO_NATIVE="1", PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                          "-k", "not fallback", str(Path(__file__))], capture_output=True,
                         text=True, env=env, cwd=root, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
