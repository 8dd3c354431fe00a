"""Port E9h (Bochs/QEMU debug console): `bootdbg run` shows it live and labelled, and the E9
text is in both JSON reports and on the Session API, equal to what QEMU's -debugcon writes."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402
from tests.cli.guests import write_image  # noqa: E402

# "ab" on COM1, then "e9 one\n" and "two" on port E9h, then "c\n" on COM1; halts.
E9_GUEST = """
    xor ax, ax
    mov ds, ax
    mov si, s1
    mov dx, 0x3f8
    call puts
    mov si, s2
    mov dx, 0xe9
    call puts
    mov si, s3
    mov dx, 0x3f8
    call puts
    cli
    hlt
puts:
    lodsb
    test al, al
    jz .done
    out dx, al
    jmp puts
.done:
    ret
s1: db "ab", 0
s2: db "e9 one", 10, "two", 0
s3: db "c", 10, 0
"""


def test_run_shows_e9_output_labelled_and_reports_it(tmp_path):
    img = write_image(tmp_path, E9_GUEST)
    out = tmp_path / "run.json"
    r = subprocess.run(bootdbg_argv() + ["run", str(img), "--no-state", "--json", str(out)],
                       capture_output=True, text=True, timeout=120, env=cli_env(tmp_path),
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:4] == ["ab", "[e9] e9 one", "[e9] two", "c"], r.stdout
    assert lines[4].startswith("--- stopped: halted")
    rep = json.loads(out.read_text())
    assert rep["debugcon"] == "e9 one\ntwo" and rep["serial"] == "abc\n"
    assert rep["exit_reason"] == "halted" and rep["exit_code"] == 0
    assert rep["final"]["icount"] == rep["stop"]["icount"] > 0


def test_quiet_run_prints_neither_console(tmp_path):
    img = write_image(tmp_path, E9_GUEST)
    r = subprocess.run(bootdbg_argv() + ["run", str(img), "--no-state", "--quiet"],
                       capture_output=True, text=True, timeout=120, env=cli_env(tmp_path))
    assert r.returncode == 0 and r.stdout.startswith("--- stopped: halted"), r.stdout


def test_session_report_and_api_have_the_e9_text(tmp_path):
    from debugger.engine.session import Session

    img = write_image(tmp_path, E9_GUEST)
    out = tmp_path / "s.json"
    r = subprocess.run(bootdbg_argv() + [str(img), "--batch", "--json", str(out)],
                       capture_output=True, text=True, timeout=120, env=cli_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["debugcon"] == "e9 one\ntwo"
    s = Session(img)
    s.cont()
    assert s.debugcon == b"e9 one\ntwo" and s.serial == b"abc\n"
    assert s.machine.devices.debugcon.output == s.debugcon


@pytest.mark.skipif(shutil.which("qemu-system-i386") is None, reason="qemu-system-i386 missing")
def test_e9_text_equals_qemu_debugcon(tmp_path):
    from debugger.engine.session import Session

    img = write_image(tmp_path, E9_GUEST)
    e9 = tmp_path / "e9.txt"
    try:
        subprocess.run(["qemu-system-i386", "-display", "none", "-no-reboot", "-m", "16",
                        "-serial", "null", "-monitor", "none", "-debugcon", f"file:{e9}",
                        "-drive", f"file={img},format=raw,if=floppy", "-boot", "a"],
                       timeout=5, capture_output=True)
    except subprocess.TimeoutExpired:
        pass                                    # the guest halts; QEMU runs on
    s = Session(img)
    s.cont()
    qemu = e9.read_bytes()
    # SeaBIOS writes its own log to port E9h first; the guest's text is what follows it.
    assert qemu.endswith(s.debugcon), (qemu[-80:], s.debugcon)
