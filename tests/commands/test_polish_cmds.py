"""Small things a new user noticed: `info idt` in protected mode names vectors as the SDM does
and IRQs by where the PICs send them; Enter after `p` repeats nothing."""
from __future__ import annotations

import re

from tests.commands.conftest import Driver
from tests.conftest import GDT_PM, GDT_TAIL

# Flat PM, the PICs remapped to 20h/28h (ICW1-4), an IDT of 0x30 empty gates, then HLT.
REMAPPED = GDT_PM + """
    mov al, 0x11
    out 0x20, al
    out 0xa0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xa1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xa1, al
    mov al, 1
    out 0x21, al
    out 0xa1, al
    lidt [idtr]
    hlt
idtr: dw 0x30 * 8 - 1
    dd idt
""" + GDT_TAIL


def _rows(out: str) -> dict[int, str]:
    """{vector: description}, the description cut at its column in the header."""
    lines = out.splitlines()
    col = next(ln for ln in lines if ln.startswith("vec")).index("description")
    return {int(ln[:2], 16): ln[col:].strip() for ln in lines
            if re.match(r"^[0-9a-f]{2}\s", ln)}


def test_info_idt_in_protected_mode_names_sdm_vectors_and_irqs():
    d = Driver(REMAPPED)
    d("set context off")
    d("continue")
    rows = _rows(d("info idt"))
    assert rows[0x00] == "#DE divide error"
    assert rows[0x0e] == "#PF page fault"
    assert rows[0x08] == "#DF double fault"             # no IRQ there any more
    assert rows[0x10] == "#MF x87 FPU error"             # not the BIOS's "video"
    assert rows[0x13] == "#XM SIMD floating-point"
    assert rows[0x1f] == "(reserved)"
    assert rows[0x20] == "IRQ 0" and rows[0x27] == "IRQ 7"
    assert rows[0x28] == "IRQ 8" and rows[0x2f] == "IRQ 15"


def test_enter_after_print_repeats_nothing():
    from debugger.ui.repl import handle_line

    d = Driver(None)
    d("set context off")
    handle_line(d.ctx, d.interp, "stepi")
    assert d.session.icount == 1
    handle_line(d.ctx, d.interp, "")                  # Enter repeats stepi
    assert d.session.icount == 2
    handle_line(d.ctx, d.interp, "p 1 + 1")
    handle_line(d.ctx, d.interp, "")                  # ...but not after p
    assert d.session.icount == 2
    handle_line(d.ctx, d.interp, "stepi")
    handle_line(d.ctx, d.interp, "")
    assert d.session.icount == 4


def test_help_wraps_instead_of_cutting():
    from rich.console import Console

    from debugger.commands import all_commands
    from debugger.commands.misc import summary_of
    from debugger.ui.theme import THEME

    d = Driver(None)
    start = d.out.tell()
    d.ctx.console = Console(file=d.out, width=80, force_terminal=False, highlight=False,
                            theme=THEME)
    d("help")
    out = d.out.getvalue()[start:]
    assert all(len(ln.rstrip()) <= 80 for ln in out.splitlines())
    assert "…" not in out
    words = out.split()
    for c in all_commands():
        summary = summary_of(c.help).split()
        assert summary[-1] in words, (c.name, summary)      # the whole sentence is there
        assert c.name in out
    assert summary_of("Run until X.\nMore text. Even more.") == "Run until X."
    assert summary_of("Two\nlines, one sentence.\n\nDetails.") == "Two lines, one sentence."


def test_breakpoint_in_vm86_names_a_seg_off_that_exists():
    from tests.conftest import ROOT

    d = Driver(None, image=ROOT / "images" / "vm86.img")
    d("set context off")
    d("catch vm86 enter")
    d("continue")
    assert d.session.state().vm
    out = d("b 0xd1").strip()
    m = re.fullmatch(r"Breakpoint 2 at ([0-9a-f]{4}):([0-9a-f]{4}) \(linear 0xd1\)", out)
    assert m, out
    seg, off = int(m.group(1), 16), int(m.group(2), 16)
    assert off <= 0xFFFF and seg * 16 + off == 0xd1
    assert d.session.resolve(f"{m.group(1)}:{m.group(2)}") == 0xd1
    cs = d.session.state().cs
    here = d("b *0x10005").strip()
    assert here == f"Breakpoint 3 at {cs.selector:04x}:0005 (linear 0x10005)"
