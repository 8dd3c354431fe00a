"""Issue 16.8: `bootdbg --help` shows the session options (-x, -ex, --batch, --json, --tui, ...)
on the first page, as `gdb --help` does, since `bootdbg IMAGE -x FILE` is the common use."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402


def _env(tmp_path):
    """The terminal's own size, not COLUMNS/LINES (pytest-xdist workers set 80x24)."""
    env = cli_env(tmp_path)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


def test_top_level_help_lists_every_session_option(tmp_path):
    from debugger.cli import build_parser

    parser, _mods = build_parser()
    session = next(a for a in parser._actions if a.dest == "command").choices["session"]
    wanted = {opt for a in session._actions for opt in a.option_strings
              if opt not in ("-h", "--help")}
    assert {"-x", "-ex", "--batch", "--json", "--tui", "--fail-on", "--max-insns"} <= wanted
    for flag in ("--help", "-h"):
        r = subprocess.run(bootdbg_argv() + [flag], capture_output=True, text=True, timeout=60,
                           env=_env(tmp_path), stdin=subprocess.DEVNULL)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        head, sep, tail = r.stdout.partition("\nsession options (")
        assert sep, r.stdout
        assert "bootdbg [IMAGE] [options]" in head.splitlines()[0]
        listed = {w.rstrip(",") for line in tail.splitlines()
                  for w in line.split() if w.startswith("-")}
        assert wanted <= listed, sorted(wanted - listed)
        # the subcommands are still listed above
        assert all(name in head for name in ("run", "gdbserver", "replay", "check"))


def test_subcommand_usage_lines_are_unchanged(tmp_path):
    for name in ("check", "run", "session"):
        r = subprocess.run(bootdbg_argv() + [name, "--help"], capture_output=True, text=True,
                           timeout=60, env=_env(tmp_path), stdin=subprocess.DEVNULL)
        assert r.returncode == 0 and r.stdout.startswith(f"usage: bootdbg {name} "), r.stdout
