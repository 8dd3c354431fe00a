"""Run `bootdbg gdbserver` as a subprocess and drive Debian's gdb against it in batch mode."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

IMAGES = ROOT / "images"
GDB = shutil.which("gdb")


def server(image: str, *extra: str, once: bool = True) -> tuple[subprocess.Popen[str], int]:
    """Start `bootdbg gdbserver IMAGE` on a free loopback port; (process, port)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugger", "gdbserver", str(IMAGES / image), "--listen",
         "127.0.0.1:0", *(["--once"] if once else []), *extra], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = ""
    timer = threading.Timer(20, proc.kill)
    timer.start()
    try:
        line = proc.stdout.readline()           # type: ignore[union-attr]
    finally:
        timer.cancel()
    m = re.match(r"Listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        pytest.fail(f"gdbserver did not start: {line!r} {proc.stderr.read()}")  # type: ignore
    return proc, int(m.group(1))


def gdb(port: int, *commands: str, arch: str | None = "i8086") -> str:
    """gdb -batch: connect (after `set architecture ARCH`, if given) and run `commands`."""
    if GDB is None:
        pytest.skip("gdb not installed")
    argv = [GDB, "-nx", "-batch"] + (["-ex", f"set architecture {arch}"] if arch else [])
    argv += ["-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        argv += ["-ex", c]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


def finish(proc: subprocess.Popen[str]) -> str:
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("gdbserver did not exit after the client detached")
    assert proc.returncode == 0, err
    return err
