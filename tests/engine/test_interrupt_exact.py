"""`Session.interrupt()` (what Ctrl-C calls, from a signal handler that Python runs inside
whatever Python hook the engine is in at the time) stops the run on an instruction boundary with
the exact icount: the state at the stop is the one a plain counted run reaches at that icount.

The trigger is deterministic: a Python hook that calls `interrupt()` at a chosen instruction or
store, as a signal handler running inside that hook would."""
from __future__ import annotations

import pytest
from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_WRITE

from tests.conftest import demo_session


def _reference_state(name: str, icount: int):   # noqa: ANN202
    ref = demo_session(name)
    ref.machine._fast_on = False
    ref.machine.run(icount)
    assert ref.machine.icount == icount
    return ref.state()


@pytest.mark.parametrize("hook", ["code", "write"])
@pytest.mark.parametrize("name,nth", [("hello", 40), ("pmode", 300), ("vm86", 2500)])
def test_interrupt_inside_a_python_hook_lands_on_the_exact_icount(name, nth, hook):
    s = demo_session(name)
    m = s.machine
    seen = [0]

    def on_code(uc, address, size, _ud):   # noqa: ANN001
        seen[0] += 1
        if seen[0] == nth:
            s.interrupt()

    def on_write(uc, access, address, size, value, _ud):   # noqa: ANN001
        seen[0] += 1
        if seen[0] == nth // 4:
            s.interrupt()

    if hook == "code":
        m.uc.hook_add(UC_HOOK_CODE, on_code)
    else:
        m.uc.hook_add(UC_HOOK_MEM_WRITE, on_write)
    m.uc.ctl_flush_tb()
    ev = s.cont(max_insns=200_000)
    assert ev.kind == "interrupt", ev
    assert s.icount == ev.icount
    assert s.state() == _reference_state(name, s.icount), f"state at icount {s.icount}"
    # and the session carries on from there as from any stop
    s.step(3)
    assert s.state() == _reference_state(name, s.icount)
