"""Issue 16.8: the context (the stop display) fits the terminal's height, dropping the least
useful parts first: plugin panes and events, the stack, code lines, control registers, segment
caches; the mode line and the registers last of all."""
from __future__ import annotations

import io
import re
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

TITLES = {"registers": "regs", "segments (hidden caches)": "segments",
          "control registers": "control", "code": "code", "stack": "stack", "events": "events"}
# what goes first when the height shrinks (a pane further right is kept at least as long)
ORDER = ["events", "stack", "control", "segments", "code", "regs"]


def _panes(lines):
    out = []
    for ln in lines:
        m = re.match(r"^([a-z ()]+?) -{3,}$", ln)
        if m and m.group(1) in TITLES:
            out.append(TITLES[m.group(1)])
    return out


def _render(view, width, height):
    from rich.console import Console

    from debugger.ui.context import render_context
    from debugger.ui.theme import THEME

    con = Console(file=io.StringIO(), width=width, color_system=None, theme=THEME)
    con.print(render_context(view, width, height=height))
    return con.file.getvalue().splitlines()


@pytest.mark.parametrize("name,steps", [("pmode", 30), ("longmode", 400)])
def test_context_fits_any_height_dropping_the_least_useful_first(name, steps):
    from debugger.engine.session import Session
    from debugger.images import image_path
    from debugger.ui.context import view_of

    img = image_path(name)
    if not img.exists():
        pytest.skip(f"demo image {name} is not built")
    s = Session(img)
    s.step(steps)
    view = view_of(s)
    full = _render(view, 120, None)
    assert _render(view, 120, len(full)) == full          # room enough: nothing changes
    assert _panes(full) == ["regs", "segments", "control", "code", "stack", "events"]
    floor = len(_render(view, 120, 1))                    # the mode line and the registers
    assert _panes(_render(view, 120, 1)) == ["regs"] and floor <= 6
    prev = set(_panes(full))
    prev_code = len(full)
    for h in range(len(full) - 1, 0, -2):
        out = _render(view, 120, h)
        assert len(out) <= max(h, floor), (h, out)
        assert out[0].startswith("mode ") and any(ln.startswith(("EAX", "RAX")) for ln in out)
        shown = set(_panes(out))
        assert shown <= prev, (h, shown, prev)            # nothing comes back as h shrinks
        gone = [p for p in ORDER if p not in shown]
        assert gone == ORDER[:len(gone)], (h, gone)       # and in the order above
        code = [ln for ln in out if re.match(r"^ (=>| {2}) [0-9a-f]{4}:", ln)]
        assert len(code) <= prev_code
        if "code" in shown:
            assert any(ln.startswith(" => ") for ln in out)   # CS:EIP is the last line to go
        prev, prev_code = shown, len(code)


def test_the_prompt_context_fits_the_terminal_rows(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    from debugger.images import image_path
    from tests.ui.test_repl_pty import ANSI, PROMPT

    img = image_path("pmode")
    if not img.exists():
        pytest.skip("demo image pmode is not built")
    c = pexpect.spawn(bootdbg_argv()[0], bootdbg_argv()[1:] + [str(img), "-q"],
                      dimensions=(70, 120), env=_env(tmp_path), encoding="utf-8",
                      timeout=60)
    c.expect(PROMPT)

    def stop_display(line):
        c.sendline(line)
        c.expect("\r\n")
        c.expect(PROMPT)
        return ANSI.sub("", c.before).replace("\r", "").rstrip("\n").split("\n")

    tall = stop_display("si 30")
    assert _panes(tall) == ["regs", "segments", "control", "code", "stack", "events"]
    for rows in (30, 20):
        c.setwinsize(rows, 120)                  # as `stty rows N` does
        out = stop_display("si")
        assert out[0].startswith("Stop #") and len(out) + 1 <= rows, (rows, out)
        assert "regs" in _panes(out) and "events" not in _panes(out)
    c.sendline("quit")
    c.expect(pexpect.EOF)
