"""HLT that nothing can end: a clear stop, never a spin; timeouts and Ctrl-C honoured while halted.

Each test arms a 20-second watchdog that sets the machine's stop request, so a regression fails
(with reason "interrupt") instead of hanging the suite."""
from __future__ import annotations

import threading

import pytest

from tests.conftest import assemble


def _guest(imr_master: int, imr_slave: int) -> str:
    return f"""
    mov al, {imr_master:#x}
    out 0x21, al
    mov al, {imr_slave:#x}
    out 0xa1, al
    sti
spin: hlt
    jmp spin
"""


@pytest.fixture
def watchdog():
    timers = []

    def arm(machine):
        t = threading.Timer(20, lambda: setattr(machine, "stop_requested", True))
        t.daemon = True
        t.start()
        timers.append(t)
    yield arm
    for t in timers:
        t.cancel()


@pytest.mark.parametrize("master, slave", [(0xFF, 0x00), (0xFB, 0xFF), (0xFF, 0xFF)])
def test_hlt_with_every_irq_masked_stops_as_halted(boot, watchdog, master, slave):
    m = boot(_guest(master, slave))
    watchdog(m)
    r = m.run(1000)
    assert r.reason == "halted", r
    assert "masked" in r.message


def test_hlt_with_an_irq_open_is_not_reported_masked(boot, watchdog):
    # IRQ0 open: the timer wakes it every tick, so the budget ends the run.
    m = boot(_guest(0xFE, 0xFF))
    watchdog(m)
    assert m.run(1000).reason == "budget"


def test_session_timeout_is_honoured_while_halted(watchdog, tmp_path):
    # Only IRQ1 (keyboard, no keys queued) open: the CPU waits, ticking the (masked) timer.
    from debugger import Session

    img = tmp_path / "wait.img"
    img.write_bytes(assemble(_guest(0xFD, 0xFF)))
    s = Session(str(img))
    watchdog(s.machine)
    ev = s.cont(timeout=1)
    assert ev.kind == "timeout", ev
    assert s.machine.wall_deadline is None


def test_cli_run_with_every_irq_masked_ends(tmp_path):
    import subprocess
    import sys

    img = tmp_path / "masked.img"
    img.write_bytes(assemble(_guest(0xFF, 0xFF)))
    r = subprocess.run([sys.executable, "-m", "debugger", "run", str(img), "--max-insns", "1000"],
                       capture_output=True, text=True, timeout=60)
    assert "masked" in r.stdout + r.stderr
