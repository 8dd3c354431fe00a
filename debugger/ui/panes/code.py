"""Disassembly around CS:EIP (capstone in the executing code size), NASM-coloured, with the
current instruction and breakpoints marked."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable

from rich.text import Span, Text

from debugger.cpustate import CpuState, Mode
from debugger.disasm import Insn
from debugger.ui.fmt import seg_off
from debugger.ui.panes import pane

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["asm_text", "listing"]


def asm_text(text: str) -> Text:
    """An instruction's text coloured through the NASM lexer and the theme."""
    out = Text()
    for value, style in _asm_spans(text):
        out.append(value, style=style)
    return out


@lru_cache(maxsize=1 << 15)
def _asm_spans(text: str) -> tuple[tuple[str, str], ...]:
    """(text, style) runs of one instruction (cached: listings repeat instructions a lot)."""
    spans: list[tuple[str, str]] = []
    for tok, value in _lexer().get_tokens(text):
        value = value.rstrip("\n")
        if not value:
            continue
        style = _token_style(tok)
        if spans and spans[-1][1] == style:
            spans[-1] = (spans[-1][0] + value, style)
        else:
            spans.append((value, style))
    return tuple(spans)


@lru_cache(maxsize=None)
def _lexer() -> Any:
    from pygments.lexers import NasmLexer

    return NasmLexer()


@lru_cache(maxsize=None)
def _token_style(tok: Any) -> str:
    from debugger.ui.theme import token_style

    return token_style(tok)


FLAVOR = {"syntax": "intel"}     # `set disassembly-flavor att|intel` (display only)


def listing(st: CpuState, code: Iterable[Insn], *, current: int | None = None,
            breakpoints: frozenset[int] = frozenset(), byte_cols: int = 8,
            styled: bool = True, symbols: Any = None, label_width: int = 0) -> Text:
    """The instructions, one a line; with `symbols` (a SymbolTable, as gdb does) `<name+off>`
    after each address a symbol covers and after direct branch targets.  `styled=False` (output
    without colour): the same text without styles, built several times faster.  `label_width`
    (the TUI): the names are a column that wide (longer ones cut with `…`), so the bytes and
    instructions stay aligned."""
    # One string and one span list, then one Text: Text.append per piece costs ~20 µs, which
    # made x/65536i take minutes.
    parts: list[str] = []
    spans: list[Span] = []
    pos = 0

    def add(text: str, style: str) -> None:
        nonlocal pos
        parts.append(text)
        n = len(text)
        if styled and style:
            spans.append(Span(pos, pos + n, style))
        pos += n

    where = _seg_off_fn(st)
    att = FLAVOR["syntax"] == "att"
    for i, ins in enumerate(code):
        if i:
            parts.append("\n")
            pos += 1
        is_cur = ins.address == current
        add("*" if ins.address in breakpoints else " ", "disasm.breakpoint")
        add("=> " if is_cur else "   ", "disasm.marker")
        add(where(ins.address), "disasm.current" if is_cur else "disasm.addr")
        add(f" {ins.address:08x}  ", "muted")
        name = symbols.describe(ins.address) if symbols else None
        if label_width:
            lab = f"<{name}>" if name else ""
            if len(lab) > label_width:
                lab = lab[:label_width - 2] + "…>"
            add(f"{lab:<{label_width}} " + ("" if byte_cols > 0 else " "), "disasm.label")
        elif name:
            add(f"<{name}> ", "disasm.label")
        if byte_cols > 0:                  # (0: no bytes column)
            hx = ins.bytes.hex()
            if len(ins.bytes) > byte_cols:
                hx = ins.bytes[:byte_cols - 1].hex() + ".."
            add(f"{hx:<{2 * byte_cols}}  ", "disasm.bytes")
        if att:
            from debugger.disasm import att_text

            add(att_text(ins, st.bits), "")
        elif styled:
            for value, style in _asm_spans(ins.text):
                add(value, style)
        else:
            add(ins.text, "")
        if symbols:
            target = branch_target(ins.text)
            name = symbols.describe(target) if target is not None else None
            if name:
                add(f" <{name}>", "disasm.label")
    return Text("".join(parts), spans=spans)


def _seg_off_fn(st: CpuState) -> Any:
    """`seg_off(st, linear)` with the state's mode looked up once (the same text)."""
    if st.mode is Mode.LONG:
        return lambda linear: seg_off(st, linear)
    sel, base, bits16 = st.cs.selector, st.cs.base, st.bits == 16

    def fast(linear: int) -> str:
        off = (linear - base) & 0xFFFFFFFF
        return f"{sel:04x}:{off:04x}" if bits16 and off <= 0xFFFF else f"{sel:04x}:{off:08x}"
    return fast


_BRANCH = re.compile(r"^(?:call|j[a-z]+|loop[a-z]*|jmp)\s+(?:(?:near|far|short)\s+)?"
                     r"(0x[0-9a-f]+)\s*$")


def branch_target(text: str) -> int | None:
    """The address a direct call/jump/loop goes to, from its disassembly."""
    m = _BRANCH.match(text.strip().lower())
    return int(m.group(1), 16) if m else None



@pane("code", order=50, title="code")
def code_pane(view: "ContextView", width: int) -> Text:
    if not view.code:
        return Text("(no code readable at CS:EIP)", style="muted")
    return listing(view.state, view.code, current=view.state.pc, breakpoints=view.breakpoints,
                   symbols=view.symbols)
