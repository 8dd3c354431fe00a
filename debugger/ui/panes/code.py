"""Disassembly around CS:EIP (capstone in the executing code size), NASM-coloured, with the
current instruction and breakpoints marked."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable

from rich.text import Text

from debugger.cpustate import CpuState
from debugger.engine.disasm import Insn
from debugger.ui.fmt import seg_off
from debugger.ui.panes import pane

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["asm_text", "listing"]


def asm_text(text: str) -> Text:
    """An instruction's text coloured through the NASM lexer and the theme."""
    from pygments.lexers import NasmLexer

    from debugger.ui.theme import token_style

    out = Text()
    for tok, value in NasmLexer().get_tokens(text):
        out.append(value.rstrip("\n"), style=token_style(tok))
    return out


FLAVOR = {"syntax": "intel"}     # `set disassembly-flavor att|intel` (display only)


def listing(st: CpuState, code: Iterable[Insn], *, current: int | None = None,
            breakpoints: frozenset[int] = frozenset(), byte_cols: int = 8,
            symbols: Any = None) -> Text:
    """Instructions, one a line; with `symbols` (a SymbolTable, as gdb does) `<name+off>` after
    each address a symbol covers and after direct branch targets."""
    t = Text()
    for i, ins in enumerate(code):
        if i:
            t.append("\n")
        is_bp = ins.address in breakpoints
        is_cur = ins.address == current
        t.append("*" if is_bp else " ", style="disasm.breakpoint")
        t.append("=> " if is_cur else "   ", style="disasm.marker")
        t.append(seg_off(st, ins.address), style="disasm.current" if is_cur else "disasm.addr")
        t.append(f" {ins.address:08x}  ", style="muted")
        where = symbols.describe(ins.address) if symbols else None
        if where:
            t.append(f"<{where}> ", style="disasm.label")
        hx = ins.bytes.hex()
        if len(ins.bytes) > byte_cols:
            hx = ins.bytes[:byte_cols - 1].hex() + ".."
        t.append(f"{hx:<{2 * byte_cols}}  ", style="disasm.bytes")
        if FLAVOR["syntax"] == "att":
            from debugger.engine.disasm import att_text

            t.append(att_text(ins, st.bits))
        else:
            t.append_text(asm_text(ins.text))
        if symbols:
            target = branch_target(ins.text)
            name = symbols.describe(target) if target is not None else None
            if name:
                t.append(f" <{name}>", style="disasm.label")
    return t


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
