"""Issue 16.8: `run` at the prompt is gdb's -- the guest starts again from the hand-off state
(breakpoints kept, it asks first once the guest has run, never in batch mode) -- and `start`
stops at 0000:7C00; neither is a prefix of `run-to-icount` any more."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402


def _env(tmp_path):
    """The terminal's own size, not COLUMNS/LINES (pytest-xdist workers set 80x24)."""
    env = cli_env(tmp_path)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env
from tests.cli.guests import HELLO, write_image  # noqa: E402

pexpect = pytest.importorskip("pexpect")
from tests.ui.test_repl_pty import ANSI, PROMPT, run, spawn  # noqa: E402

QUESTION = r"Start it from the beginning\? \(y or n\) "


def test_run_restarts_from_the_handoff_at_the_prompt(tmp_path):
    img = write_image(tmp_path, HELLO)
    c = spawn(tmp_path, str(img))
    assert "Breakpoint 1" in run(c, "break *0x7c09")
    out = run(c, "run")                          # not started yet: no question
    assert "Start it from" not in out
    assert re.search(r"Stop #\d+ breakpoint at 0000:7c09 .*icount \d+", out), out
    first = re.search(r"icount (\d+)", out).group(1)
    ended = re.search(r"halted .*icount (\d+)", run(c, "continue"))
    assert ended and int(ended.group(1)) > int(first)
    c.sendline("run")
    c.expect(QUESTION)
    c.sendline("n")
    c.expect(PROMPT)
    assert "Guest not restarted." in ANSI.sub("", c.before)
    assert f"Current icount: {ended.group(1)}" in run(c, "when")       # answered no
    c.sendline("run")
    c.expect(QUESTION)
    c.sendline("y")
    c.expect(PROMPT)
    out = ANSI.sub("", c.before)
    assert "Starting guest" in out and "at 0000:7c00 (the hand-off state)" in out
    m = re.search(r"Stop #\d+ breakpoint at 0000:7c09 .*icount (\d+)", out)
    assert m and m.group(1) == first, out
    assert "hit 2 times" in out                   # the breakpoint was kept, as gdb keeps it
    c.sendline("start")
    c.expect(QUESTION)
    c.sendline("y")
    c.expect(PROMPT)
    out = ANSI.sub("", c.before)
    assert re.search(r"Stop #\d+ start at 0000:7c00 \(linear 0x7c00\) — icount 0", out), out
    assert "Current icount: 0" in run(c, "when")
    c.sendline("quit")
    c.expect(pexpect.EOF)


def test_batch_run_never_asks_even_on_a_terminal(tmp_path):
    img = write_image(tmp_path, HELLO)
    argv = bootdbg_argv() + [str(img), "--batch", "-ex", "continue", "-ex", "run",
                             "-ex", "p $pc", "-ex", "start", "-ex", "p $pc"]
    child = pexpect.spawn(argv[0], argv[1:], env=_env(tmp_path), encoding="utf-8",
                          timeout=120, dimensions=(40, 120))
    child.expect(pexpect.EOF)
    child.close()
    out = ANSI.sub("", child.before)
    assert child.exitstatus == 0, out
    assert out.count("[answered Y; input not from terminal]") == 2, out
    assert "Not running" not in out              # the halted guest is running again
    assert re.search(r"Stop #\d+ halted .*\n(.*\n)*.*Stop #\d+ halted", out), out
    assert out.rstrip().endswith("= 31744 (0x7c00)"), out


def test_run_in_a_script_and_its_errors(tmp_path):
    img = write_image(tmp_path, HELLO)
    script = tmp_path / "s.gdb"
    script.write_text("continue\nrun\necho after-run\\n\nrun now\n")
    r = subprocess.run(bootdbg_argv() + [str(img), "--batch", "-x", str(script)],
                       capture_output=True, text=True, timeout=120, env=_env(tmp_path),
                       stdin=subprocess.DEVNULL)
    assert "after-run" in r.stdout and r.stdout.count("halted at") == 2, r.stdout
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        f"{script}:4: run takes no arguments (the image and options are the session's)"]


def test_run_start_are_commands_and_complete():
    from rich.console import Console

    from debugger.commands import find, load_commands
    from debugger.commands.completion import candidates
    from debugger.commands.context import CommandContext
    from debugger.engine.session import Session

    load_commands()
    assert find("run").name == "run" and find("start").name == "start"
    assert find("starti").name == "start"
    assert find("run-to-icount").name == "goto"
    ctx = CommandContext(Session(), Console(file=open("/dev/null", "w")))
    names, word = candidates(ctx, "ru")
    assert word == "ru" and {"run", "run-to-icount"} <= {n for n in names if n.startswith(word)}
    names, word = candidates(ctx, "sta")
    assert {"start", "starti"} <= {n for n in names if n.startswith(word)}
