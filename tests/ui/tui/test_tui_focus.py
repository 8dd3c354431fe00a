"""Tab and Shift-Tab in the TUI: every shown pane is visited once per cycle, in the order of
the layout (columns left to right, slots top to bottom, a group's tabs left to right), then
the command line.  The focused pane is always the one visible in its group and the one
prompt_toolkit sends keys to; a group Tab leaves goes back to its first tab, so a whole cycle
leaves the screen as it was (no group left on its second tab)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.ui.tui.driver import run_tui  # noqa: E402
from tests.ui.tui.test_tui_app import demo  # noqa: E402


def visible(t) -> set[str]:
    """The panes whose windows are in the layout now."""
    wins = set(map(id, t.tui.app.layout.find_all_windows()))
    return {n for n, w in t.tui.tlayout.windows.items() if id(w) in wins}


def ptk_focus(t) -> str:
    cur = t.tui.app.layout.current_window
    if cur is t.tui.tlayout.cmdline:
        return "cmdline"
    return next((n for n, w in t.tui.tlayout.windows.items() if w is cur), "?")


def groups(t) -> list[tuple[str, ...]]:
    from debugger.ui.tui.layout import slots_of

    return [slot for _, slots in slots_of(t.tui.tlayout.current(), t.tui.state.panes)
            for slot, _ in slots if len(slot) > 1]


def check_consistent(t, focus: str, at_rest: set[str]) -> None:
    from debugger.ui.tui.panes import title_of

    assert t.tui.state.focus == focus and ptk_focus(t) == focus
    shown = visible(t)
    for g in groups(t):
        want = focus if focus in g else g[0]
        assert want in shown and not (set(g) - {want}) & shown, (focus, g, shown)
    if focus != "cmdline":
        assert focus in shown
        word = title_of(focus, t.tui.view, t.tui.state).split()[0]    # titles are fitted
        assert re.search(rf"─ {re.escape(word)}\b", t.screen()), (focus, t.screen())
    else:
        assert shown == at_rest


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["tall", "tabs"])
def test_tab_visits_every_pane_and_leaves_no_group_on_another_tab(size):
    async def scenario(t):
        order = t.tui.tlayout.shown_panes()
        assert len(order) == len(set(order)) and set(order) == set(t.tui.state.panes)
        assert groups(t), "this layout has groups"
        at_rest = visible(t)
        assert at_rest == {g[0] for g in groups(t)} | (at_rest - {p for g in groups(t)
                                                                   for p in g})
        for step, keys in ((1, "Tab"), (-1, "\x1b[Z")):          # Tab, then Shift-Tab
            cycle = (order if step == 1 else order[::-1]) + ["cmdline"]
            for want in cycle:
                t.send(keys)
                await t.wait_for(lambda: t.tui.state.focus == want)
                await t.wait_for(lambda: ptk_focus(t) == want)
                check_consistent(t, want, at_rest)
        # a group chosen on its second tab by the user stays there while the focus is away
        # from it by other means than Tab (":" to the command line and Esc back)
        g = groups(t)[0]
        t.tui.focus_pane(g[1])
        await t.wait_for(lambda: ptk_focus(t) == g[1])
        t.send(":")
        await t.wait_for(lambda: ptk_focus(t) == "cmdline")
        assert g[1] in visible(t)
        t.send("\x1b")
        await t.wait_for(lambda: ptk_focus(t) == g[1])
        check_consistent(t, g[1], at_rest)
    run_tui(demo("pmode"), scenario, width=size[0], height=size[1])
