"""Defects a gdb-TUI / pwndbg user finds in the TUI at 80x24 and at larger sizes, on the pmode
and vm86 demos: nothing cut, nothing misaligned, nothing stale after a stop."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.ui.tui.driver import run_tui  # noqa: E402
from tests.ui.tui.test_tui_app import demo  # noqa: E402
from tests.ui.tui.test_tui_status import idle, status_line  # noqa: E402


async def stop_at(t, catch: str, times: int = 1) -> None:
    await t.command(f"catch {catch}")
    for _ in range(times):
        n = len(t.tui.ctx.session.stops)
        t.send("F5")
        await t.wait_for(lambda: len(t.tui.ctx.session.stops) > n and idle(t))


@pytest.mark.parametrize("image,catch,times", [("pmode", "mode", 2), ("vm86", "vm86 enter", 1)])
def test_status_cs_eip_is_written_as_the_stop_line_writes_it(image, catch, times):
    async def scenario(t):
        await stop_at(t, catch, times)
        n = len(t.tui.ctx.session.stops) + 1
        t.send("F7")
        await t.wait_for(lambda: idle(t) and f"stop #{n} step" in status_line(t))
        where = re.findall(r"Stop #\d+ step at (\S+)", t.output())[-1]
        assert f"step at {where} " in status_line(t), (where, status_line(t))
    run_tui(demo(image), scenario, width=120, height=40)


def test_summary_line_at_80x24_keeps_every_field_whole():
    async def scenario(t):
        await stop_at(t, "vm86 enter")
        st = t.tui.view.state
        top = t.screen().splitlines()[0]
        for field in ("mode vm86", "CPL 3", f"icount {t.tui.view.context.icount}", "VM 1",
                      f"IOPL {st.iopl}", f"EIP {st.rip & 0xFFFFFFFF:08x}"):
            assert re.search(rf"(^|  ){re.escape(field)}(  |$)", top), (field, top)
    run_tui(demo("vm86"), scenario, width=80, height=24)


def test_registers_pane_in_the_tall_layout_does_not_break_a_field():
    async def scenario(t):
        await stop_at(t, "vm86 enter")
        t.tui.focus_pane("regs")
        await t.wait_for(lambda: t.pane("regs"))
        rows = [r for r in t.pane("regs") if r.strip()]
        width = t.tui.tlayout.windows["regs"].render_info.window_width
        assert width < 76, width                   # narrower than EIP + EFLAGS in one line
        assert any(re.search(r"EFLAGS [0-9a-f]{8} .*\[[a-zA-Z ]+\]$", r) for r in rows), rows
        mode = next(r for r in rows if r.startswith("mode "))
        assert f"icount {t.tui.view.context.icount}" in mode, rows
        for r in rows:                             # every NAME is followed by its value
            assert not re.search(r"\b(E[A-Z]{2}|EFLAGS|CR\d|IOPL|VM)$", r), rows
    run_tui(demo("vm86"), scenario, width=120, height=40)


def test_smallest_tall_layout_cuts_no_field_rule_id_or_word():
    """110x32 (the smallest `tall`), unreal demo stopped where kvm rejects 7 rules: the mode
    line, the verdict's rule IDs, the segment table's hidden rows and the command output."""
    async def scenario(t):
        await t.command("profile kvm")
        await stop_at(t, "vmx-invalid")
        v = t.tui.view
        rules = {str(x.rule) for x in v.context.verdict.violations}
        regs = [r for r in t.pane("regs") if r.strip()]
        assert any(re.search(rf"  icount {v.context.icount}$", r) for r in regs), regs
        assert not any(re.fullmatch(r"\d+", r.strip()) for r in regs), regs
        seg = t.pane("segments")
        verdict = seg[0]
        assert f"not enterable: {len(rules)} rules" in verdict, verdict
        shown = re.findall(r"[A-Z0-9]+(?:\.[A-Z0-9]+)+", verdict)
        assert shown and set(shown) <= rules, (verdict, rules)
        assert len(shown) == len(rules) or re.search(r", \+\d+$", verdict), verdict
        assert set(shown) | set(re.findall(r"\+(\d+)$", verdict)) and (
            len(shown) + int((re.findall(r"\+(\d+)$", verdict) or ["0"])[0]) == len(rules))
        # the table is longer than its slot: the last row says so instead of hiding TR/GDTR
        if not any(r.startswith("GDTR") for r in seg):
            assert re.search(r"\d+ more lines?", seg[-1]), seg
            t.tui.focus_pane("segments")
            t.send("\x1b[F")                           # End: the last lines, no marker
            await t.wait_for(lambda: any(r.startswith("GDTR") for r in t.pane("segments")))
            assert not any("more line" in r for r in t.pane("segments"))
            t.send(":")
            await t.wait_for(lambda: t.tui.state.focus == "cmdline")
        out = t.pane("output")
        stop = re.escape(f"{t.tui.ctx.session.last_stop.linear:#x})")
        assert any(re.search(stop, r) for r in out), out      # wrapped between words
    run_tui(demo("unreal"), scenario, width=110, height=32)


def test_long_mode_code_lines_are_whole_and_the_stack_is_named_rsp():
    async def scenario(t):
        await t.command("catch mode")
        while t.tui.view.state.mode.value != "long":
            n = len(t.tui.ctx.session.stops)
            t.send("F5")
            await t.wait_for(lambda: len(t.tui.ctx.session.stops) > n and idle(t))
        assert "stack (SS:RSP)" in t.screen()
        code = {ins.address: ins for ins in t.tui.view.context.code}
        width = t.tui.tlayout.windows["code"].render_info.window_width
        rows = [r for r in t.pane("code") if re.match(r"^.{4}0008:", r)]
        assert rows
        for r in rows:
            m = re.match(r"^.{4}0008:[0-9a-f]{16} ([0-9a-f]{8}) ", r)
            ins = code[int(m.group(1), 16)]
            assert len(r) <= width and r.endswith("  " + ins.text), (r, ins.text)
    run_tui(demo("longmode"), scenario, width=120, height=40)


def test_tui_memory_brings_the_memory_tab_forward():
    """At 80x24 the memory pane is a tab behind the code: `tui memory EXPR` shows it (the
    command line keeps the focus), and the next Tab cycle puts the group back on its first tab."""
    async def scenario(t):
        assert t.pane("memory") == []
        await t.command("tui memory 0:0x7d40")
        await t.wait_for(lambda: any("0000:7d40" in r for r in t.pane("memory")))
        assert t.tui.state.focus == "cmdline"
    run_tui(demo("hello"), scenario, width=80, height=24)


def test_wide_layout_keeps_flag_lists_and_instructions_whole():
    """220x50 (`wide`), pmode stopped in 32-bit code: the 58-column registers pane does not
    break the EFLAGS list, and the code pane shows `mov dword ptr [0x12340], 0x89abcdef`
    whole (it gives the bytes column up for the longest instruction)."""
    async def scenario(t):
        await stop_at(t, "mode", 2)
        t.send("F7")
        await t.wait_for(lambda: idle(t) and t.tui.view.state.pc == 0x7E37)
        regs = [r for r in t.pane("regs") if r.strip()]
        assert any(re.search(r"\[[a-zA-Z ]+\]$", r) for r in regs), regs
        assert not any(re.fullmatch(r"[a-zA-Z ]*\]", r) for r in regs), regs
        code = {ins.address: ins for ins in t.tui.view.context.code}
        width = t.tui.tlayout.windows["code"].render_info.window_width
        rows = [r for r in t.pane("code") if re.match(r"^.{4}0008:[0-9a-f]{8} ", r)]
        at = [code[int(r[18:26], 16)] for r in rows]
        assert any("0x89abcdef" in ins.text for ins in at)
        for r, ins in zip(rows, at):
            assert len(r) <= width and r.endswith("  " + ins.text), (r, ins.text)
    run_tui(demo("pmode"), scenario, width=220, height=50)


def test_vga_screen_narrower_than_80_columns_says_so_and_scrolls_sideways():
    """120x40: the screen tab is 71 columns wide for an 80-column VGA text screen.  Its title
    says which columns are shown, and Left/Right scroll them: every character is reachable."""
    async def scenario(t):
        t.send("F5")
        await t.wait_for(lambda: t.tui.ctx.session.stops and idle(t))
        t.tui.focus_pane("screen")
        await t.wait_for(lambda: t.pane("screen"))
        width = t.tui.tlayout.windows["screen"].render_info.window_width
        cols = len(t.tui.view.screen[0])
        assert width < cols
        rows = ["".join(ch for ch, _ in row) for row in t.tui.view.screen]
        assert f"columns 1-{width} of {cols}" in t.screen()
        seen = [""] * len(rows)
        for _ in range(20):
            x0 = int(re.search(r"columns (\d+)-", t.screen()).group(1)) - 1
            shown = t.pane("screen")
            for y, r in enumerate(shown):
                assert r == rows[y][x0:x0 + width].rstrip(), (y, x0, r)
                seen[y] = seen[y][:x0] + rows[y][x0:x0 + width]
            if x0 + width >= cols:
                break
            t.send("\x1b[C")                               # Right
            await t.wait_for(lambda: f"columns {x0 + 1}-" not in t.screen())
        assert [s.rstrip() for s in seen[:len(shown)]] == [r.rstrip() for r in rows[:len(shown)]]
        assert "Hello from bootdbg" in "\n".join(seen)
        t.send("\x1b[D")                                   # Left goes back
        await t.wait_for(lambda: f"columns {x0 + 1}-" not in t.screen())
    run_tui(demo("hello"), scenario, width=120, height=40)


def test_every_pane_agrees_with_the_machine_after_each_kind_of_stop():
    """After a step, a next, a continue to a catchpoint, a reverse step and a goto (time travel
    on), the status line, the registers pane, the code pane's current line and the stack pane
    all show the machine the session is at -- none is left at an earlier stop."""
    def check(t) -> None:
        s = t.tui.ctx.session
        st = s.state()
        assert t.tui.view.context.icount == s.icount
        assert f"icount {s.icount} " in status_line(t) + " ", status_line(t)
        regs = "\n".join(t.pane("regs"))
        assert f"icount {s.icount}" in regs and f"EIP {st.rip & 0xFFFFFFFF:08x}" in regs, regs
        cur = [r for r in t.pane("code") if r[1:3] == "=>"]
        assert len(cur) == 1 and f" {st.pc:08x} " in cur[0], (cur, hex(st.pc))
        sp = [r for r in t.pane("stack") if "=>" in r]
        ss_sp = st.ss.base + (st.rsp & (0xFFFFFFFF if st.ss.db else 0xFFFF))
        assert sp and f" {ss_sp:08x} " in sp[0], (sp, hex(ss_sp))

    async def scenario(t):
        await t.command("record")
        await t.command("catch vm86 enter")
        for keys in (["F7"], ["F8"], ["F5"], ["reverse-stepi", "Enter"], ["goto 100", "Enter"],
                     ["F7"]):
            n = len(t.tui.ctx.session.stops)
            t.send(*keys)
            await t.wait_for(lambda: len(t.tui.ctx.session.stops) > n and idle(t))
            check(t)
    run_tui(demo("vm86"), scenario, width=120, height=40)


def test_event_details_use_the_free_rows_and_say_what_is_left_out():
    """80x24, vm86 entry selected: the details below the event list get the rows the list
    does not need; what still does not fit is counted on the last line, not dropped."""
    async def scenario(t):
        await stop_at(t, "vm86 enter")
        t.tui.focus_pane("events")
        await t.wait_for(lambda: t.pane("events"))
        from debugger.ui.tui.io_panes import _details
        from debugger.ui.tui.styles import to_lines

        pane = t.pane("events")
        width = t.tui.tlayout.windows["events"].render_info.window_width
        v = t.tui.view
        want = ["".join(x for _, x in ln).rstrip()
                for ln in to_lines(_details(v.timeline[-1], v, v.time_travel), width, "plain")]
        sep = next(i for i, r in enumerate(pane) if r.startswith("────"))
        shown = pane[sep + 1:]
        listed = [r for r in pane[:sep] if r.strip()]
        assert len(listed) == min(len(v.timeline), len(listed)) and listed
        if len(want) <= len(shown):
            assert shown[:len(want)] == want
        else:
            assert shown[:-1] == want[:len(shown) - 1], (shown, want)
            assert re.search(rf"{len(want) - len(shown) + 1} more lines?", shown[-1]), shown
    run_tui(demo("vm86"), scenario, width=80, height=24)


@pytest.mark.parametrize("size", [(80, 24), (110, 32), (120, 40), (220, 50)])
def test_no_pane_draws_a_line_wider_than_its_window(size):
    """Every pane, at the supported sizes, on the unreal demo stopped where kvm rejects 7
    rules (long verdicts, rule IDs, timeline messages): each line fits the pane's window (what
    is left out is said: `…`, `+N`, `N more lines`), so the terminal never cuts one."""
    from debugger.ui.tui.panes import render

    async def scenario(t):
        await t.command("profile kvm")
        await stop_at(t, "vmx-invalid")
        for pane in t.tui.tlayout.shown_panes():
            t.tui.focus_pane(pane)
            await t.wait_for(lambda: t.pane(pane) != [])
            info = t.tui.tlayout.windows[pane].render_info
            for line in render(pane, t.tui.view, t.tui.state, info.window_width,
                               info.window_height):
                text = "".join(x for _, x in line)
                assert len(text) <= info.window_width, (pane, info.window_width, text)
    run_tui(demo("unreal"), scenario, width=size[0], height=size[1])
