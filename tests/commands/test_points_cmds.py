"""break/tbreak/pb/lb, watch/rwatch/awatch/watch io, catch, delete/disable/enable/condition/
ignore, commands ... end (with silent), info breakpoints."""
from __future__ import annotations

import pytest

from tests.cli.guests import UNREAL, VM86


def test_break_forms_all_hit_the_same_instruction(drive):
    d = drive()
    assert "Breakpoint 1 at 0000:7c0f (linear 0x7c0f)" in d("b 0000:7c0f")
    assert "Breakpoint 2" in d("b *0x7c15")
    assert "Breakpoint 3" in d("vb 0:7c1a")
    assert "Breakpoint 4" in d("lb 0x7c20")
    assert "Breakpoint 5 at physical 0x7c21" in d("pb 0x7c21")
    hits = []
    for _ in range(5):
        d("c")
        hits.append((d.session.last_stop.kind, d.session.last_stop.point,
                     d.session.state().pc))
    assert hits == [("breakpoint", 1, 0x7C0F), ("breakpoint", 2, 0x7C15),
                    ("breakpoint", 3, 0x7C1A), ("breakpoint", 4, 0x7C20),
                    ("breakpoint", 5, 0x7C21)]


def test_break_without_location_is_here_and_conditions(drive):
    d = drive()
    d("until *0x7c12")
    d("break")
    d("condition 1 cx == 1")
    out = d("c")
    assert "Stop #2 breakpoint" in out and d.session.state().rcx & 0xFFFF == 1
    assert "Point 1 now unconditional" in d("condition 1")


def test_break_if(drive):
    d = drive()
    d("b *0x7c12 if cx == 2")
    d("c")
    assert d.session.state().rcx & 0xFFFF == 2


def test_tbreak_is_deleted_after_its_stop(drive):
    d = drive()
    assert "Temporary breakpoint 1" in d("tbreak *0x7c12")
    d("c")
    assert d.session.state().pc == 0x7C12
    assert "No breakpoints" in d("info breakpoints")
    d("c")
    assert d.session.last_stop.kind == "halted"


def test_info_breakpoints_table_hits_conditions_ignore(drive):
    d = drive()
    d("b *0x7c12 if cx != 0")
    d("ignore 1 1")
    d("catch vm86")
    d("watch *0x500")
    d("disable 2")
    d("c")
    out = d("info breakpoints")
    lines = [ln for ln in out.splitlines() if ln.strip()]
    row1 = next(ln for ln in lines if ln.lstrip().startswith("1 "))
    assert "breakpoint" in row1 and "keep" in row1 and " y " in row1 and "0x7c12" in row1
    assert " 2 " in row1            # gdb counts the ignored crossing too: 2 hits, 1 stop
    assert "cx != 0" in row1
    row2 = next(ln for ln in lines if ln.lstrip().startswith("2 "))
    assert "catchpoint" in row2 and " n " in row2
    assert "hw watchpoint" in out
    assert d("blist") == out


def test_ignored_crossings_count_as_hits_as_in_gdb(drive):
    # gdb: "Increase the hit count even though we don't stop" (an ignored crossing counts).
    d = drive()
    d("b *0x7c12")
    d("ignore 1 1")
    d("c")
    assert d.session.last_stop.kind == "breakpoint"
    assert d.session.point(1).hits == 2


def test_delete_disable_enable(drive):
    d = drive()
    d("b *0x7c12")
    d("b *0x7c15")
    assert "Disabled 1." in d("disable 1")
    d("c")
    assert d.session.state().pc == 0x7C15
    assert "Enabled 1, 2." in d("enable")
    assert "Deleted 2." in d("delete 2")
    assert "Deleted all 1" in d("delete")
    assert "No breakpoints" in d("d")
    assert "no breakpoint" in d.error("delete 7")
    assert "number" in d.error("disable x")


def test_commands_run_after_the_stop_and_silent_hides_it(drive):
    d = drive()
    d("b *0x7c12")
    d.lines("commands", "silent", 'printf "cx=%d\\n", cx', "end")
    out = d("c")
    assert out == "cx=3\n"
    d("b *0x7c15")
    d.lines("commands 2", "echo at 2\\n", "c", "echo never\\n", "end")
    d("delete 1")
    out = d("c")
    assert "Stop #2 breakpoint" in out and "at 2" in out and "never" not in out
    assert d.session.last_stop.kind == "halted"


def test_watch_memory(drive):
    d = drive()
    assert "Watchpoint 1" in d("watch byte[0x500]")
    out = d("c")
    assert "Stop #1 watchpoint" in out and d.session.last_stop.point == 1
    assert d.session.read_memory(0x500, 1) == b"\x42"
    assert "Watchpoint 2" in d("watch word[0:502]")
    d("c")
    assert d.session.last_stop.point == 2


def test_watch_register_value(drive):
    d = drive()
    assert "Watchpoint 1: cx" in d("watch cx")
    out = d("c")
    assert "Stop #1 watchpoint" in out and d.session.state().pc == 0x7C12


def test_rwatch_awatch_need_memory(drive):
    d = drive()
    assert "Read watchpoint 1" in d("rwatch *0x7c2e")
    d("c")
    assert d.session.last_stop.kind == "watchpoint"
    assert "needs a memory address" in d.error("awatch eax")
    assert "Access watchpoint" in d("awatch *0x502 2")


def test_watch_io(drive):
    d = drive()
    assert "I/O watchpoint 1" in d("watch io 0x3f8 out")
    d("c")
    ev = d.session.last_stop
    assert ev.kind == "watchpoint" and d.session.serial == b"H"
    assert "bad port range" in d.error("watch io 0x3ff-0x3f8")
    assert "unknown I/O direction" in d.error("watch io 0x60 sideways")


def test_catch_vm86_and_kinds(drive):
    d = drive(VM86)
    assert "Catchpoint 1 (catch vm86 enter)" in d("catch vm86 enter")
    out = d("c")
    assert "vm86-enter at 0800:0000" in out and "after iretd" in out
    assert "unknown catchpoint kind" in d.error("catch nothing")
    assert "catch needs a kind" in d.error("catch")


def test_catch_fail_ends_a_batch_run_and_modebp(drive):
    from debugger.script.interpreter import SessionOver

    d = drive(UNREAL, batch=True)
    assert "fail" in d("catch cr cr0 fail")
    assert "Catchpoint 2 (catch mode)" in d("modebp")
    with pytest.raises(SessionOver):
        d("c")
    assert d.ctx.failed is not None and d.ctx.failed.kind == "cr"


def test_ignore_counts(drive):
    d = drive()
    d("b *0x7c12")
    assert "Will ignore next 2 crossings of point 1" in d("ignore 1 2")
    d("c")
    assert d.session.state().rcx & 0xFFFF == 1
    assert "usage: ignore" in d.error("ignore 1")
