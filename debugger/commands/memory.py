"""Memory and code: x/NFU (linear; seg:off accepted), xp (physical), disassemble/u."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rich.text import Text

from debugger.commands import CommandError, command
from debugger.commands.args import number

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

_SIZES = {"b": 1, "h": 2, "w": 4, "g": 8}
_FMTS = "xduotacsi"
_PER_LINE = {1: 8, 2: 8, 4: 4, 8: 2}
_FMT_RE = re.compile(r"^/(0x[0-9a-fA-F]+|\d*)([a-z]*)")


def parse_fmt(text: str, last: Any) -> tuple[int, str, int, str]:
    """'/8xb rest' -> (count, fmt, size, rest); defaults from the last x (gdb rules)."""
    count, fmt, size = 1, (last.fmt if last else "x"), (last.size if last else 4)
    m = _FMT_RE.match(text)
    if not m:
        return count, fmt, size, text.strip()
    if m.group(1):
        count = int(m.group(1), 0) if m.group(1).startswith("0x") else int(m.group(1))
        if count < 1:
            raise CommandError("count must be at least 1")
        if count > 1 << 16:
            raise CommandError("count too large (at most 65536)")
    seen_fmt = False
    for ch in m.group(2):
        if ch in _SIZES:
            size = _SIZES[ch]
        elif ch in _FMTS:
            fmt = ch
            seen_fmt = True
        else:
            raise CommandError(f"unknown format letter {ch!r} (formats {_FMTS}, sizes bhwg)")
    if seen_fmt and fmt == "c" and not any(c in _SIZES for c in m.group(2)):
        size = 1
    if seen_fmt and fmt == "a" and not any(c in _SIZES for c in m.group(2)):
        size = 4
    return count, fmt, size, text[m.end():].strip()


def format_unit(v: int, fmt: str, size: int) -> str:
    bits = size * 8
    if fmt == "x":
        return f"0x{v:0{2 * size}x}"
    if fmt == "d":
        return str(v - (1 << bits) if v >> (bits - 1) else v)
    if fmt == "u":
        return str(v)
    if fmt == "o":
        return f"0{v:o}"
    if fmt == "t":
        return f"{v:0{bits}b}"
    if fmt == "c":
        b = v & 0xFF
        ch = chr(b) if 32 <= b < 127 else f"\\x{b:02x}"
        return f"{b} '{ch}'"
    if fmt == "a":
        return f"0x{v:x}"
    raise CommandError(f"format {fmt!r} cannot show units")


def _c_string(data: bytes) -> str:
    out = []
    for b in data:
        out.append({10: "\\n", 13: "\\r", 9: "\\t", 34: '\\"', 92: "\\\\"}.get(
            b, chr(b) if 32 <= b < 127 else f"\\x{b:02x}"))
    return '"' + "".join(out) + '"'


def examine(ctx: "CommandContext", args: str, space: str) -> Any:
    from debugger.commands.context import XState

    s = ctx.session
    last = ctx.last_x if ctx.last_x is not None and ctx.last_x.space == space else None
    count, fmt, size, rest = parse_fmt(args.strip(), last)
    if rest:
        addr = s.resolve(rest, physical=space == "physical")
    elif last is not None:
        addr = last.address
        if not args.strip():
            count = last.count
    else:
        raise CommandError(f"{'xp' if space == 'physical' else 'x'} needs an address, "
                           "e.g. x/8xb 0x7c00, x/4i $pc, x/2s ds:si")
    if fmt == "i":
        if space == "physical":
            raise CommandError("xp/i: disassemble physical memory through its linear address")
        from debugger.ui.panes.code import listing

        st = s.state()
        ins = s.disassemble(addr, count)
        if not ins:
            s.read_memory(addr, 1)      # says which level of the page walk failed
            raise CommandError(f"cannot read code at linear {addr:#x}")
        ctx.last_x = XState(ins[-1].address + ins[-1].size, count, fmt, size, space)
        s.variables["_"] = ins[-1].address
        return listing(st, ins, current=st.pc, breakpoints=_bps(ctx), styled=ctx.styled,
                       symbols=s.symbols or None)
    lines: list[str] = []
    if fmt == "s":
        a = addr
        for _ in range(count):
            data = b""
            while len(data) < 4096:
                chunk = s.read_memory(a + len(data), 1, space)
                if chunk == b"\0":
                    break
                data += chunk
            lines.append(f"0x{a:08x}: {_c_string(data)}")
            a += len(data) + 1
        ctx.last_x = XState(a, count, fmt, size, space)
        s.variables["_"] = a - len(data) - 1
        return Text("\n".join(lines))
    data = s.read_memory(addr, count * size, space)
    per = _PER_LINE[size] if fmt not in ("t",) else max(1, 8 // size)
    for i in range(0, count, per):
        units = [int.from_bytes(data[j * size:(j + 1) * size], "little")
                 for j in range(i, min(count, i + per))]
        lines.append(f"0x{addr + i * size:08x}: " + " ".join(
            format_unit(u, fmt, size) for u in units))
    ctx.last_x = XState(addr + count * size, count, fmt, size, space)
    s.variables["_"] = addr + (count - 1) * size         # gdb: the last unit examined...
    s.variables["__"] = int.from_bytes(data[-size:], "little")   # ...and its contents
    return Text("\n".join(lines))


def _bps(ctx: "CommandContext") -> frozenset[int]:
    from debugger.engine.points import Breakpoint

    return frozenset(b.linear for b in ctx.session.points.active(Breakpoint) if not b.physical)


@command("x", category="memory", repeatable=True, usage="x/NFU ADDRESS",
         help="Examine linear memory: N units, F format (x d u o t c a s i), U size (b h w g).\n"
              "ADDRESS: expression, SEG:OFF or *LINEAR.  x/8xb 0x7c00   x/4i $pc   x/2s ds:si\n"
              "A bare x (or Enter) continues after the last one.")
def x(ctx: "CommandContext", args: str) -> Any:
    return examine(ctx, args, "linear")


@command("xp", category="memory", repeatable=True, usage="xp/NFU PHYSICAL",
         help="Examine physical memory (formats as for x, except i).")
def xp(ctx: "CommandContext", args: str) -> Any:
    return examine(ctx, args, "physical")


@command("disassemble", aliases=["u", "disas", "disasm"], category="memory",
         usage="disassemble [/N] [-16|-32|-64] [LOCATION [COUNT] | START,END | START,+LEN]",
         help="Disassemble (default: 10 instructions at CS:EIP, in the code size the CPU runs).\n"
              "Counts may be hex (0x10).  Bochs form: u START END (END a hex address above "
              "START).")
def disassemble(ctx: "CommandContext", args: str) -> Any:
    from debugger.ui.panes.code import listing

    s = ctx.session
    st = s.state()
    text = args.strip()
    count, bits = 10, None
    m = re.match(r"^/(0x[0-9a-fA-F]+|\d+)\s*", text)
    if m:
        count = int(m.group(1), 0) if m.group(1).startswith("0x") else int(m.group(1))
        text = text[m.end():]
    words = []
    for w in text.split():
        if w in ("-16", "-32", "-64"):
            bits = int(w[1:])
        else:
            words.append(w)
    text = " ".join(words)
    end = None
    if "," in text:
        a, _, b = text.partition(",")
        start = s.resolve(a.strip()) if a.strip() else st.pc
        b = b.strip()
        end = start + number(b[1:], "length") if b.startswith("+") else s.resolve(b)
        if end <= start:
            raise CommandError("the end must be after the start")
        if end - start > 1 << 16:
            raise CommandError("range too large (at most 64 KiB)")
        count = 0
    elif text:
        parts = text.rsplit(None, 1)
        if len(parts) == 2 and re.fullmatch(r"\d+", parts[1]):
            text, count = parts[0], int(parts[1])
        elif len(parts) == 2 and re.fullmatch(r"0x[0-9a-fA-F]+|[0-9][0-9a-fA-F]*h", parts[1]):
            second = number(parts[1])
            first = s.resolve(parts[0])
            if second > first:                  # Bochs: u START END
                return disassemble(ctx, (f"-{bits} " if bits else "") +
                                   f"{parts[0]},{parts[1]}")
            text, count = parts[0], second      # a hex count
        start = s.resolve(text)
    else:
        start = st.pc
    if count < 0 or count > 4096:
        raise CommandError("count must be between 1 and 4096")
    if end is not None:
        from debugger.disasm import disassemble as dis

        try:
            code = s.read_memory(start, end - start + 15)
        except Exception:
            code = s.read_memory(start, end - start)
        ins = [i for i in dis(code, start, bits or st.bits) if i.address < end]
    else:
        ins = s.disassemble(start, count or 10, bits)
    if not ins:
        raise CommandError(f"cannot read code at linear {start:#x}")
    return listing(st, ins, current=st.pc, breakpoints=_bps(ctx), styled=ctx.styled,
                       symbols=s.symbols or None)
