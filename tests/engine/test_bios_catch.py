"""`catch bios VEC [AH]` stops on the call, before the service runs, with the registers the
guest passed (issue 13, defect 2); `finish` / `nexti` get past the service."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import demo_session

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("native", [False, True])
def test_bios_catch_with_ah_fires_before_the_service(native):
    from debugger.engine import runner

    if native and not runner.native_available():
        pytest.skip("native fast path not built")
    s = demo_session("vm86", native=native)
    s.catch("bios", 0x13, 0x02)
    ev = s.cont()
    assert ev.kind == "bios", ev.summary()
    st = s.state()
    assert (st.rax >> 8) & 0xFF == 0x02 and st.rbx & 0xFFFF == 0x7E00
    assert st.cs.selector == 0xF000 and s.machine.bios.vector_at(st.pc) == 0x13
    # the service has not run: the sectors are not at ES:BX yet
    assert s.read_memory(0x7E00, 16) == bytes(16)
    ic = s.icount
    fin = s.finish()
    assert fin.kind == "finish" and fin.icount == ic + 1 and fin.cs == 0
    assert s.read_memory(0x7E00, 16) != bytes(16)
    assert s.state().rflags & 1 == 0                   # CF clear: the read worked


def test_bios_catch_nexti_runs_the_service():
    s = demo_session("vm86")
    s.catch("bios", 0x13)
    s.cont()
    ic = s.icount
    ev = s.next()
    assert ev.kind == "step" and ev.icount == ic + 1 and ev.cs == 0    # back after the INT
    assert (s.state().rax >> 8) & 0xFF == 0                      # the service's status
    assert s.read_memory(0x7E00, 16) != bytes(16)


def test_bios_catch_every_call_once_and_continue_goes_on():
    s = demo_session("int13hook-hd")
    s.catch("bios", 0x13)
    seen = []
    for _ in range(50):
        ev = s.cont()
        if ev.final:
            break
        seen.append((ev.icount, ev.eip))
    assert seen and len(set(seen)) == len(seen)


def test_help_catch_says_what_a_bios_stop_shows():
    out = subprocess.run([sys.executable, "-m", "debugger", "images/hello.img", "--batch",
                          "-ex", "help catch"], capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    text = out.stdout.lower()
    assert "before the service" in text and "finish" in text and "nexti" in text, out.stdout


def test_bios_catch_in_batch_mode():
    out = subprocess.run([sys.executable, "-m", "debugger", "images/vm86.img", "--batch",
                          "-ex", "catch bios 0x13 0x02", "-ex", "continue", "-ex", "print/x ah"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert "bios at f000:" in out.stdout and "0x2" in out.stdout, out.stdout + out.stderr


def test_continue_from_a_bios_stop_does_not_stop_there_again():
    """Continuing from a `catch bios` stop with an event catchpoint also armed runs the service
    (a fast run re-stepping from its checkpoint must not ask about that call again)."""
    s = demo_session("hello")
    s.catch("bios", 0x10)
    s.catch("int")
    ev = s.cont()
    assert ev.kind in ("bios", "int")
    seen = set()
    for _ in range(30):
        ev = s.cont()
        if ev.final:
            break
        key = (ev.kind, ev.icount, ev.linear)
        assert key not in seen, ev.summary()
        seen.add(key)
