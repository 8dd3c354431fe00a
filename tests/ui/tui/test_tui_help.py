"""The key help overlay (F2 or ?): a framed box inside the terminal at every size from 80x24,
every line of it readable -- wrapped under its key, not cut -- and, when the terminal is too
short for all of it, paged with the arrows / PgUp / PgDn (any other key closes it)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.ui.tui.driver import run_tui  # noqa: E402
from tests.ui.tui.test_tui_app import demo  # noqa: E402


def box(screen: str) -> list[str]:
    """The help box's inner lines (between its side borders), checking the frame is whole."""
    rows = screen.splitlines()
    top = next(i for i, ln in enumerate(rows) if "┌" in ln and "keys" in ln)
    left = rows[top].index("┌")
    right = rows[top].index("┐")
    bottom = next(i for i in range(top + 1, len(rows)) if rows[i][left:left + 1] == "└")
    assert rows[bottom][right] == "┘", rows[bottom]
    inner = []
    for ln in rows[top + 1:bottom]:
        ln = ln.ljust(right + 1)
        assert ln[left] == "│" and ln[right] == "│", (ln, screen)
        inner.append(ln[left + 1:right])
    return inner


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (80, 14)])
def test_help_is_framed_fits_and_every_line_is_readable(size):
    from debugger.ui.tui.helpbox import KEY_COL, KEY_HELP

    width, height = size

    async def scenario(t):
        t.send("F2")
        await t.wait_for(lambda: t.tui.state.show_help and "┌" in t.screen())
        seen: list[str] = []
        for _ in range(40):
            s = t.screen()
            rows = s.splitlines()
            assert len(rows) <= height and all(len(r) <= width for r in rows)
            page = box(s)
            seen.extend(page)
            if "more" not in s.splitlines()[[i for i, r in enumerate(rows) if "└" in r][0]]:
                break
            assert height < 24, "at 80x24 the whole help fits on one page"
            before = t.tui.state.help_top
            t.send("\x1b[6~")                         # PgDn
            await t.wait_for(lambda: t.tui.state.help_top != before)
        else:
            raise AssertionError("the help never reached its end")
        text = words(" ".join(seen))
        for keys, what in KEY_HELP:
            assert re.search(re.escape(words(keys)) + r"\s+" + re.escape(words(what)), text), \
                (keys, what, text)
        # the key column stays a column: continuation lines are indented under the text
        for ln in seen:
            if ln.strip() and not any(ln.startswith(f" {k:<{KEY_COL}}  ") for k, _ in KEY_HELP) \
                    and not ln.startswith(" " * (KEY_COL + 3)):
                raise AssertionError(f"a help line left its column: {ln!r}")
        t.send("x")                                   # any other key closes it
        await t.wait_for(lambda: not t.tui.state.show_help and "┌" not in t.screen())
        assert t.tui.cmdline_buffer.text == ""
    run_tui(demo("hello"), scenario, width=width, height=height)
