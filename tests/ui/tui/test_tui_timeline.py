"""The TUI's event timeline (mode changes, vm86 entries and exits, VM-entry verdict changes,
interrupts, BIOS calls, I/O) and jumping to an event with time travel; the progress line of a
long continue.  Driven through prompt_toolkit's pipe input at a fixed size."""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.cli.guests import write_image  # noqa: E402
from tests.ui.tui.driver import run_tui  # noqa: E402
from tests.ui.tui.test_tui_app import demo  # noqa: E402


def _index(t, kind: str, icount: int | None = None) -> int:
    tl = t.tui.view.timeline
    return next(i for i, e in enumerate(tl) if e.kind == kind
                and (icount is None or e.icount == icount))


async def _select(t, i: int) -> None:
    """Move the selection (from the newest entry) to entry `i` with the arrow keys."""
    t.tui.focus_pane("events")
    n = len(t.tui.view.timeline)
    t.send(*(["Up"] * (n - 1 - i)))
    await t.wait_for(lambda: t.tui.state.selected_event == i)


def test_timeline_lists_transitions_interrupts_bios_and_io_with_cs_eip():
    async def scenario(t):
        t.send("F5")
        await t.settle()
        tl = t.tui.view.timeline
        kinds = [e.kind for e in tl]
        for k in ("bios", "disk", "mode", "vm86-enter", "vm86-leave", "cpl", "exception",
                  "io", "int"):
            assert k in kinds, (k, kinds)
        first = [(e.icount, e.kind, e.cs, e.eip) for e in tl if e.kind in
                 ("mode", "vm86-enter")][:3]
        assert first == [(1303, "mode", 0, 0x7E46), (1304, "mode", 8, 0x7E4B),
                         (3562, "vm86-enter", 0x1000, 0)]
        await _select(t, _index(t, "vm86-enter", 3562))
        s = t.screen()
        assert re.search(r"3562 vm86-enter\s+1000:0000 pm32 -> vm86 by iretd", s), s
        assert "vm86-enter at icount 3562, CS:EIP 1000:0000" in s, s
        assert "time travel is off" in s
        t.send("Enter")                   # without time travel: a message, nothing runs
        await t.wait_for(lambda: "record` turns it on" in t.screen())
        assert t.tui.ctx.session.icount == 18466
    run_tui(demo("vm86"), scenario, width=200, height=50)


def test_vmx_invalid_under_the_selected_profile():
    async def scenario(t):
        await t.command("profile kvm")
        t.send("F5")
        await t.settle()
        bad = [e for e in t.tui.view.timeline if e.kind == "vmx-invalid"]
        assert bad and all("under kvm" in e.message for e in bad)
        assert re.search(r"KVM\.RM\.DS", bad[0].message), bad[0].message
        await _select(t, _index(t, "vmx-invalid"))
        assert re.search(r"vmx-invalid\s+\S+\s+not enterable under kvm", t.screen())
        t.send(":")                             # back to the command line
        await t.wait_for(lambda: t.tui.state.focus == "cmdline")
        await t.command("profile vmx-ug")      # unreal mode is fine for unrestricted guests
        assert not [e for e in t.tui.view.timeline if e.kind == "vmx-invalid"]
    run_tui(demo("unreal"), scenario, width=200, height=50)


def test_enter_on_an_event_goes_there_with_time_travel():
    from debugger.engine.session import Session

    ref = Session(demo("vm86"))
    ref.catch("vm86")
    ref.cont()
    entered = ref.state()
    ref.cont()
    left = ref.state()

    async def scenario(t):
        await t.command("record")
        t.send("F5")
        await t.settle()
        s = t.tui.ctx.session
        end = s.icount
        i = _index(t, "vm86-enter")
        e = t.tui.view.timeline[i]
        await _select(t, i)
        assert f"Enter: go to icount {e.icount}" in t.screen()
        t.send("Enter")                                  # backwards
        await t.settle()
        assert s.icount == e.icount and s.state() == entered
        assert t.tui.state.selected_event == i          # the selection stays on the event
        screen = t.screen()
        assert f"icount {e.icount}" in screen and "mode vm86" in screen, screen
        assert re.search(r"=> 1000:0000 ", screen), screen          # the code pane follows
        cs = next(ln for ln in screen.splitlines() if re.search(r"\bCS\s+1000 ", ln))
        assert "00010000 0000ffff 000f3" in cs                       # the segment caches
        # the later events are still listed: forwards to the next vm86 exit
        j = _index(t, "vm86-leave")
        assert t.tui.view.timeline[-1].icount == end and j > i
        t.send(*(["Down"] * (j - i)))
        await t.wait_for(lambda: t.tui.state.selected_event == j)
        t.send("Enter")
        await t.settle()
        assert s.icount == t.tui.view.timeline[j].icount and s.state() == left
        assert "mode pm32" in t.screen()
    run_tui(demo("vm86"), scenario, width=200, height=50)


# Stops the PIT (mode 0, one shot) and spins with interrupts off: after the one-shot count no
# device has a deadline, so the engine runs a single slice as long as the run loop allows.
SPIN = """
    cli
    mov al, 0x30
    out 0x43, al
    xor al, al
    out 0x40, al
    out 0x40, al
spin:
    inc eax
    jmp spin
"""


def test_progress_moves_during_one_long_engine_slice(tmp_path, monkeypatch):
    """The status line's instruction count moves several times a second even when the
    engine runs one huge slice (the machine's icount only moves when a slice ends)."""
    import asyncio
    import time

    from debugger.engine import runner
    from debugger.machine import pc

    monkeypatch.setattr(pc, "SLICE", 1 << 40)
    monkeypatch.setattr(runner, "CHUNK", 1 << 40)
    img = write_image(tmp_path, SPIN)

    async def scenario(t):
        m = t.tui.ctx.session.machine
        await t.command("stepi 20000000")       # past the one-shot count
        start = m.icount
        t.send("F5")
        await t.wait_for(lambda: "MIPS" in t.screen())
        seen = []
        end = time.monotonic() + 120            # a generous limit: waits for the state, not a time
        while len(set(seen)) < 4 and time.monotonic() < end:
            s = re.search(r"running: continue · ([\d,]+) insns · ([\d.]+) MIPS", t.screen())
            if s:
                seen.append(int(s.group(1).replace(",", "")))
            await asyncio.sleep(0.1)
        assert m.icount == start                # still inside the first slice
        assert len(set(seen)) >= 4 and seen == sorted(seen), (seen, t.screen())
        t.send("C-c")
        await t.settle(timeout=20)
        assert t.tui.ctx.session.last_stop.kind == "interrupt"
        assert t.tui.ctx.session.icount >= start + seen[-1]
    run_tui(img, scenario)


def test_timeline_detail_command_and_layout_file(tmp_path, monkeypatch):
    import json

    import pytest

    from debugger.ui.tui.state import ConfigError, TuiState
    from tests.cli.guests import HELLO
    from tests.commands.conftest import Driver

    monkeypatch.setenv("BOOTDBG_TUI_CONFIG", str(tmp_path / "tui.json"))
    d = Driver(HELLO, batch=True)
    assert "timeline detail full" in d("tui timeline full")
    assert json.loads((tmp_path / "tui.json").read_text())["timeline"] == "full"
    assert "is not a number of transitions per continue" in d.error("tui timeline lots")
    (tmp_path / "bad.json").write_text('{"timeline": "sometimes"}')
    with pytest.raises(ConfigError, match="timeline must be"):
        TuiState().load(tmp_path / "bad.json")


def test_timeline_detail_in_the_tui_switches_the_detector_and_leaves_a_gap():
    async def scenario(t):
        s = t.tui.ctx.session
        await t.command("tui timeline 1")         # one localisation per continue
        t.send("F5")
        await t.settle()
        tl = t.tui.view.timeline
        gaps = [e for e in tl if e.kind == "gap"]
        assert len(gaps) == 1 and "limit of 1 per run" in gaps[0].message
        assert gaps[0].details["to"] == s.icount
        assert gaps[0].icount < 1303                 # (the first stretch stepped exactly)
        assert not [e for e in tl if e.source == "transition"]   # none invented in the gap
        await t.command("tui timeline off")
        assert not s.activity.transitions
        await t.command("tui timeline full")
        assert s.activity.transitions and s.activity.budget is None
    run_tui(demo("vm86"), scenario, width=200, height=50)


def test_leaving_the_tui_stops_logging_and_coming_back_shows_the_gap():
    async def until_vm86(t):
        await t.command("catch vm86")
        t.send("F5")
        await t.settle()

    ctx = run_tui(demo("vm86"), until_vm86, width=200, height=50)
    s, m = ctx.session, ctx.session.machine
    log = s.activity
    # outside the TUI nothing listens: full speed (the machine's fast slices need no
    # slice listeners, I/O watchers or extra interrupt listeners)
    assert not log.listening and not log.transitions
    assert not m.slice_listeners and not m.slice_end_checks and not m.bus.watchers
    left = s.icount
    s.delete()
    s.cont()

    async def back(t):
        tl = t.tui.view.timeline
        gap = next(e for e in tl if e.kind == "gap")
        assert (gap.icount, gap.details["to"]) == (left, s.icount)
        assert "nothing logged" in gap.message and "outside the TUI" in gap.message
        assert "vm86 -> pm32" in gap.message                  # the net change over the gap
        assert not [e for e in tl if left < e.icount < s.icount and e.source != "machine"]
        assert log.listening and log.transitions
        t.send("F7")
        await t.settle()
    run_tui(None, back, ctx=ctx, width=200, height=50)
