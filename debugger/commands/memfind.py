"""Guest memory against the host: `find` (gdb) searches a range for values and strings; `dump`
(gdb) / `writemem` (Bochs) save a range to a file; `restore` (gdb) / `loadmem` load a file into
guest memory.  Addresses are linear (SEG:OFF and expressions too; unmapped pages are skipped by
`find` and refused by the others), or physical with -p."""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text

from debugger.commands import CommandError, command
from debugger.commands.args import number, value
from debugger.engine.session import SessionError

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

_SIZES = {"b": 1, "h": 2, "w": 4, "g": 8}
MAX_RANGE = 1 << 32          # find: at most 4 GiB of address space
MAX_FILE = 256 << 20         # dump/restore: at most 256 MiB
PAGE = 0x1000


def _split_commas(text: str) -> list[str]:
    """Split at commas outside quotes and brackets."""
    out, cur, depth, quote = [], "", 0, ""
    for ch in text:
        if quote:
            cur += ch
            if ch == quote and not cur.endswith("\\" + quote):
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


def _string(lit: str) -> bytes:
    body = lit[1:-1]
    try:
        return body.encode("latin-1").decode("unicode_escape").encode("latin-1")
    except (UnicodeError, ValueError):
        raise CommandError(f"bad string {lit}") from None


def _space(args: str) -> tuple[str, str]:
    text = args.strip()
    if text.startswith("-p ") or text == "-p":
        return "physical", text[2:].strip()
    return "linear", text


def _addr(ctx: "CommandContext", text: str, space: str) -> int:
    return ctx.session.resolve(text, physical=space == "physical")


def search(ctx: "CommandContext", start: int, end: int, pattern: bytes, space: str,
           limit: int | None = None) -> list[int]:
    """Addresses in [start, end) where `pattern` starts (unreadable pages are skipped)."""
    s = ctx.session
    hits: list[int] = []
    carry, carry_at = b"", start
    a = start
    chunk = PAGE if space == "linear" else 1 << 20
    while a < end:
        n = min(chunk - (a % chunk), end - a)
        try:
            data = s.read_memory(a, n, space)
        except SessionError:
            carry = b""
            a += n
            carry_at = a
            continue
        buf = carry + data
        base = carry_at
        i = buf.find(pattern)
        while i >= 0:
            if base + i + len(pattern) <= end:
                hits.append(base + i)
                if limit is not None and len(hits) >= limit:
                    return hits
            i = buf.find(pattern, i + 1)
        keep = len(pattern) - 1
        carry = buf[len(buf) - keep:] if keep else b""
        carry_at = base + len(buf) - len(carry)
        a += n
        if ctx.session.interrupt_requested:
            break
    return hits


@command("find", category="memory", usage="find[/SIZE][/N] [-p] START, END|+LEN, VALUE...",
         help="Search memory for a sequence of values and strings (gdb).\n"
              "SIZE b h w g: the size of each numeric VALUE (default w); N: stop after N hits.\n"
              'find /b 0x7c00, +512, 0x55, 0xaa   find 0, 0x100000, "BDBG"   find /h es:0, +0x1000, 0x4d5a\n'
              "-p: physical addresses.  $_ is the last address found, $numfound the count.")
def find(ctx: "CommandContext", args: str) -> Any:
    text = args.strip()
    size, limit = 4, None
    while text.startswith("/"):
        m = re.match(r"/([bhwg]?)(\d*)([bhwg]?)\s*", text)
        if not m or not m.group(0).strip("/ "):
            raise CommandError(f"bad modifier {text.split()[0]!r} (sizes b h w g, then a count)")
        letter = m.group(1) or m.group(3)
        if letter:
            size = _SIZES[letter]
        if m.group(2):
            limit = int(m.group(2))
            if limit < 1:
                raise CommandError("the count must be at least 1")
        text = text[m.end():]
    space, text = _space(text)
    parts = _split_commas(text)
    if len(parts) < 3 or not all(parts):
        raise CommandError("usage: find[/SIZE][/N] START, END|+LEN, VALUE...")
    start = _addr(ctx, parts[0], space)
    if parts[1].startswith("+"):
        end = start + value(ctx, parts[1][1:])
    else:
        end = _addr(ctx, parts[1], space) + 1          # gdb: END is inclusive
    if end <= start:
        raise CommandError("the end must be after the start")
    if end - start > MAX_RANGE:
        raise CommandError("range too large (at most 4 GiB)")
    pattern = b""
    for p in parts[2:]:
        if len(p) >= 2 and p[0] == p[-1] == '"':
            pattern += _string(p)
            continue
        v = value(ctx, p)
        if v < 0:
            v &= (1 << (8 * size)) - 1
        if v >> (8 * size):
            raise CommandError(f"{p} does not fit in {size} byte{'s' if size > 1 else ''}")
        pattern += v.to_bytes(size, "little")
    hits = search(ctx, start, end, pattern, space, limit)
    vars_ = ctx.session.variables
    vars_["numfound"] = len(hits)
    if hits:
        vars_["_"] = hits[-1]
    if not hits:
        return "Pattern not found."
    syms = ctx.session.symbols
    lines = []
    for h in hits[:1000]:
        name = syms.describe(h) if syms and space == "linear" else None
        lines.append(f"{h:#x}" + (f" <{name}>" if name else ""))
    if len(hits) > 1000:
        lines.append(f"... and {len(hits) - 1000} more")
    lines.append(f"{len(hits)} pattern{'s' if len(hits) != 1 else ''} found.")
    return Text("\n".join(lines))


def _words(args: str) -> list[str]:
    try:
        return shlex.split(args)
    except ValueError as exc:
        raise CommandError(f"bad quoting: {exc}") from None


def _dump(ctx: "CommandContext", path: str, start: int, end: int, space: str) -> str:
    if end <= start:
        raise CommandError("the end must be after the start")
    if end - start > MAX_FILE:
        raise CommandError("range too large (at most 256 MiB)")
    data = ctx.session.read_memory(start, end - start, space)
    try:
        Path(path).expanduser().write_bytes(data)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    return f"{len(data)} bytes of {space} memory {start:#x}-{end:#x} written to {path}"


@command("dump", category="memory", usage="dump [binary] memory [-p] FILE START END",
         help="Write guest memory [START, END) to FILE as raw bytes (gdb).  START and END are\n"
              "linear (SEG:OFF too), or physical with -p; END may be +LENGTH.")
def dump(ctx: "CommandContext", args: str) -> Any:
    words = _words(args)
    if words and words[0] == "binary":
        words = words[1:]
    if words and words[0] in ("ihex", "srec", "tekhex", "verilog", "value"):
        raise CommandError(f"dump {words[0]}: only binary (raw) dumps are supported")
    if not words or words[0] != "memory":
        raise CommandError("usage: dump [binary] memory [-p] FILE START END")
    words = words[1:]
    space = "linear"
    if words and words[0] == "-p":
        space, words = "physical", words[1:]
    if len(words) < 3:
        raise CommandError("usage: dump [binary] memory [-p] FILE START END")
    path, a, b = words[0], words[1], " ".join(words[2:])
    start = _addr(ctx, a, space)
    end = start + value(ctx, b[1:]) if b.startswith("+") else _addr(ctx, b, space)
    return _dump(ctx, path, start, end, space)


@command("writemem", category="memory", usage='writemem [-p] "FILE" ADDRESS LENGTH',
         help="Write LENGTH bytes of guest memory at ADDRESS (linear, or physical with -p) to\n"
              "FILE (Bochs).")
def writemem(ctx: "CommandContext", args: str) -> Any:
    words = _words(args)
    space = "linear"
    if words and words[0] == "-p":
        space, words = "physical", words[1:]
    if len(words) < 3:
        raise CommandError('usage: writemem [-p] "FILE" ADDRESS LENGTH')
    start = _addr(ctx, words[1], space)
    return _dump(ctx, words[0], start, start + value(ctx, " ".join(words[2:])), space)


def _restore(ctx: "CommandContext", path: str, addr: int, space: str, skip: int = 0,
             stop: int | None = None) -> str:
    p = Path(path).expanduser()
    try:
        size = p.stat().st_size
        if size > MAX_FILE:
            raise CommandError(f"{path} is too large (at most 256 MiB)")
        data = p.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    data = data[skip:stop]
    if not data:
        raise CommandError(f"nothing to load from {path}")
    ctx.session.write_memory(addr, data, space)
    return f"{len(data)} bytes from {path} loaded at {space} {addr:#x}-{addr + len(data):#x}"


@command("restore", category="memory", usage="restore [-p] FILE [binary] ADDRESS [START [END]]",
         help="Load FILE's bytes into guest memory at ADDRESS (gdb; binary files): START and\n"
              "END select a part of the file.  Linear (SEG:OFF too), or physical with -p.\n"
              "All pages are checked first: a fault leaves memory as it was.")
def restore(ctx: "CommandContext", args: str) -> Any:
    words = _words(args)
    space = "linear"
    if words and words[0] == "-p":
        space, words = "physical", words[1:]
    if len(words) >= 2 and words[1] == "binary":
        del words[1]
    if len(words) < 2:
        raise CommandError("usage: restore [-p] FILE [binary] ADDRESS [START [END]]")
    addr = _addr(ctx, words[1], space)
    skip = number(words[2], "start") if len(words) > 2 else 0
    stop = number(words[3], "end") if len(words) > 3 else None
    return _restore(ctx, words[0], addr, space, skip, stop)


@command("loadmem", category="memory", usage='loadmem [-p] "FILE" ADDRESS',
         help="Load FILE into guest memory at ADDRESS (linear, or physical with -p).")
def loadmem(ctx: "CommandContext", args: str) -> Any:
    words = _words(args)
    space = "linear"
    if words and words[0] == "-p":
        space, words = "physical", words[1:]
    if len(words) != 2:
        raise CommandError('usage: loadmem [-p] "FILE" ADDRESS')
    return _restore(ctx, words[0], _addr(ctx, words[1], space), space)
