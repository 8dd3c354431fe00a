"""The memory pane keeps every row whole -- the hex bytes and the ASCII column of exactly those
bytes -- at every pane width: bytes per row (16, 8, 4, ...) and the address columns shown are
chosen from the width.  Checked against the guest's memory, in the TUI at the supported
terminal sizes (80x24 up) and over a sweep of pane widths."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.ui.tui.driver import run_tui  # noqa: E402
from tests.ui.tui.test_tui_app import demo  # noqa: E402


def ascii_of(chunk: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)


def row_bytes(row: str, mem: bytes) -> int | None:
    """How many bytes of `mem` (from its start) `row` shows whole -- hex and ASCII -- or None."""
    row = row.rstrip()
    for n in (16, 8, 4, 2, 1):
        chunk = mem[:n]
        if len(chunk) < n:
            continue
        asc = ascii_of(chunk).rstrip()
        if asc and not row.endswith(" " + asc):
            continue
        tokens = row[:len(row) - len(asc)].split()
        if tokens[-n:] == [f"{b:02x}" for b in chunk] and (
                len(tokens) == n or len(tokens[-n - 1]) != 2):
            return n
    return None


def check_rows(rows: list[str], mem: bytes, width: int) -> int:
    """Every row is whole and within `width`; all rows show as many bytes; returns that."""
    assert rows, "no memory rows"
    pos, per = 0, set()
    for row in rows:
        assert len(row) <= width, (width, row)
        n = row_bytes(row, mem[pos:])
        assert n is not None, f"row at +{pos:#x} is not whole at width {width}: {row!r}"
        per.add(n)
        pos += n
    assert len(per) == 1, per
    return per.pop()


@pytest.mark.parametrize("size", [(80, 24), (110, 32), (120, 40), (200, 60), (220, 50)])
def test_memory_pane_rows_are_whole_in_the_tui(size):
    width, height = size

    async def scenario(t):
        s = t.tui.ctx.session
        for expr, addr in (("0:0x7d40", 0x7D40), ("*0x7d40", 0x7D40),
                           ("0x7d40 physical", 0x7D40)):
            await t.command(f"tui memory {expr}")
            t.tui.focus_pane("memory")
            await t.wait_for(lambda: t.tui.view.memory.expr == expr.split()[0]
                             and t.pane("memory"))
            rows = [r for r in t.pane("memory") if r]
            pane_w = t.tui.tlayout.windows["memory"].render_info.window_width
            mem = s.read_memory(addr, 16 * len(rows) + 16)
            per = check_rows(rows, mem, pane_w)
            assert per == 16 or pane_w < 80, (per, pane_w)
            assert per >= 8 or pane_w < 44, (per, pane_w)
            assert "Iu.fZfYf" in "".join(r[-per:] for r in rows)     # the text is there
            t.send(":")
            await t.wait_for(lambda: t.tui.state.focus == "cmdline")
    run_tui(demo("hello"), scenario, width=width, height=height)


def test_memory_pane_rows_are_whole_at_every_width():
    from debugger.engine.session import Session
    from debugger.ui.tui.memory_pane import memory
    from debugger.ui.tui.state import TuiState
    from debugger.ui.tui.view import MemoryView, take_view

    rnd = random.Random(7)
    data = bytes(rnd.choice(b"ABC xyz\x00\xff~!") for _ in range(256))
    ts = TuiState(theme="plain")
    base = take_view(Session(demo("hello")), ts)
    for seg in (None, (0x10, 0x7D40), (0x10, 0x12345678)):
        mv = MemoryView("x", "linear", 0x7D40, data, data, [0x7D40 + r for r in range(0, 256, 16)],
                        seg)
        view = base.__class__(**{**base.__dict__, "memory": mv})
        for width in range(24, 221):
            lines = memory(view, ts, width, 40)
            rows = ["".join(t for _, t in ln) for ln in lines]
            per = check_rows(rows, data, width)
            if width >= 80:
                assert per == 16
            if width >= 48:
                assert per >= 8


@pytest.mark.parametrize("size", [(80, 24), (110, 32)])
def test_memory_arrows_move_by_one_shown_row(size):
    """Down / Up move the memory pane by one row as shown (16 bytes at 80 columns, 8 in the
    44-column pane of 110x32), PgDn by a page of those rows."""
    def first(t) -> int:
        row = next(r for r in t.pane("memory") if r)
        return int(row.split()[0].split(":")[1], 16)

    async def scenario(t):
        await t.command("tui memory 0:0x7d40")
        t.tui.focus_pane("memory")
        await t.wait_for(lambda: t.pane("memory") and first(t) == 0x7D40)
        rows = [r for r in t.pane("memory") if r]
        per = int(rows[1].split()[0].split(":")[1], 16) - int(rows[0].split()[0].split(":")[1], 16)
        assert per == (16 if size[0] == 80 else 8)
        t.send("Down")
        await t.wait_for(lambda: first(t) != 0x7D40)
        assert first(t) == 0x7D40 + per
        t.send("Up")
        await t.wait_for(lambda: first(t) == 0x7D40)
        t.send("\x1b[6~")                               # PgDn
        await t.wait_for(lambda: first(t) != 0x7D40)
        assert first(t) == 0x7D40 + 10 * per
    run_tui(demo("hello"), scenario, width=size[0], height=size[1])
