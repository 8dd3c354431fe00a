"""`telescope [ADDRESS] [N]` (pwndbg): N stack-sized words from ADDRESS (default SS:SP), each
followed through memory as a pointer (up to 3 levels), with the registers that point there,
symbols and strings."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from debugger.commands import CommandError, command
from debugger.commands.args import count

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

_REGS = {16: ("sp", "bp", "si", "di", "bx"), 32: ("esp", "ebp", "esi", "edi", "ebx", "eax",
                                                   "ecx", "edx"),
         64: ("rsp", "rbp", "rsi", "rdi", "rbx", "rax", "rcx", "rdx", "r8", "r9")}


def _string(data: bytes) -> str | None:
    s = data.split(b"\0", 1)[0]
    if len(s) >= 4 and all(32 <= b < 127 for b in s):
        return '"' + s.decode("ascii")[:40] + '"'
    return None


def _chain(ctx: "CommandContext", value: int, w: int, bits: int) -> str:
    s = ctx.session
    parts: list[str] = []
    seen = set()
    v = value
    for _ in range(4):
        name = s.symbols.describe(v) if s.symbols else None
        label = f" <{name}>" if name else ""
        if bits == 16 or v in seen:
            parts.append(f"{v:#x}{label}")
            break
        seen.add(v)
        try:
            data = s.read_memory(v, 16)
        except Exception:
            parts.append(f"{v:#x}{label}")
            break
        text = _string(data)
        if text is not None:
            parts.append(f"{v:#x}{label} {text}")
            break
        if name:                       # code or data with a name: show the instruction
            ins = s.disassemble(v, 1)
            parts.append(f"{v:#x}{label} ({ins[0].text})" if ins else f"{v:#x}{label}")
            break
        parts.append(f"{v:#x}")
        v = int.from_bytes(data[:w], "little")
        if len(parts) == 4:
            parts.append(f"{v:#x}")
    return " -> ".join(parts)


@command("telescope", category="memory", usage="telescope [ADDRESS] [N]",
         help="N words (default 8; the stack's width) from ADDRESS (default SS:SP), each followed\n"
              "as a pointer: telescope   telescope $esp 16   telescope ds:si 0x10")
def telescope(ctx: "CommandContext", args: str) -> Any:
    s = ctx.session
    st = s.state()
    bits = st.bits if st.bits == 64 else (32 if st.ss.db and st.bits == 32 else st.bits)
    w = bits // 8
    words = args.split()
    n = 8
    if len(words) >= 2:
        try:
            n = count(words[-1], what="count")
            words = words[:-1]
        except CommandError:
            n = 8
    if n > 4096:
        raise CommandError("count too large (at most 4096)")
    addr = s.resolve(" ".join(words)) if words else st.sp_linear
    data = s.read_memory(addr, n * w)
    regs = {}
    for r in _REGS[bits]:
        try:
            v = s.eval(r)
        except Exception:
            continue
        lin = v + (st.ss.base if r in ("sp", "esp", "bp", "ebp") and bits != 64 else 0)
        regs.setdefault(lin, []).append(r)
    lines = []
    for i in range(n):
        a = addr + i * w
        v = int.from_bytes(data[i * w:(i + 1) * w], "little")
        names = ",".join(regs.get(a, []))
        lines.append(f"{i:02x}:{i * w:04x}| {names:<8} {a:#010x}: {_chain(ctx, v, w, bits)}")
    return Text("\n".join(lines))
