"""The progress line of long runs, as a user sees it on a terminal (a pty): drawn during
`bootdbg run` and `continue` at the prompt, erased at the stop, never over the guest's serial
output, and absent when the output is not a terminal.  BOOTDBG_PROGRESS_DELAY=0 draws it at the
start of every run, so nothing here depends on timing."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402

pexpect = pytest.importorskip("pexpect")
ROOT = Path(__file__).resolve().parents[2]
IMG = ROOT / "images" / "exceptions.img"
LINE = re.compile(r"running: [\d,]+ instructions, [\d.]+ MIPS, (real|pm16|pm32|vm86|long)")


def screen(raw: str) -> list[str]:
    """The lines a terminal would show: \\r returns, ESC[K erases to the end of the line."""
    lines, cur, col = [], [], 0
    i = 0
    while i < len(raw):
        if raw.startswith("\x1b[K", i):
            del cur[col:]
            i += 3
            continue
        ch = raw[i]
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("".join(cur))
            cur, col = [], 0
        elif ch == "\x1b":                      # other escapes: skip to the final letter
            m = re.match(r"\x1b\[[0-9;?]*[A-Za-z]", raw[i:])
            i += len(m.group(0)) if m else 1
            continue
        else:
            if col < len(cur):
                cur[col] = ch
            else:
                cur.append(ch)
            col += 1
        i += 1
    lines.append("".join(cur))
    return lines


def test_bootdbg_run_on_a_terminal(tmp_path):
    argv = bootdbg_argv() + ["run", str(IMG), "--no-state"]
    c = pexpect.spawn(argv[0], argv[1:], env=cli_env(tmp_path, BOOTDBG_PROGRESS_DELAY="0"),
                      encoding="latin-1", timeout=120, dimensions=(24, 120))
    c.expect(pexpect.EOF)
    raw = c.before
    assert LINE.search(raw), raw[:500]                      # it was drawn...
    shown = screen(raw)
    want = (ROOT / "images" / "exceptions.expect").read_text().splitlines()
    assert shown[:len(want)] == want                       # ...never over the serial text
    assert not any("running:" in ln for ln in shown)        # and erased at the stop
    assert any(ln.startswith("--- stopped: halted") for ln in shown)


def test_no_progress_line_in_a_pipe(tmp_path):
    r = subprocess.run(bootdbg_argv() + ["run", str(IMG), "--no-state"], capture_output=True,
                       text=True, env=cli_env(tmp_path, BOOTDBG_PROGRESS_DELAY="0"), timeout=120)
    assert r.returncode == 0
    assert "\x1b[K" not in r.stdout + r.stderr and "running:" not in r.stdout + r.stderr


def test_continue_at_the_prompt(tmp_path):
    argv = bootdbg_argv() + [str(IMG)]
    c = pexpect.spawn(argv[0], argv[1:], env=cli_env(tmp_path, BOOTDBG_PROGRESS_DELAY="0"),
                      encoding="latin-1", timeout=120, dimensions=(50, 140))
    c.expect(r"\(bootdbg\)")
    c.sendline("continue")
    c.expect("Stop #1")
    before = c.before
    c.expect(r"\(bootdbg\)")
    assert LINE.search(before), before[-500:]
    stop_line = screen(before + "Stop #1")[-1]
    assert stop_line.startswith("Stop #1"), stop_line      # the line was erased first
    c.sendline("quit")
    c.expect(pexpect.EOF)
