"""Time travel on a live session: goto, reverse-stepi, reverse-continue to a catchpoint and to a
watchpoint, reverse-finish, checkpoints -- each position checked against a fresh forward run."""
from __future__ import annotations

from pathlib import Path

import pytest

from debugger.engine.session import Session
from debugger.trace.timetravel import attach

IMAGES = Path(__file__).resolve().parents[2] / "images"


def fresh_at(name: str, icount: int) -> Session:
    s = Session(IMAGES / f"{name}.img")
    while s.icount < icount:
        r = s.machine.run(icount - s.icount)
        assert r.reason == "budget" or s.icount == icount
    return s


def same(a: Session, b: Session) -> bool:
    ram_a = a.machine.mem.read_phys(0, 0x110000)
    ram_b = b.machine.mem.read_phys(0, 0x110000)
    return a.state() == b.state() and a.serial == b.serial and ram_a == ram_b


@pytest.fixture
def vm86() -> Session:
    s = Session(IMAGES / "vm86.img")
    attach(s, interval=1500)
    return s


def test_goto_and_reverse_stepi_match_a_forward_run(vm86: Session) -> None:
    tt = vm86.timeline
    end = vm86.cont().icount
    for target in (end - 1, 7, end // 2, 1, end // 3 + 5):
        ev = tt.goto(target)
        assert ev.kind == "goto" and vm86.icount == target
        assert same(vm86, fresh_at("vm86", target)), target
    tt.goto(5000)
    ev = tt.reverse_stepi(3)
    assert ev.kind == "step" and vm86.icount == 4997
    assert same(vm86, fresh_at("vm86", 4997))
    # and forward again from there is the same run
    vm86.cont()
    assert vm86.icount == end


def test_reverse_continue_to_catchpoint(vm86: Session) -> None:
    tt = vm86.timeline
    vm86.catch("vm86", "enter")
    entries = []
    while True:
        ev = vm86.cont()
        if ev.kind != "vm86-enter":
            break
        entries.append(ev.icount)
    assert len(entries) >= 2
    back = tt.reverse_continue()
    assert back.kind == "vm86-enter" and back.icount == entries[-1]
    back = tt.reverse_continue()
    assert back.kind == "vm86-enter" and back.icount == entries[-2]
    assert vm86.state().vm
    first = tt.goto(entries[0])
    assert first.icount == entries[0]
    ev = tt.reverse_continue()
    assert ev.kind == "history" and vm86.icount == 0


def test_reverse_continue_to_watchpoint_last_write_to_ivt() -> None:
    s = Session(IMAGES / "int13hook-hd.img")
    tt = attach(s, interval=2000)
    end = s.cont().icount
    # every forward write to the INT 13h vector 0000:004C
    f = Session(IMAGES / "int13hook-hd.img")
    f.watch(0x4C, 4)
    writes = []
    while True:
        ev = f.cont()
        if ev.kind != "watchpoint":
            break
        writes.append((ev.icount, ev.instruction_address))
    assert writes, "the image hooks INT 13h"
    s.watch(0x4C, 4)
    ev = tt.reverse_continue()
    assert ev.kind == "watchpoint" and (ev.icount, ev.instruction_address) == writes[-1]
    assert s.icount < end


def test_reverse_finish_goes_back_before_the_call(vm86: Session) -> None:
    tt = vm86.timeline
    vm86.cont(max_insns=4000)
    sp = vm86.state().sp_linear
    ev = tt.reverse_finish()
    assert ev.kind == "finish"
    assert vm86.state().sp_linear > sp
    at = vm86.icount
    # from there on the stack is never shallower than `sp` until we are back at 4000
    vm86.step(1)
    while vm86.icount < 4000:
        assert vm86.state().sp_linear <= sp
        vm86.step(1)
    assert at < 4000


def test_checkpoint_restart_and_edits_drop_the_future(vm86: Session) -> None:
    tt = vm86.timeline
    vm86.cont(max_insns=3000)
    cp = tt.checkpoint()
    st = vm86.state()
    vm86.cont(max_insns=5000)
    tt.restart(cp.number)
    assert vm86.icount == 3000 and vm86.state() == st
    vm86.set_register("eax", 0x5555)
    assert all(k[0] <= 3000 for k in tt.tl.keys)


def test_budget_thins_points_but_keeps_travel_exact() -> None:
    s = Session(IMAGES / "exceptions.img")
    tt = attach(s, interval=1000, budget=600_000)
    end = s.cont().icount
    assert tt.tl.thinned > 0 and tt.tl.bytes_used <= 600_000 + 200_000
    for target in (end // 4, end // 2, end - 3):
        tt.goto(target)
        assert same(s, fresh_at("exceptions", target))


def test_back_to_where_time_travel_was_turned_on() -> None:
    """History that starts later than icount 0: its first point is reachable exactly."""
    s = Session(IMAGES / "hello.img")
    s.step(5)
    tt = attach(s)
    s.step(3)
    ev = tt.reverse_stepi(3)
    assert ev.kind == "step" and s.icount == 5
    assert same(s, fresh_at("hello", 5))
    assert tt.reverse_stepi().kind == "history" and s.icount == 5
    s.step(2)
    assert tt.reverse_stepi(10).kind == "step" and s.icount == 5     # stops at the start
    s.step(2)
    assert tt.goto(5).kind == "goto" and s.icount == 5
