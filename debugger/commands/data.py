"""Expressions and assignments: print/p, set (registers, fields, memory, $variables,
settings), show, printf, echo, output."""
from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any, Iterable

from debugger.commands import CommandError, command
from debugger.commands.args import number, on_off, value

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

_PFMT = re.compile(r"^/([xduotca])\s*")
_ASSIGN = re.compile(r"^(.*?[^=!<>])=(?!=)(.*)$", re.S)
_SIZED = re.compile(r"^(byte|word|dword|qword)\s*\[(.+)\]$", re.I)
_SIZES = {"byte": 1, "word": 2, "dword": 4, "qword": 8}


def complete_registers(ctx: "CommandContext", text: str) -> Iterable[str]:
    from debugger.engine.regwrite import writable_names

    segs = [f"{s}.{f}" for s in ("es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr")
            for f in ("selector", "base", "limit", "ar")]
    legacy = ["eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "ax", "bx", "cx", "dx",
              "si", "di", "bp", "sp", "al", "ah", "bl", "bh", "cl", "ch", "dl", "dh", "eip", "ip",
              "es", "cs", "ss", "ds", "fs", "gs"]
    return sorted(set(writable_names()) | set(segs) | set(legacy) | {
        "gdtr.base", "gdtr.limit", "idtr.base", "idtr.limit"})


def _format(v: int, fmt: str | None) -> str:
    if fmt is None:
        return f"{v} ({v:#x})" if v > 9 or v < 0 else str(v)
    if fmt == "x":
        return f"{v:#x}"
    if fmt == "d":
        return str(v)
    if fmt == "u":
        return str(v & (2**64 - 1))
    if fmt == "o":
        return f"{v:#o}"
    if fmt == "t":
        return f"{v:b}"
    if fmt == "c":
        b = v & 0xFF
        ch = chr(b) if 32 <= b < 127 else f"\\x{b:02x}"
        return f"{b} '{ch}'"
    if fmt == "a":
        return f"{v:#x}"
    raise CommandError(f"unknown print format {fmt!r}")


@command("print", aliases=["p", "inspect", "calc", "?"], category="data",
         completer=complete_registers, usage="print[/FMT] EXPR",
         help="Evaluate an expression: registers (eax, ds.base, cr0.pe), memory (byte[ds:si],\n"
              "dword[0x7c00]), $variables, arithmetic. FMT: x d u o t c a.")
def print_(ctx: "CommandContext", args: str) -> str:
    text = args.strip()
    fmt = None
    m = _PFMT.match(text)
    if m:
        fmt = m.group(1)
        text = text[m.end():]
    elif text.startswith("/"):
        raise CommandError(f"unknown print format {text.split()[0]!r} (use x d u o t c a)")
    m = _ASSIGN.match(text)
    if m and not text.lstrip().startswith(("=", "!")):
        v = value(ctx, m.group(2))            # gdb: p $x = 5, p eax = 1 assign, then print
        lhs = m.group(1).strip()
        note = set_(ctx, f"{lhs} = {v}")
        if note:
            ctx.write(note + "\n")
        try:
            v = value(ctx, lhs)               # what it holds now (a byte keeps 8 bits, ...)
        except CommandError:
            pass
    else:
        v = value(ctx, text)
    ctx.value_history.append(v)
    n = len(ctx.value_history)
    ctx.session.variables[str(n)] = v
    ctx.session.variables["_"] = v
    return f"${n} = {_format(v, fmt)}"


@command("output", category="data", usage="output EXPR",
         help="Print an expression's value with nothing else (no newline; for scripts).")
def output(ctx: "CommandContext", args: str) -> None:
    ctx.write(str(value(ctx, args)))


def _set_setting(ctx: "CommandContext", name: str, arg: str) -> str:
    from debugger.commands.context import SETTINGS_HELP

    key = name.replace("-", "_")
    if key == "profile":
        ctx.session.set_profile(arg.strip())
        return f"Checker profile: {arg.strip()}"
    if key == "disassembly_flavor":
        from debugger.ui.panes.code import FLAVOR

        flavor = arg.strip().lower()
        if flavor not in ("att", "intel"):
            raise CommandError("disassembly-flavor: att or intel")
        FLAVOR["syntax"] = flavor
        return f"The disassembly flavor is {flavor!r}."
    if key not in SETTINGS_HELP:
        raise CommandError(f"no setting or register {name!r}; settings: "
                           + ", ".join(sorted(SETTINGS_HELP)))
    cur = getattr(ctx.settings, key)
    if isinstance(cur, bool):
        new: Any = on_off(arg, name)
    else:
        new = number(arg, name)
        if new < 0 or (key == "max_iterations" and new < 1):
            raise CommandError(f"{name} must be positive")
    setattr(ctx.settings, key, new)
    return f"{key} = {'on' if new is True else 'off' if new is False else new}"


def _is_register(name: str) -> bool:
    """Whether `$NAME` means a register (or a register field, $ds.base) in an expression."""
    from debugger.engine.exprparse import register_names

    base = name.lower().split(".", 1)[0]
    return base in ("gdtr", "idtr") or base in register_names()


@command("set", category="data", completer=complete_registers,
         usage="set REG|FIELD|SIZE[ADDR]|$VAR = EXPR  |  set SETTING VALUE",
         help="Assign: set eax = 5   set ds.base = 0x1000   set eflags.if = 0\n"
              "set byte[0x500] = 1   set word[es:di] = 0x0741   set $i = $i + 1\n"
              "Settings: set context off, set verbose on, set code_after 12, set profile kvm.\n"
              "A memory write lands even in the read-only BIOS area (C0000h-FFFFFh as the PAM\n"
              "registers leave it), where the guest's own stores are dropped.")
def set_(ctx: "CommandContext", args: str) -> str | None:
    s = ctx.session
    text = args.strip()
    for prefix in ("var ", "variable "):
        if text.startswith(prefix):
            text = text[len(prefix):].strip()
    m = _ASSIGN.match(text)
    if not m:
        parts = text.split(None, 1)
        if not parts:
            raise CommandError("set what? e.g. set eax = 5, set byte[0x500] = 1, set context off")
        return _set_setting(ctx, parts[0], parts[1] if len(parts) > 1 else "")
    lhs, rhs = m.group(1).strip(), m.group(2).strip()
    if not rhs:
        raise CommandError(f"set {lhs} = what?")
    v = value(ctx, rhs)
    if lhs.startswith("$") and _is_register(lhs[1:]):
        lhs = lhs[1:]                         # gdb: $eax is the register, set $eax = 5 sets it
    elif lhs.startswith("$"):
        name = lhs[1:]
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise CommandError(f"bad variable name {lhs!r}")
        s.variables[name] = v
        return None
    sized = _SIZED.match(lhs)
    if sized:
        size = _SIZES[sized.group(1).lower()]
        addr = s.resolve(sized.group(2).strip())
        s.write_memory(addr, (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
        return None
    if lhs.startswith("*"):
        addr = s.resolve(lhs)
        s.write_memory(addr, (v & 0xFF).to_bytes(1, "little"))
        return None
    return s.set_register(lhs, v)


@command("show", category="data", usage="show [SETTING]",
         help="Show settings (context, verbose, code_before, ..., profile).")
def show(ctx: "CommandContext", args: str) -> str:
    from debugger.commands.context import SETTINGS_HELP

    want = args.strip().replace("-", "_")
    rows = []
    for f in dataclasses.fields(ctx.settings):
        if want and f.name != want:
            continue
        v = getattr(ctx.settings, f.name)
        shown = ("on" if v else "off") if isinstance(v, bool) else str(v)
        rows.append(f"{f.name:<16} {shown:<8} {SETTINGS_HELP.get(f.name, '')}")
    if not want or want == "profile":
        rows.append(f"{'profile':<16} {ctx.session.profile:<8} the VM-entry checker profile")
    if not rows:
        raise CommandError(f"no setting {args.strip()!r}")
    return "\n".join(rows)


# -- echo / printf ----------------------------------------------------------------------------------
_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "a": "\a", "e": "\x1b", "0": "\0",
        " ": " "}


def unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "x" and re.match(r"[0-9a-fA-F]{2}", text[i + 2:i + 4]):
                out.append(chr(int(text[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append(_ESC.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


@command("echo", category="data", usage="echo TEXT",
         help="Print TEXT (C escapes such as \\n work; no newline is added, as in gdb).")
def echo(ctx: "CommandContext", args: str) -> None:
    ctx.write(unescape(args))


def _split_top(text: str) -> list[str]:
    parts, depth, cur, quote = [], 0, [], False
    for ch in text:
        if ch == '"':
            quote = not quote
        if not quote:
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append("".join(cur))
                cur = []
                continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


PRINTF_MAX_WIDTH = 4096          # a field width or precision beyond is a user error
_CONV = re.compile(r"%([-+ #0]*)(\d+|\*)?(?:\.(\d+))?(hh|h|ll|l|z|j|t)?([diouxXcsp%])")


@command("printf", category="data", usage='printf "FORMAT", EXPR...',
         help='C-style formatted output: printf "ax=%04x at %s\\n", ax, si\n'
              "(%s prints the NUL-terminated string at a linear address).")
def printf(ctx: "CommandContext", args: str) -> None:
    text = args.strip()
    m = re.match(r'^"((?:[^"\\]|\\.)*)"\s*(.*)$', text, re.S)
    if not m:
        raise CommandError('printf needs a quoted format string: printf "x=%x\\n", eax')
    fmt, rest = unescape(m.group(1)), m.group(2).strip()
    if rest and not rest.startswith(","):
        raise CommandError("printf: expected ',' after the format string")
    exprs = _split_top(rest[1:]) if rest else []
    if any(not e for e in exprs):
        raise CommandError("printf: empty argument")
    out, pos, argi = [], 0, 0
    for cm in _CONV.finditer(fmt):
        out.append(fmt[pos:cm.start()])
        pos = cm.end()
        flags, width, prec, _, conv = cm.groups()
        if conv == "%":
            out.append("%")
            continue
        if width == "*":
            raise CommandError("printf: '*' widths are not supported")
        for what, n in (("field width", width), ("precision", prec)):
            if n and int(n) > PRINTF_MAX_WIDTH:
                raise CommandError(f"printf: {what} {int(n)} is out of range (at most "
                                   f"{PRINTF_MAX_WIDTH})")
        if argi >= len(exprs):
            raise CommandError("printf: not enough arguments for the format")
        v = value(ctx, exprs[argi])
        argi += 1
        spec = "%" + flags + (width or "") + (f".{prec}" if prec else "")
        if conv == "s":
            out.append((spec + "s") % _read_cstring(ctx, v))
        elif conv == "c":
            out.append((spec + "c") % chr(v & 0xFF))
        elif conv == "p":
            out.append((spec + "s") % f"{v:#x}")
        elif conv in "di":
            out.append((spec + "d") % v)
        elif conv == "u":
            out.append((spec + "d") % (v & (2**64 - 1)))
        else:
            out.append((spec + conv) % v)
    out.append(fmt[pos:])
    if argi != len(exprs):
        raise CommandError("printf: more arguments than the format uses")
    ctx.write("".join(out))


def _read_cstring(ctx: "CommandContext", addr: int) -> str:
    data = bytearray()
    while len(data) < 4096:
        b = ctx.session.read_memory(addr + len(data), 1)
        if b == b"\0":
            break
        data += b
    return data.decode("latin-1")
