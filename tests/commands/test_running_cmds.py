"""stepi/step, nexti/next, continue, finish, until: where they stop and what they print."""
from __future__ import annotations


def test_stepi_prints_a_summary_and_the_context(drive):
    d = drive()
    out = d("stepi")
    assert "Stop #1 step at 0000:7c02 (linear 0x7c02)" in out and "icount 1" in out
    assert "registers" in out and "segments" in out and "=> 0000:7c02" in out
    assert d.session.icount == 1


def test_step_n_and_aliases(drive):
    d = drive()
    d("si 3")
    assert d.session.state().pc == 0x7C06
    d("s")
    d("step 1")
    assert d.session.state().pc == 0x7C0C


def test_nexti_steps_over_the_call(drive):
    d = drive()
    d("until 0000:7c0c")
    out = d("next")
    assert d.session.state().pc == 0x7C0F
    assert "Stop #2 step at 0000:7c0f" in out
    assert d.session.serial == b"Hi"


def test_nexti_steps_over_loop(drive):
    d = drive()
    d("until *0x7c13")
    d("ni")
    assert d.session.state().pc == 0x7C15


def test_continue_runs_to_the_end(drive):
    d = drive()
    out = d("c")
    assert "Stop #1 halted" in out and "after hlt" in out
    assert d.session.last_stop.final


def test_continue_n_ignores_the_breakpoint(drive):
    d = drive()
    d("b *0x7c12")
    d("c")
    out = d("continue 2")
    assert "ignore next 1 crossings of point 1" in out
    assert d.session.state().rcx & 0xFFFF == 1


def test_finish_returns_from_the_call(drive):
    d = drive()
    d("b *0x7c22")
    d("c")
    d("delete")
    out = d("finish")
    assert "finish" in out and "ret" in out
    assert d.session.state().pc == 0x7C0F


def test_until_and_advance(drive):
    d = drive()
    out = d("until 0000:7c15")
    assert "Stop #1 until at 0000:7c15" in out
    d("advance *0x7c1a")
    assert d.session.state().pc == 0x7C1A


def test_running_errors_are_one_line(drive):
    d = drive()
    assert "until needs a location" in d.error("until")
    assert "count" in d.error("stepi 0")
    assert "finish takes no arguments" in d.error("finish now")


def test_context_can_be_turned_off(drive):
    d = drive()
    d("set context off")
    out = d("si")
    assert out.startswith("Stop #1 step") and "registers" not in out


def test_enter_repeats_the_last_step(drive):
    d = drive()
    d("si")
    d.interp.repeat_last()
    d.interp.repeat_last()
    assert d.session.icount == 3
