"""The TUI's status line: after a run ends -- by itself or by Ctrl-C -- it shows the machine
where it stopped (stop number, kind, CS:EIP, icount and mode), never the running line or a
stale "interrupting" message."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.cli.guests import VM86, write_image  # noqa: E402
from tests.ui.tui.driver import run_tui  # noqa: E402


def status_line(t) -> str:
    """The status bar: the row above the command line."""
    return t.screen().splitlines()[t.height - 2] if len(t.screen().splitlines()) >= \
        t.height - 1 else ""


def idle(t) -> bool:
    """The keys sent are handled and no command runs."""
    return t.idle()


def test_status_after_ctrl_c_shows_the_stop_icount_and_mode(tmp_path):
    img = write_image(tmp_path, VM86)          # its vm86 code spins for ever

    async def scenario(t):
        t.send("catch vm86", "Enter")
        await t.wait_for(lambda: "Catchpoint 1" in t.output() and idle(t))
        t.send("F5")
        await t.wait_for(lambda: t.tui.ctx.session.last_stop is not None and idle(t))
        t.send("F5")                           # spins: only Ctrl-C ends it
        await t.wait_for(lambda: "running: continue" in status_line(t))
        start = t.tui.ctx.session.icount
        await t.wait_for(lambda: t.tui.runner.executed() > 1000)
        t.send("C-c")
        await t.wait_for(lambda: idle(t) and t.tui.view is not None
                         and t.tui.view.context.icount > start)
        s = t.tui.ctx.session
        ev = s.last_stop
        assert ev.kind == "interrupt"
        await t.wait_for(lambda: "running" not in status_line(t))
        line = status_line(t)
        assert "interrupting" not in line, line
        assert f"stop #{len(s.stops)} interrupt at {ev.cs:04x}:{ev.eip:04x}" in line, line
        assert f"icount {s.icount}" in line and "vm86" in line, line
        # the next command's end replaces it too (a step from where Ctrl-C stopped)
        n = len(s.stops)
        t.send("F7")
        await t.wait_for(lambda: idle(t) and len(s.stops) == n + 1)
        await t.wait_for(lambda: f"icount {s.icount}" in status_line(t))
        assert f"stop #{len(s.stops)} step" in status_line(t)
    run_tui(img, scenario, width=120, height=40)
