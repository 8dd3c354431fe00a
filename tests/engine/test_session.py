"""The Session: exact stop locations, fast path == exact path, native == Python, control."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tests.conftest import assemble

PMODE = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax                 ; icount 9: real -> pm16
    jmp 0x08:pm32                ; icount 10: pm16 -> pm32
bits 32
pm32:
    mov ax, 0x10
    mov ds, ax                   ; icount 12: sreg ds
    mov es, ax
    mov ss, ax
    mov dword [0x500], 0x11223344
    inc dword [0x500]
    mov dx, 0x3f8
    mov al, 'P'
    out dx, al                   ; icount 19
    jmp 0x18:pm16
bits 16
pm16:
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax                 ; icount 23: pm16 -> unreal
    jmp 0:real
real:
    xor ax, ax
    mov ds, ax                   ; icount 26
    mov al, 'R'
    out dx, al
    cli
    hlt
align 8
gdt: dq 0
    dq 0x00cf9a000000ffff
    dq 0x00cf92000000ffff
    dq 0x00009a000000ffff
gdtr: dw gdtr - gdt - 1
    dd gdt
"""

LOOP_FOREVER = """
    xor ax, ax
l:  inc ax
    jmp l
"""


def session(src: str = PMODE, **kw):
    from debugger.engine.session import Session
    from debugger.machine.disk import disk_from_bytes

    return Session(disks=[disk_from_bytes(assemble(src), "t.img", boot=True)], **kw)


def stops(s, how: str, limit: int = 20):
    out = []
    for _ in range(limit):
        ev = s.cont() if how == "cont" else s.step(100_000)
        out.append((ev.kind, ev.icount, ev.cs, ev.eip, ev.instruction))
        if ev.final or ev.kind == "budget":
            break
    return out


SETUPS = {
    "mode": lambda s: s.catch("mode"),
    "sreg-ds": lambda s: s.catch("sreg", "ds"),
    "cr": lambda s: s.catch("cr", "cr0"),
    "dtr": lambda s: s.catch("dtr"),
    "watch": lambda s: s.watch(0x500, 4),
    "io": lambda s: s.watch_io(0x3F8),
    "break": lambda s: (s.break_at(0x7C58), s.break_at("0x08:0x7c3d")),
    "cpl+a20": lambda s: (s.catch("cpl"), s.catch("a20")),
}


@pytest.mark.parametrize("name", sorted(SETUPS))
@pytest.mark.parametrize("native", [True, False])
def test_fast_path_stops_exactly_where_stepping_does(name, native):
    from debugger.engine import runner

    if native and not runner.native_available():
        pytest.skip("native fast path not built")
    fast, exact = session(native=native), session(native=native)
    SETUPS[name](fast), SETUPS[name](exact)
    a, b = stops(fast, "cont"), stops(exact, "step")
    assert a == b
    assert a[-1][0] == "halted"


def test_exact_stop_locations_computed_by_hand():
    s = session()
    s.catch("mode")
    s.catch("sreg", "ds")
    s.watch(0x500, 4)
    got = [(ev.kind, ev.icount, ev.instruction) for ev in (s.cont() for _ in range(9))]
    assert got == [
        ("mode", 9, "mov cr0, eax"),
        ("mode", 10, "ljmp 8:0x7c1c"),
        ("sreg", 12, "mov ds, eax"),
        ("watchpoint", 15, "mov dword ptr [0x500], 0x11223344"),
        ("watchpoint", 16, "inc dword ptr [0x500]"),
        ("mode", 20, "ljmp 0x18:0x7c44"),
        ("mode", 23, "mov cr0, eax"),
        ("sreg", 26, "mov ds, ax"),
        ("halted", 30, "hlt"),
    ]
    # The watchpoint re-executed nothing twice: inc applied once.
    assert s.read_memory(0x500, 4) == bytes.fromhex("45332211")


def test_breakpoint_conditions_ignore_counts_temporary():
    s = session(LOOP_FOREVER)
    bp = s.break_at(0x7C03, ignore=2)
    ev = s.cont()
    assert (ev.kind, ev.point) == ("breakpoint", bp.number)
    assert s.state().rax & 0xFFFF == 3 and bp.hits == 3      # (gdb counts the 2 ignored)
    s.delete(bp.number)
    t = s.break_at(0x7C03, temporary=True)
    assert s.cont().kind == "breakpoint"
    assert t.number not in [p.number for p in s.points]
    assert s.cont(max_insns=1000).kind == "budget"


def test_step_next_until_finish():
    s = session("""
    call f
    mov bx, 1
    cli
    hlt
f:  mov ax, 2
    ret
""")
    ev = s.next()
    assert ev.kind == "step" and s.state().rip == 0x7C03 and s.state().rax & 0xFFFF == 2
    s2 = session("""
    call f
    mov bx, 1
    cli
    hlt
f:  mov ax, 2
    ret
""")
    s2.step()                                   # into f
    assert s2.state().rip == 0x7C08
    ev = s2.finish()
    assert ev.kind == "finish" and s2.state().rip == 0x7C03
    ev = s2.until(0x7C06)
    assert ev.kind == "until" and s2.state().rip == 0x7C06


def test_interrupt_with_sigint_during_cont_then_step_on():
    s = session(LOOP_FOREVER)
    old = signal.signal(signal.SIGINT, lambda *_: s.interrupt())
    try:
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        t0 = time.monotonic()
        ev = s.cont()
        assert ev.kind == "interrupt"
        assert time.monotonic() - t0 < 5
    finally:
        signal.signal(signal.SIGINT, old)
    n = s.icount
    assert s.step(3).kind == "step" and s.icount == n + 3


def test_budget_timeout_and_triple_fault_leave_session_usable():
    s = session(LOOP_FOREVER)
    assert s.cont(max_insns=12345).icount == 12345
    assert s.cont(timeout=0.2).kind == "timeout"
    t = session("""
    lidt [idtr]
    int 3
idtr: dw 0
    dd 0
""")
    ev = t.cont()
    assert ev.kind == "triple-fault" and ev.final
    assert t.cont().kind == "triple-fault"
    assert t.step().kind == "triple-fault"
    assert t.state().activity.name == "SHUTDOWN"


def test_serial_flood_is_bounded_by_budget():
    s = session("""
    mov dx, 0x3f8
l:  mov al, 'x'
    out dx, al
    jmp l
""")
    ev = s.cont(max_insns=30_000)
    assert ev.kind == "budget" and len(s.serial) == 10_000
