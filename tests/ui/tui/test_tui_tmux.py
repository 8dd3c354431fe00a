"""The real `bootdbg --tui` in a tmux pseudo-terminal: 120x40, step, resize to 80x24."""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.cli.conftest import bootdbg_argv, cli_env, demo_or_guest  # noqa: E402
from tests.cli.guests import VM86  # noqa: E402


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30).stdout


def _capture(name: str) -> str:
    return _tmux("capture-pane", "-t", name, "-p")


def _wait(name: str, text: str, timeout: float = 30.0) -> str:
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _capture(name)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not on the screen:\n{screen}")


def test_tui_in_tmux_steps_and_survives_a_resize(tmp_path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    img = demo_or_guest(tmp_path, "vm86", VM86)
    env = cli_env(tmp_path, TERM="xterm-256color", BOOTDBG_TUI_CONFIG=str(tmp_path / "t.json"))
    cmd = " ".join(shlex.quote(a) for a in bootdbg_argv() + ["--tui", str(img)])
    name = f"bootdbg-test-{uuid.uuid4().hex[:8]}"
    envs = [f"{k}={v}" for k, v in env.items() if k in (
        "BOOTDBG_HISTORY", "PYTHONPATH", "TERM", "BOOTDBG_TUI_CONFIG", "PATH", "HOME")]
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40",
                    "env", *envs, "sh", "-c", cmd + "; echo EXITED $?; sleep 30"],
                   check=True, timeout=30)
    try:
        s = _wait(name, "segments")
        assert "mode real" in s and "vmx: enterable" in s and "=> 0000:7c00" in s, s
        _tmux("send-keys", "-t", name, "F7")
        s = _wait(name, "=> 0000:7c05")          # the panes follow the step
        assert "Stop #1 step at 0000:7c05" in s, s
        _tmux("send-keys", "-t", name, "F7")
        s = _wait(name, "stop #2 step")          # the status line: the view is taken
        assert "icount 2" in s and "Stop #2 step" in s
        _tmux("resize-window", "-t", name, "-x", "80", "-y", "24")
        s = _wait(name, "code  regs  segments")
        lines = s.splitlines()
        assert len(lines) <= 24 and all(len(ln) <= 80 for ln in lines), s
        assert "(bootdbg)" in lines[-1] and "stop #2 step" in s, s
        _tmux("send-keys", "-t", name, "F7")
        s = _wait(name, "Stop #3 step")
        _tmux("send-keys", "-t", name, "F1")        # back to the line prompt
        _wait(name, "(bootdbg)")
        _tmux("send-keys", "-t", name, "quit", "Enter")
        _wait(name, "EXITED 0")
    finally:
        _tmux("kill-session", "-t", name)
