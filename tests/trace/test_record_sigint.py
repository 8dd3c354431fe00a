"""Ctrl-C during `bootdbg record` (issue 14 item 12): like `run`, the machine finishes the
instruction, the recording gets a consistent END there, the summary is printed, the exit code
is 130, and `replay --verify` passes -- with and without --full.  SIGINT is sent at points
given by the recorder's own progress (its announcement, then the file reaching a size), not
after a sleep."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

IMAGES = Path(__file__).resolve().parents[2] / "images"


def _record_and_interrupt(out: Path, at_bytes: int, full: bool) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "debugger", "record", str(IMAGES / "bench-real.img"),
            "-o", str(out), "--interval", "100000"] + (["--full"] if full else [])
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()                  # the recorder is running
        assert first.startswith("recording to"), first + p.stderr.read()
        deadline = time.monotonic() + 120             # (a guard, not a measurement)
        while (not out.exists() or out.stat().st_size < at_bytes) and p.poll() is None:
            assert time.monotonic() < deadline, "the recording did not grow"
            time.sleep(0.005)
        assert p.poll() is None, "the recording ended before the point to interrupt it"
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return subprocess.CompletedProcess(argv, p.returncode, first + stdout, stderr)


@pytest.mark.parametrize("full", [False, True], ids=["plain", "full"])
@pytest.mark.parametrize("at_bytes", [0, 300_000])
def test_sigint_during_record_leaves_a_recording_that_verifies(full: bool, at_bytes: int,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "x.bdt"
    r = _record_and_interrupt(out, at_bytes, full)
    assert r.returncode == 130, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "stopped: interrupt" in r.stdout, r.stdout + r.stderr
    v = subprocess.run([sys.executable, "-m", "debugger", "replay", str(out), "--verify"],
                       capture_output=True, text=True, timeout=300)
    assert v.returncode == 0 and "replay identical" in v.stdout, v.stdout + v.stderr
