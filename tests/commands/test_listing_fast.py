"""The fast disassembly listing (issue 14.10) against the reference renderings: the same text
and the same colours as the NASM lexer through rich, and plain output identical to rich's."""
from __future__ import annotations

import io
import random
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.guests import HELLO  # noqa: E402
from tests.commands.conftest import Driver  # noqa: E402


def _reference_asm(text: str) -> Text:
    """The listing's colouring as it was: pygments' NASM lexer token by token, theme styles."""
    from pygments.lexers import NasmLexer

    from debugger.ui.theme import token_style

    out = Text()
    for tok, value in NasmLexer().get_tokens(text):
        out.append(value.rstrip("\n"), style=token_style(tok))
    return out


def _styles(t: Text) -> list[str]:
    per = [""] * len(t.plain)
    for sp in t.spans:
        for i in range(sp.start, sp.end):
            per[i] = str(sp.style)
    return per


def _random_code(seed: int, n: int) -> bytes:
    rnd = random.Random(seed)
    return bytes(rnd.randrange(256) for _ in range(n))


@pytest.mark.parametrize("bits", [16, 32, 64])
def test_asm_colours_equal_the_lexer(bits):
    from debugger.disasm import disassemble
    from debugger.ui.panes.code import asm_text

    seen = 0
    for ins in disassemble(_random_code(bits, 6000), 0x7C00, bits):
        fast, ref = asm_text(ins.text), _reference_asm(ins.text)
        assert fast.plain == ref.plain == ins.text
        assert _styles(fast) == _styles(ref), ins.text
        seen += 1
    assert seen > 1000


def test_listing_styled_and_plain_have_the_same_text():
    from debugger.disasm import disassemble
    from debugger.engine.session import Session
    from debugger.images import demo_image
    from debugger.ui.panes.code import asm_text, listing

    st = Session(demo_image()).state()
    ins = disassemble(_random_code(7, 3000), 0x7C00, 16)
    bps = frozenset(i.address for i in ins[::7])
    styled = listing(st, ins, current=ins[5].address, breakpoints=bps)
    plain = listing(st, ins, current=ins[5].address, breakpoints=bps, styled=False)
    assert styled.plain == plain.plain and not plain.spans
    lines = styled.plain.split("\n")
    assert len(lines) == len(ins)
    # each line's instruction part carries the lexer's colours
    per = _styles(styled)
    offset = 0
    for line, i in zip(lines, ins):
        tail = len(line) - len(i.text)
        assert line.endswith(i.text)
        assert per[offset + tail:offset + len(line)] == _styles(asm_text(i.text))
        offset += len(line) + 1
    assert lines[5].startswith(" => ") and all(lines[k].startswith("*") for k in range(0, 30, 7))


def _console(buf: io.StringIO, width: int, emoji: bool, system: str | None = None) -> Console:
    from debugger.ui.theme import THEME

    return Console(file=buf, width=width, force_terminal=system is not None,
                   color_system=system, highlight=False, soft_wrap=False, emoji=emoji,
                   theme=THEME)


def _rich(obj: object, width: int, emoji: bool, system: str | None = None) -> str:
    buf = io.StringIO()
    _console(buf, width, emoji, system).print(obj, markup=False, highlight=False)
    return buf.getvalue()


def _random_text(rnd: random.Random) -> object:
    from debugger.ui.theme import STYLES

    alphabet = ["a", "b", " ", "\n", "\t", "[", "]", "é", "€", ":", ":ok:", ":ab:", "x"] + \
        [chr(c) for c in range(0x20, 0x7F, 7)]
    s = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 60)))
    kind = rnd.randrange(4)
    if kind == 0:
        return s
    if kind == 1:
        return Text(s, justify="right") if rnd.random() < 0.3 else Text(s, style="bold")
    t = Text(s)
    names = list(STYLES) + ["", "bold red", "nosuchstyle"]
    pos = 0
    while pos < len(s):                     # spans, mostly disjoint, sometimes overlapping
        a = pos + rnd.randrange(0, 4)
        b = a + rnd.randrange(0, 8)
        t.stylize(rnd.choice(names), a, b)
        pos = b if rnd.random() < 0.9 else a
    return t


@pytest.mark.parametrize("system", [None, "standard", "256", "truecolor"])
def test_fast_printing_equals_rich(system):
    """CommandContext.print writes simple Text and str itself: the same bytes as rich."""
    from debugger.commands.context import CommandContext

    d = Driver(HELLO)
    rnd = random.Random(str(system))
    for _ in range(300):
        width = rnd.choice([20, 60, 140])
        emoji = rnd.random() < 0.5
        obj = _random_text(rnd)
        buf = io.StringIO()
        CommandContext(d.session, _console(buf, width, emoji, system)).print(obj)
        assert buf.getvalue() == _rich(obj, width, emoji, system), (repr(obj), width, emoji)


def test_coloured_listing_prints_as_rich_does():
    from debugger.commands.context import CommandContext
    from debugger.disasm import disassemble
    from debugger.ui.panes.code import listing

    d = Driver(HELLO)
    ins = disassemble(_random_code(11, 2000), 0x7C00, 32)
    t = listing(d.session.state(), ins, current=ins[3].address,
                breakpoints=frozenset({ins[9].address}))
    for system in ("standard", "truecolor"):
        buf = io.StringIO()
        CommandContext(d.session, _console(buf, 140, True, system)).print(t)
        assert buf.getvalue() == _rich(t, 140, True, system)
        assert "\x1b[" in buf.getvalue()


def test_x_65536_instructions_lists_every_line():
    d = Driver(HELLO)
    out = d("x/65536i 0x7c00")
    lines = out.splitlines()
    assert len(lines) == 65536
    assert lines[0].startswith(" => 0000:7c00 00007c00  31c0") and lines[0].endswith("xor ax, ax")
    assert "add byte ptr [bx + si], al" in lines[-1]
    last = lines[-1].split()
    again = d("x/2i").splitlines()[0].split()
    assert int(again[1], 16) == int(last[1], 16) + len(last[2]) // 2   # x goes on after it
