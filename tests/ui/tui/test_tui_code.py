"""The code pane: the current line is the real instruction at CS:EIP, and the lines before it
are real instruction boundaries -- known ones (stops the TUI has seen) unmarked, guessed ones
marked `?` -- on demo images where decoding backwards from a fixed offset goes wrong."""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.ui.tui.driver import run_tui  # noqa: E402
from tests.ui.tui.test_tui_app import demo  # noqa: E402


def code_lines(screen: str) -> list[tuple[str, int, str]]:
    """(marker, linear address, instruction) of each code pane line on the screen."""
    out = []
    for ln in screen.splitlines():
        m = re.match(r"^(.)(..) [0-9a-f]{4}:[0-9a-f]{4,8} ([0-9a-f]{8})  \S+\s+(.+?)\s*(│|$)",
                     ln)
        if m:
            out.append((m.group(2).strip() or m.group(1).strip(), int(m.group(3), 16),
                        m.group(4)))
    return out


def executed(name: str, upto: int) -> list[int]:
    """The linear addresses the guest executes, in order, up to icount `upto`."""
    from debugger.engine.session import Session

    s = Session(demo(name))
    pcs = []
    while s.icount < upto:
        pcs.append(s.state().pc)
        s.step()
    return pcs


def test_lines_before_eip_after_stepping_are_the_executed_instructions():
    # The boot sector starts with `jmp 0:7c05` (5 bytes): decoding back from 7c08 at a fixed
    # offset gives 7c01/7c04, inside that jump.
    async def scenario(t):
        for _ in range(3):
            t.send("F7")
            await t.settle()
        lines = code_lines(t.screen())
        cur = next(i for i, (mark, *_x) in enumerate(lines) if mark == "=>")
        assert lines[cur][1] == t.tui.ctx.session.state().pc == 0x7C08
        before = [(mark, a, text) for mark, a, text in lines[:cur] if a >= 0x7C00]
        assert [(a, text.split()[0]) for _m, a, text in before] == [
            (0x7C00, "ljmp"), (0x7C05, "cli"), (0x7C06, "xor")]
        assert all(mark == "" for mark, *_x in before)          # known: not marked
        assert all(mark == "?" for mark, a, _t in lines[:cur] if a < 0x7C00)
    run_tui(demo("hello"), scenario, width=160, height=45)


def test_a_breakpoint_in_unvisited_code_shows_the_real_boundaries_as_guesses():
    want = executed("exceptions", 1159)
    assert want[-1] == 0x7E60

    async def scenario(t):
        await t.command("record")
        await t.command("break *0x7e65")
        t.send("F5")
        await t.settle()
        lines = code_lines(t.screen())
        cur = next(i for i, (mark, *_x) in enumerate(lines) if mark.endswith("=>"))
        ins = t.tui.ctx.session.disassemble(None, 1)[0]
        assert lines[cur][1:] == (ins.address, ins.text) == (0x7E65, "mov ax, 1")
        before = lines[max(0, cur - 4):cur]
        assert [a for _m, a, _t in before] == want[-4:]           # real boundaries
        assert all(mark == "?" for mark, *_x in before)          # but not known: marked
        # going back and stepping over them makes them known
        await t.command("rsi 4")
        for _ in range(4):
            t.send("F7")
            await t.settle()
        lines = code_lines(t.screen())
        cur = next(i for i, (mark, *_x) in enumerate(lines) if mark.endswith("=>"))
        assert lines[cur][1] == 0x7E65
        assert [(m, a) for m, a, _t in lines[cur - 4:cur]] == [("", a) for a in want[-4:]]
    run_tui(demo("exceptions"), scenario, width=160, height=45)


def test_known_starts_whose_bytes_changed_are_not_trusted():
    from debugger.ui.tui.codeview import KnownStarts, listing_before

    mem = bytearray(b"\x90" * 64)
    mem[16:21] = b"\xea\x05\x7c\x00\x00"          # jmp far (5 bytes) at 16, then nops

    def read(addr: int, n: int) -> bytes:
        return bytes(mem[addr:addr + n])
    known = KnownStarts()
    known.add(16, 16, bytes(mem[16:21]))
    back, real = listing_before(read, 24, 16, 4, known)
    assert [i.address for i in back][-4:] == [16, 21, 22, 23] and {16, 21, 22, 23} <= real
    mem[16:21] = b"\x90" * 5                       # the code was overwritten
    back, real = listing_before(read, 24, 16, 4, known)
    assert 16 not in real and [i.address for i in back] == [20, 21, 22, 23]


def test_symbol_names_keep_the_code_columns_aligned_and_whole(tmp_path):
    """With a symbol file loaded, `<name+off>` sits in a column of its own: every line's
    instruction starts at the same column and is shown whole, at 80x24 and 120x40."""
    sym = tmp_path / "vm86.sym"
    sym.write_text("0x10000 v86_start\n0x100b8 v86_putc\n0x100d1 v86_puts\n"
                   "0x100e8 v86_hex8\n0x10106 a_rather_long_v86_helper_name\n")
    for width, height in ((80, 24), (120, 40)):
        async def scenario(t):
            await t.command(f"add-symbol-file {sym}")
            await t.command("catch vm86 enter")
            t.send("F5")
            await t.wait_for(lambda: t.tui.ctx.session.last_stop is not None
                             and not t.tui.runner.busy and not t.tui.state.running)
            await t.command("until *0x100d1")      # into v86_puts
            t.tui.focus_pane("code")
            await t.wait_for(lambda: t.tui.state.focus == "code")
            await t.wait_for(lambda: t.tui.view.state.pc == 0x100D1 and t.pane("code"))
            code = {ins.address: ins for ins in t.tui.view.context.code}
            pane_w = t.tui.tlayout.windows["code"].render_info.window_width
            cols, labelled = set(), 0
            for row in t.pane("code"):
                m = re.match(r"^.{4}[0-9a-f]{4}:[0-9a-f]{4,8} ([0-9a-f]{8}) ", row)
                if not m:
                    continue
                ins = code[int(m.group(1), 16)]
                assert len(row) <= pane_w
                at = row.find("  " + ins.text)
                assert at > 0, (ins.text, row)             # the instruction is there, whole
                cols.add(at)
                labelled += "<v86_puts" in row[:at]
            assert len(cols) == 1, t.pane("code")           # one column for every line
            assert labelled >= 5, t.pane("code")
        run_tui(demo("vm86"), scenario, width=width, height=height)
