"""`stepi N` (and `cont(max_insns=N)`) never runs past N, whatever is armed: a point detected
late by the fast path is localised within the budget, not after it (issue 13, defect 1)."""
from __future__ import annotations

import pytest

from tests.conftest import demo_session

ARMED = [("catch", ("mode",)), ("catch", ("sreg",)), ("catch", ("vmx-invalid", "kvm")),
         ("catch", ("cr",)), ("watch", ("0000:7e00",))]


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("what,args", ARMED)
def test_step_n_stops_after_exactly_n(what, args, native):
    from debugger.engine import runner

    if native and not runner.native_available():
        pytest.skip("native fast path not built")
    s = demo_session("hello", native=native)
    getattr(s, what)(*args)
    for n in (1, 2, 3, 5):
        start = s.icount
        ev = s.step(n)
        assert ev.icount == start + n, (ev.kind, ev.icount, start, n)
        assert ev.kind == "step"


def test_step_n_via_cli_batch():
    import subprocess
    import sys
    from pathlib import Path

    out = subprocess.run([sys.executable, "-m", "debugger", "images/hello.img", "--batch",
                          "-ex", "catch mode", "-ex", "stepi 2"], capture_output=True,
                         text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert "step at 0000:7c06" in out.stdout and "icount 2" in out.stdout, out.stdout


def test_finish_at_a_bios_stub_returns_to_the_caller():
    """At a BIOS entry stub (the guest's INT just delivered), `finish` runs the service and
    the stub's IRET and stops after the guest's INT -- not at some later RET."""
    s = demo_session("hello", native=False)
    while s.machine.bios.vector_at(s.state().pc) is None:
        s.step()
    st = s.state()
    ret_cs, ret_ip = s.read_memory(st.sp_linear + 2, 2), s.read_memory(st.sp_linear, 2)
    ic = s.icount
    ev = s.finish()
    assert ev.kind == "finish" and ev.icount == ic + 1, ev.summary()
    assert (ev.cs, ev.eip) == (int.from_bytes(ret_cs, "little"), int.from_bytes(ret_ip, "little"))
    assert ev.instruction == "iret"


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("count", [1, 2, 27])
def test_a_budget_that_ends_on_a_breakpoint_reports_the_breakpoint(native, count):
    """`stepi N` / `continue` with a budget that ends exactly at a breakpoint stops there as a
    breakpoint (as a single step does), in the fast path too."""
    from debugger.engine import runner

    if native and not runner.native_available():
        pytest.skip("native fast path not built")
    probe = demo_session("longmode", native=native)
    probe.cont(max_insns=27 + count)
    target = probe.state().pc
    s = demo_session("longmode", native=native)
    s.cont(max_insns=27)
    bp = s.break_at(target)
    ev = s.cont(max_insns=count)
    assert (ev.kind, ev.icount, ev.point) == ("breakpoint", 27 + count, bp.number), ev.summary()
    s2 = demo_session("longmode", native=native)
    s2.cont(max_insns=27)
    s2.break_at(target)
    ev = s2.step(count)
    assert (ev.kind, ev.icount) == ("breakpoint", 27 + count), ev.summary()


def test_finish_names_the_return_in_the_code_size_it_ran_in():
    """A `finish` ended by an IRETD that enters vm86 names `iretd` (32-bit), not `iret`."""
    s = demo_session("vm86", native=False)
    s.cont(max_insns=1140)
    ev = s.finish()
    assert ev.kind == "finish" and ev.instruction == "iretd", (ev.summary(), ev.instruction)


def test_summary_writes_the_offset_as_the_context_does():
    from debugger.engine.stops import StopEvent

    ev = StopEvent("breakpoint", 7, 0x1000, 0xD1, 0x100D1, point=2)
    assert ev.summary() == "#2 breakpoint at 1000:00d1 (linear 0x100d1), icount 7"
    assert StopEvent("step", 1, 8, 0x12345, 0x12345).summary().startswith("step at 0008:12345 ")


@pytest.mark.parametrize("name", ["taskjmp", "hello"])
def test_finish_does_not_end_on_a_step_that_only_saw_an_event(name):
    """A catchpoint arms the machine's event filter; at a BIOS stub the first exact step then
    stops on the 'bios' event before the service, executing nothing.  `finish` took that step
    for the stub's IRET returning (icount 12, at F000:E3FE, 'returned by iret') where without
    the catchpoint -- and in the reference stepper -- it returns after the service and IRET."""
    from tests.invariant.images import session_for

    got = []
    for armed in (False, True):
        s = session_for(name)
        if armed:
            s.catch("vm86")
        ev = s.finish()
        got.append((ev.kind, ev.icount, ev.cs, ev.eip, ev.message))
    assert got[1] == got[0]
