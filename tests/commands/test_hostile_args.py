"""Every command with hostile arguments (huge, negative, malformed, out of range): a result or
one clear line, never "internal error" or a traceback, and the session stays usable."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.guests import HELLO  # noqa: E402
from tests.commands.conftest import Driver  # noqa: E402

HOSTILE = ["", "0xffffffffffffffff", "-1", "1<<70", "99999999999", "*0xffffffffffffffff",
           "ffff:ffff", "$nosuch", '"', "%n", "/99999x 0", "1 2 3 4 5 6 7 8", ",", "1,",
           "0 0xffffffffffffffff", "-99999999999999999999", "é", "0x7c00 99999999", "*-1",
           "io 0 0x10000", "1-99999999", "$pc + (1<<64)", ", 5", "1 ,"]
# commands that leave the session, run for long, open files or the TUI, or open blocks
SKIP = {"quit", "shell", "tui", "gdbserver", "source", "record", "while", "if", "define",
        "document", "commands", "continue", "start", "restart", "finish", "until", "goto"}


def test_every_command_survives_hostile_arguments():
    from debugger.commands import all_commands
    from debugger.script.interpreter import ScriptError, SessionOver

    bad = []
    names = [c.name for c in all_commands() if c.name not in SKIP]
    assert len(names) > 30
    for name in names:
        d = Driver(HELLO, batch=True)
        d.ctx.settings.max_iterations = 100
        d("break *0x7c0c")                     # a point for condition/ignore/delete to find
        for a in HOSTILE:
            try:
                d.interp.feed(f"{name} {a}")
            except ScriptError as exc:
                msg = str(exc)
                if "internal error" in msg or "\n" in msg:
                    bad.append((name, a, msg))
            except SessionOver:
                pass
        out = d.out.getvalue() + d.err.getvalue()
        if "Traceback" in out or "internal error" in out:
            bad.append((name, "?", out[-300:]))
        d.interp.cancel()
        d("stepi")
    assert not bad, bad
