"""REP MOVS/STOS done in place by the native block counter (machine/_repstring.c) must change
nothing but the speed: the same stops, icounts and full state as the reference stepper, as the
count hook, and as the pure-Python fallback (BOOTDBG_NO_NATIVE=1) -- on a guest made of them
(`rep_guest`): 16-bit copies interrupted by the PIT, both directions, overlapping copies, a
destination offset wrapping at 64 KiB, copies over code that runs next, an IRQ delivered right
after STI in the middle of one, and PM32 copies through 4 KiB and PAE 2 MiB pages."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import assemble
from tests.invariant import rep_guest
from tests.invariant.spec import Cmd, Spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_slices(monkeypatch):
    """Fast (block-counted) slices however short the run between two events."""
    import debugger.machine.slices as slices
    import tests.invariant.test_differential as td

    monkeypatch.setattr(slices, "FAST_MIN", 16)
    monkeypatch.setattr(td, "CAP", 60_000)


def _native():
    from debugger.machine.blockcount import available

    if not available():
        pytest.skip("the native block counter is not built")


@pytest.mark.parametrize("specs", [
    [],
    [Spec("watch", (rep_guest.DEST + 0x1234, 2, "write", "linear"))],
    [Spec("catch", ("mode",)), Spec("catch", ("cr",)), Spec("catch", ("sreg",))],
], ids=["nothing-armed", "watch-destination", "catchpoints"])
def test_rep_strings_match_the_reference(specs, small_slices, monkeypatch):
    import tests.invariant.test_differential as td

    _native()
    made = []
    position = td._position

    def recording(name, start, native, fast):   # noqa: ANN001, ANN202
        s = position(name, start, native, fast)
        made.append(s)
        return s
    monkeypatch.setattr(td, "_position", recording)
    # odd budgets: runs end inside the copies
    td.check_scenario(rep_guest.NAME, 0, specs, [Cmd("continue", 2_999)] * 16
                     + [Cmd("continue", 60_000)] * 6)
    in_place = sum(s.machine._blocks.rep_iterations for s in made)
    if specs[:1] != [] and specs[0].what == "catch":
        # (the transition detector sees nothing in a REP's re-entries: counted runs too)
        in_place = sum(s.machine._blocks.rep_iterations for s in made
                       if s.native)
    if specs[:1] == [] or specs[0].what == "catch":
        # (a watchpoint: every iteration is seen, none is done in place)
        assert in_place > 20_000, "no REP iteration done in place: the test tests nothing"


def _walk(s, budget: int) -> list[tuple]:
    out = []
    for _ in range(100):
        ev = s.cont(max_insns=budget)
        out.append((ev.kind, ev.icount, s.state().digest(),
                    s.machine.mem.read_phys(0, 0x220000).hex()[::4093]))
        if ev.final or ev.kind == "halted":
            break
    return out


def _session(data: bytes, fast: bool):   # noqa: ANN202
    from debugger.engine.session import Session
    from debugger.machine.disk import disk_from_bytes

    s = Session(disks=[disk_from_bytes(data, "rep.img", boot=True)])
    s.machine._fast_on = fast
    return s


def test_long_copies_in_place_equal_the_count_hook(small_slices):
    """20 times longer copies (700,000 instructions), stopped at odd budgets: the same stops,
    states and memory as counting every instruction with Unicorn's hook."""
    _native()
    data = assemble(rep_guest.source(20))
    fast, exact = _session(data, True), _session(data, False)
    a, b = _walk(fast, 99_991), _walk(exact, 99_991)
    assert a == b
    assert a[-1][:2] == ("halted", 702_908)
    assert fast.machine.mem.read_phys(0, 0x400000) == exact.machine.mem.read_phys(0, 0x400000)
    assert fast.machine._blocks.rep_iterations > 600_000


def test_python_fallback_gives_the_same_run(small_slices):
    """BOOTDBG_NO_NATIVE=1 (no native counter: every REP iteration a block of its own, counted
    by Unicorn's hook) stops with the same icounts and states as the native run in place.
    (Without the REP that copies over itself: QEMU re-runs the iteration that stores into its
    own block, and only the native counter takes the second count off -- a difference of the
    fallback that is older than REP in place.)"""
    _native()
    data = assemble(rep_guest.source(4, over_itself=False))
    native = _session(data, True)
    mine = [list(x) for x in _walk(native, 29_989)]
    assert native.machine._blocks.rep_iterations > 100_000
    env = dict(os.environ, BOOTDBG_NO_NATIVE="1", PYTHONPATH=str(ROOT))
    code = ("import json, sys\n"
            "from tests.invariant.test_repstring import _session, _walk\n"
            "from debugger.machine.blockcount import available\n"
            "assert not available()\n"
            "data = open(sys.argv[1], 'rb').read()\n"
            "print(json.dumps(_walk(_session(data, True), 29_989)))\n")
    img = Path(os.environ.get("TMPDIR", "/tmp")) / f"rep-guest-{os.getpid()}.img"
    img.write_bytes(data)
    try:
        out = subprocess.run([sys.executable, "-c", code, str(img)], capture_output=True,
                             text=True, env=env, cwd=ROOT, timeout=600)
    finally:
        img.unlink()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == mine


SMC = """
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov cx, 40
warm:
    call 0x8000                 ; (copied there below) translated, run 40 times
    add bp, ax
    loop warm
    mov si, new - 1
    mov di, 0x7fff
    mov cx, 10
    rep movsb                   ; over it (its first and last iterations, which the block
                                ; runs itself, write outside its code)
    call 0x8000
    add bp, ax
    mov si, nops + 5
    mov di, self + 5
    mov cx, 6
    std
self:
    rep movsb                   ; backward over the next 4 bytes, then over itself
    nop
    nop
    nop
    nop
    cld
    mov [0x500], bp
    hlt
    db 0x90
new: mov ax, 2
    ret
nops: times 6 nop
"""


def test_copies_over_translated_code_run_the_new_code(small_slices):
    """In one fast slice: a copy over a subroutine already translated is what runs next (the
    first and last iterations, the block's own, write outside its code: only the in-place ones
    invalidate it); a copy over the REP itself is left to QEMU's self-modifying-code handling."""
    _native()
    data = assemble("org 0x7c00\n    mov si, old\n    mov di, 0x8000\n    mov cx, 4\n"
                    "    xor ax, ax\n    mov ds, ax\n    mov es, ax\n    rep movsb\n"
                    + SMC + "old: mov ax, 1\n    ret\n")
    fast, exact = _session(data, True), _session(data, False)
    a, b = fast.cont(), exact.cont()
    assert (a.kind, a.icount) == (b.kind, b.icount)
    assert fast.state() == exact.state()
    assert fast.machine.mem.read_phys(0x500, 2) == exact.machine.mem.read_phys(0x500, 2) \
        == (40 + 2).to_bytes(2, "little")
    assert fast.machine._blocks.rep_iterations >= 7


LONG_MODE = """
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7000
    mov di, 0x1000              ; PML4 at 1000h, PDPT 2000h, PD 3000h (2 MiB pages, A/D clear)
    mov cx, 0x1800
    xor ax, ax
    rep stosw
    mov dword [0x1000], 0x2003
    mov dword [0x2000], 0x3003
    mov dword [0x3000], 0x83
    mov dword [0x3008], 0x200083
    mov eax, 0x20               ; PAE
    mov cr4, eax
    mov eax, 0x1000
    mov cr3, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x100               ; LME
    wrmsr
    mov eax, cr0
    or eax, 0x80000001
    mov cr0, eax
    lgdt [gdtr]
    jmp 0x08:lm
bits 64
lm:
    mov rsi, 0x7c00
    mov rdi, 0x100000
    mov rcx, 0x8000
    rep movsq                   ; 64-bit elements and addresses
    std
    mov rsi, 0x13fff8
    mov rdi, 0x13fffc
    mov rcx, 0x6000
    rep movsq                   ; backward, overlapping behind
    cld
    mov rdi, 0x180000
    mov rax, 0x1122334455667788
    mov rcx, 0x3001
    rep stosq
    mov rdi, 0x1a0001
    mov ecx, 0x2345
    rep stosd                   ; 32-bit elements, 64-bit addresses
    mov rsi, 0x100000
    mov rdi, 0x1c0003
    mov ecx, 0x5000
    rep movsb
    xor rbp, [0x13f000]
    xor rbp, [0x1b0000]
    xor rbp, [0x1c2000]
    hlt
align 8
gdt: dq 0
    dq 0x00af9a000000ffff
gdtr: dw gdtr - gdt - 1
    dd gdt
times 510-($-$$) db 0
dw 0xaa55
"""


def test_long_mode_copies_in_place_equal_the_count_hook(small_slices):
    """64-bit code: REX.W elements, 64-bit addresses, 4-level paging with 2 MiB pages."""
    _native()
    data = assemble(LONG_MODE)
    fast, exact = _session(data, True), _session(data, False)
    a, b = _walk(fast, 9_973), _walk(exact, 9_973)
    assert a == b
    assert a[-1][0] == "halted"
    assert fast.machine.mem.read_phys(0, 0x200000) == exact.machine.mem.read_phys(0, 0x200000)
    assert fast.machine._blocks.rep_iterations > 60_000
