"""API single-stepping takes a lean path when nothing is armed; it must walk exactly the same
instructions, states and stop kinds as the general exact path (taken when a point is armed)."""
from __future__ import annotations

import pytest

from tests.conftest import demo_session

DEMOS = ("hello", "pmode", "unreal", "vm86", "longmode", "exceptions", "int13hook-hd")


@pytest.mark.parametrize("name", DEMOS)
def test_lean_steps_match_general_steps(name):
    lean, general = demo_session(name), demo_session(name)
    general.break_at(0xFFFFF)      # never reached; any armed point takes the general path
    for i in range(40_000):
        a, b = lean.step(), general.step()
        assert (a.kind, a.icount, a.cs, a.eip, a.linear) == \
            (b.kind, b.icount, b.cs, b.eip, b.linear), f"step {i}"
        if i % 97 == 0 or a.final:
            assert lean.state().digest() == general.state().digest(), f"step {i}"
            assert lean.serial == general.serial
        if a.final:
            assert a.message == b.message
            break
    assert lean.previous_state is not None and lean.previous_state.digest() == \
        general.previous_state.digest()


def test_lean_step_reports_the_instruction_executed_before():
    s = demo_session("hello")
    s.step()
    before = s.state()
    ev = s.step()
    assert s.previous_state == before
    assert ev.icount == 2 and ev.kind == "step"
    assert ev.linear == s.state().pc
