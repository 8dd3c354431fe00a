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


# IRQ0's handler returns without an EOI: IRQ0 stays in service and blocks every master line.
NO_EOI = """
    xor ax, ax
    mov ds, ax
    mov word [8*4], handler
    mov word [8*4+2], 0
    mov al, 0xfe
    out 0x21, al
    sti
spin: hlt
    jmp spin
handler: iret
"""

# RTC periodic interrupt (IRQ8 through the cascade) open, the timer masked.
RTC_ONLY = """
    mov al, 0xfb
    out 0x21, al
    mov al, 0xfe
    out 0xa1, al
    mov al, 0x0b
    out 0x70, al
    mov al, 0x42          ; PIE, 24-hour
    out 0x71, al
    sti
spin: hlt
    mov al, 0x0c          ; read C: acknowledge the RTC
    out 0x70, al
    in al, 0x71
    jmp spin
"""


@pytest.mark.parametrize("source, why", [
    (_guest(0xFD, 0xFF), "IRQ1 open, no key will come; the masked timer keeps ticking"),
    (_guest(0xBF, 0xFF), "IRQ6 open, no diskette command pending"),
    (NO_EOI, "IRQ0 in service (no EOI) blocks every line of the master"),
])
def test_hlt_that_no_device_can_end_stops_as_halted(boot, watchdog, source, why):
    m = boot(source)
    watchdog(m)
    r = m.run(100_000)
    assert r.reason == "halted", (why, r)
    assert "wake" in r.message, r.message


@pytest.mark.parametrize("source, keys", [(RTC_ONLY, ""), (_guest(0xFD, 0xFF), "abcdefgh" * 8)])
def test_hlt_that_a_device_will_end_keeps_running(boot, watchdog, source, keys):
    m = boot(source, keys=keys) if keys else boot(source)
    watchdog(m)
    r = m.run(300)
    assert r.reason == "budget", r


def test_session_timeout_is_honoured_while_halted(watchdog, tmp_path):
    # Only IRQ0 open: the guest halts, the timer wakes it, it halts again, for ever.
    from debugger import Session

    img = tmp_path / "wait.img"
    img.write_bytes(assemble(_guest(0xFE, 0xFF)))
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


def test_cli_run_of_a_guest_no_device_can_wake_ends_with_the_reason(tmp_path):
    import subprocess
    import sys

    img = tmp_path / "noeoi.img"
    img.write_bytes(assemble(NO_EOI))
    r = subprocess.run([sys.executable, "-m", "debugger", "run", str(img), "--max-insns",
                        "100000"], capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert "nothing can wake the CPU" in out and "in service master=01h" in out, out
    assert "Traceback" not in out
