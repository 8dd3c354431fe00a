"""The TUI driven by keys through a pipe at a fixed terminal size, asserting on the screen."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.cli.guests import VM86, write_image  # noqa: E402
from tests.ui.tui.driver import run_tui  # noqa: E402


def demo(name: str) -> Path:
    from debugger.images import image_path

    p = image_path(name)
    if not p.exists():
        pytest.skip(f"demo image {name} not built")
    return p


def row(screen: str, reg: str) -> list[str]:
    line = next(ln for ln in screen.splitlines() if re.search(rf"\b{reg}\s+[0-9a-f]{{4}} ", ln))
    return line[line.index(reg):].split()


def test_vm86_iretd_shows_vm_segments_and_verdict():
    async def scenario(t):
        await t.command("catch vm86 enter")
        t.send("F5")
        await t.settle()
        s = t.screen()
        assert "mode vm86" in s and "VM=1" in s and "CPL 3" in s, s
        for reg, sel in (("ES", 0x1100), ("CS", 0x1000), ("SS", 0x1000), ("DS", 0x1000),
                         ("FS", 0x1200), ("GS", 0x1300)):
            cols = row(s, reg)
            assert int(cols[1], 16) == sel and int(cols[2], 16) == sel * 16, cols
            assert int(cols[3], 16) == 0xFFFF and int(cols[4], 16) == 0xF3, cols
        assert "vmx: enterable" in s
        assert "vm86-enter" in s and "iretd" in s          # timeline entry and its details
        assert re.search(r"=> 1000:0000 00010000", s), s    # code follows CS:EIP
    run_tui(demo("vm86"), scenario)


def test_profile_verdict_marks_rejected_fields_with_rule_ids():
    async def scenario(t):
        await t.command("profile kvm")
        await t.command("catch vmx-invalid")
        t.send("F5")
        await t.settle()
        s = t.screen()
        m = re.search(r"kvm: not enterable: (\d+) rules?", s)
        assert m and int(m.group(1)) >= 1, s
        lines = s.splitlines()
        i = next(n for n, ln in enumerate(lines) if re.search(r"\bDS\s+0010 ", ln))
        ds = " ".join(ln.split("│")[0] for ln in lines[i:i + 3])
        assert re.search(r"KVM\.RM\.DS\.(BASE|LIMIT|AR)", ds), ds
        # the selector on the segments pane: "<" / ">" change the profile, the verdict follows
        await t.command("profile vmx-ug")
        assert "vmx-ug: enterable" in t.screen()
    run_tui(demo("unreal"), scenario)


def test_vga_pane_shows_what_hello_printed():
    async def scenario(t):
        t.send("F5")
        await t.settle()
        s = t.screen()
        assert "VGA screen (80x25)" in s and "Hello from bootdbg" in s, s
        assert "serial COM1" in s
    run_tui(demo("hello"), scenario, width=220, height=50)


def test_f9_sets_a_breakpoint_that_info_breakpoints_lists():
    async def scenario(t):
        t.send("Tab")                  # empty command line: Tab goes to the panes
        await t.wait_for(lambda: t.tui.state.focus != "cmdline")
        t.tui.focus_pane("code")
        t.send("Down", "Down", "F9")
        await t.settle()
        t.send(":")
        await t.wait_for(lambda: t.tui.state.focus == "cmdline")
        await t.command("info breakpoints")
        s = t.screen()
        assert re.search(r"1\s+breakpoint\s+keep\s+y", s), s
        assert re.search(r"1\s+breakpoint\s+keep\s+y\s+linear 0x7c06", t.output()), s
        assert re.search(r"\*\s+0000:7c06", s), s         # marked in the code pane
        t.send("F5")
        await t.settle()
        assert "breakpoint at 0000:7c06" in t.screen()
    ctx = run_tui(demo("hello"), scenario)
    assert [p.linear for p in ctx.session.points] == [0x7C06]


def test_ctrl_c_interrupts_a_long_continue_and_shows_progress(tmp_path):
    img = write_image(tmp_path, VM86)          # its vm86 code spins for ever

    async def scenario(t):
        await t.command("catch vm86")
        t.send("F5")
        await t.settle()
        t.send("F5")
        await t.wait_for(lambda: "MIPS" in t.screen())
        before = t.tui.ctx.session.machine.icount
        await t.wait_for(lambda: t.tui.ctx.session.machine.icount > before + 1000)
        assert t.tui.runner.busy
        t.send("C-c")
        await t.settle(timeout=20)
        assert t.tui.ctx.session.last_stop.kind == "interrupt"
        assert re.search(r"Stop #\d+ interrupt", t.screen())
    run_tui(img, scenario)


def test_small_terminal_tabs_and_panes_cycle():
    async def scenario(t):
        s = t.screen()
        assert "code  regs  segments" in s and "vmx: enterable" in s, s
        assert all(len(ln) <= 80 for ln in s.splitlines())
        t.send("Tab")
        await t.wait_for(lambda: t.tui.state.focus == "code")
        t.send("Tab")
        await t.wait_for(lambda: "EFLAGS" in t.screen())
        t.send("F7")
        await t.settle()
        assert "Stop #1 step at 0000:7c05" in t.screen()
    run_tui(demo("hello"), scenario, width=80, height=24)


def test_quit_and_bad_commands_in_the_command_line():
    async def scenario(t):
        await t.command("frobnicate")
        assert 'undefined command: "frobnicate"' in t.screen()
        await t.command("tui")
        assert "already in the TUI" in t.screen()
        await t.command("tui memory 0:7c00")
        assert "memory pane: 0:7c00 (linear)" in t.output()
        t.tui.focus_pane("memory")           # a tab behind the stack in this layout
        await t.settle()
        assert "memory 0:7c00 (linear)" in t.screen()
        assert re.search(r"0000:7c00 00007c00 .*ea 05 7c 00", t.screen()), t.screen()
        t.send(":")                            # from a pane, ":" goes to the command line
        await t.wait_for(lambda: t.tui.state.focus == "cmdline")
        await t.command("quit")
        await t.wait_for(lambda: not t.tui.app.is_running)
    ctx = run_tui(demo("hello"), scenario, width=160, height=45)
    assert ctx.quit_requested


def test_command_line_completes_and_recalls_history():
    async def scenario(t):
        buf = t.tui.cmdline_buffer
        t.send("info break")
        await t.wait_for(lambda: buf.text == "info break")
        t.send("Tab")                       # the completion menu
        await t.wait_for(lambda: buf.complete_state is not None)
        t.send("Tab")                       # the first choice
        await t.wait_for(lambda: buf.text == "info breakpoints")
        t.send("Enter")
        await t.settle()
        assert "No breakpoints, watchpoints or catchpoints." in t.output()
        await t.command("stepi")
        t.send("Up")                        # history: the last command line
        await t.wait_for(lambda: buf.text == "stepi")
        t.send("Up")
        await t.wait_for(lambda: buf.text == "info breakpoints")
        t.send("Enter")
        await t.settle()
        assert t.output().count("(bootdbg) info breakpoints") == 2
    run_tui(demo("hello"), scenario)
