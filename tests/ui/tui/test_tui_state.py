"""TUI state, layout choice, themes and the `layout`/`tui` commands outside the TUI."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.commands.conftest import Driver  # noqa: E402
from tests.cli.guests import HELLO  # noqa: E402


def test_layout_choice_by_terminal_size():
    from debugger.ui.tui.layout import choose_layout, slots_of
    from debugger.ui.tui.state import TuiState

    ts = TuiState()
    assert choose_layout(ts, 80, 24) == "tabs"
    assert choose_layout(ts, 120, 40) == "tall"
    assert choose_layout(ts, 240, 60) == "wide"
    ts.layout = "tabs"
    assert choose_layout(ts, 240, 60) == "tabs"
    cols = slots_of("tall", ["regs", "code", "events"])
    assert [s for _, slots in cols for s, _ in slots] == [("regs",), ("code",), ("events",)]


def test_config_round_trip_and_bad_files(tmp_path):
    from debugger.ui.tui.state import ConfigError, TuiState

    ts = TuiState(layout="tall", panes=["regs", "code"], theme="light", mem_expr="es:di")
    p = ts.save(tmp_path / "t.json")
    back = TuiState()
    back.load(p)
    assert (back.layout, back.panes, back.theme, back.mem_expr) == ("tall", ["regs", "code"],
                                                                    "light", "es:di")
    for bad, msg in (("{", "not JSON"), ('{"layout": "huge"}', "unknown layout"),
                     ('{"panes": ["nope"]}', "panes must be")):
        (tmp_path / "b.json").write_text(bad)
        with pytest.raises(ConfigError, match=msg):
            TuiState().load(tmp_path / "b.json")
    with pytest.raises(ConfigError, match="no such file"):
        TuiState().load(tmp_path / "missing.json")
    assert TuiState().load(tmp_path / "missing.json", missing_ok=True)


def test_no_color_gives_the_plain_theme(monkeypatch):
    from rich.text import Text

    from debugger.ui.tui.styles import effective_theme, to_lines, vga_style

    monkeypatch.setenv("NO_COLOR", "1")
    assert effective_theme("dark") == "plain"
    lines = to_lines(Text("x", style="seg.bad"), 20, "plain")
    assert lines == [[("reverse", "x")]]
    assert "fg:" not in vga_style(0x1F, plain=True)
    monkeypatch.delenv("NO_COLOR")
    assert "fg:#" in to_lines(Text("x", style="reg.changed"), 20, "dark")[0][0][0]
    assert vga_style(0x1E) == "fg:#ffff55 bg:#0000aa"      # yellow on blue


def test_segment_rows_put_rule_ids_on_the_rejected_rows():
    from debugger.checks import evaluate
    from debugger.cpustate import CpuState, Segment
    from debugger.ui.context import violations_by_register
    from debugger.ui.tui.panes import segment_rows

    st = CpuState(ds=Segment(0x10, 0, 0xFFFFFFFF, 0xC093))     # unreal: PE=0, big DS
    bad = violations_by_register(evaluate(st, "kvm"))
    text = segment_rows(st, None, bad, 200).plain
    ds = next(ln for ln in text.splitlines() if ln.startswith("DS"))
    assert "KVM.RM.DS" in ds
    es = next(ln for ln in text.splitlines() if ln.startswith("ES"))
    assert "KVM" not in es


def test_commands_outside_the_tui_say_why_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOTDBG_TUI_CONFIG", str(tmp_path / "tui.json"))
    d = Driver(HELLO, batch=True)
    assert "batch mode" in d.error("tui")
    assert "layout tabs" in d("layout tabs")
    assert json.loads((tmp_path / "tui.json").read_text())["layout"] == "tabs"
    assert "no pane" in d.error("layout hide nosuchpane")
    assert "unknown theme" in d.error("tui theme neon")
    d("tui memory es:di physical")
    assert json.loads((tmp_path / "tui.json").read_text())["memory"] == {
        "expr": "es:di", "space": "physical"}
    d2 = Driver(HELLO)
    assert "terminal" in d2.error("tui")          # pytest's stdin is not a terminal
