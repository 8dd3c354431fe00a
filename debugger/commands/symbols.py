"""Symbols: `symbol-file`, `add-symbol-file` (gdb), `ldsym` (Bochs), `info symbol ADDR`,
`info symbols [REGEX]`.  Loaded names work in every expression and location (`b main`,
`x/i func+4`) and name addresses in disassembly, the context and stop lines."""
from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any, Iterable

from rich.text import Text

from debugger.commands import CommandError, command
from debugger.commands.info import sub
from debugger.engine.symbols import SymbolError, load

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

_WHERE = ("FILE: an ELF with a symbol table, a nasm map ([map all f.map]) or listing (-l), an "
          "ld map, or ADDRESS NAME lines")


def _split(args: str) -> list[str]:
    try:
        return shlex.split(args)
    except ValueError as exc:
        raise CommandError(f"bad quoting: {exc}") from None


def _load(ctx: "CommandContext", words: list[str], usage: str, replace: bool) -> str:
    """FILE [-o OFFSET | ADDRESS]: ADDRESS is where the file's lowest address (ELF: .text) goes."""
    if not words:
        raise CommandError(f"usage: {usage}")
    path, rest = words[0], words[1:]
    s = ctx.session
    try:
        syms, low = load(path)
    except SymbolError as exc:
        raise CommandError(str(exc)) from None
    offset = 0
    if rest:
        if rest[0] in ("-o", "-offset"):
            if len(rest) < 2:
                raise CommandError(f"usage: {usage}")
            offset = s.eval(" ".join(rest[1:]))
        else:
            offset = s.resolve(" ".join(rest)) - (low or 0)
    if replace:
        s.symbols.clear()
    n = s.symbols.add(syms, path, offset)
    where = f" (offset {offset:#x})" if offset else ""
    return f"{n} symbol{'s' if n != 1 else ''} from {path}{where}"


@command("symbol-file", category="memory", usage="symbol-file [FILE [-o OFFSET | ADDRESS]]",
         help="Replace the symbols with FILE's (no FILE: forget all symbols).\n" + _WHERE +
              ".\n-o OFFSET adds OFFSET to every address; ADDRESS (linear or SEG:OFF) is where\n"
              "the file's first address (an ELF's .text) is loaded.")
def symbol_file(ctx: "CommandContext", args: str) -> Any:
    words = _split(args)
    if not words:
        n = len(ctx.session.symbols)
        ctx.session.symbols.clear()
        return f"{n} symbol{'s' if n != 1 else ''} discarded"
    return _load(ctx, words, "symbol-file [FILE [-o OFFSET | ADDRESS]]", replace=True)


@command("add-symbol-file", category="memory", usage="add-symbol-file FILE [-o OFFSET | ADDRESS]",
         help="Add FILE's symbols to those loaded.\n" + _WHERE + ".\n"
              "add-symbol-file boot.map   add-symbol-file stage2.map 0800:0000   "
              "add-symbol-file k.elf -o 0x100000")
def add_symbol_file(ctx: "CommandContext", args: str) -> Any:
    return _load(ctx, _split(args), "add-symbol-file FILE [-o OFFSET | ADDRESS]", replace=False)


@command("ldsym", category="memory", usage='ldsym [global] "FILE" [OFFSET]',
         help="Load symbols (Bochs): FILE of ADDRESS NAME lines (or any format symbol-file\n"
              "reads), each address plus OFFSET.")
def ldsym(ctx: "CommandContext", args: str) -> Any:
    words = _split(args)
    if words and words[0] == "global":
        words = words[1:]
    if not words:
        raise CommandError('usage: ldsym [global] "FILE" [OFFSET]')
    return _load(ctx, [words[0]] + (["-o", *words[1:]] if len(words) > 1 else []),
                 'ldsym [global] "FILE" [OFFSET]', replace=False)


@sub("symbol", "the symbol at or before ADDRESS: info symbol 0x7c10, info symbol $pc")
def info_symbol(ctx: "CommandContext", args: str) -> Any:
    if not args.strip():
        raise CommandError("usage: info symbol ADDRESS")
    s = ctx.session
    addr = s.resolve(args)
    hit = s.symbols.nearest(addr)
    if hit is None:
        return f"No symbol matches {args.strip()}."
    sym, off = hit
    src = f" (from {sym.file})" if sym.file else ""
    return f"{sym.name}{f' + {off}' if off else ''} at linear {addr:#x}{src}"


@sub("symbols", "the loaded symbols (those matching REGEX), by address", aliases=["functions"])
def info_symbols(ctx: "CommandContext", args: str) -> Any:
    syms = ctx.session.symbols
    if not syms:
        return "No symbols loaded (symbol-file, add-symbol-file, ldsym)."
    try:
        pat = re.compile(args.strip()) if args.strip() else None
    except re.error as exc:
        raise CommandError(f"bad regular expression: {exc}") from None
    rows = sorted((s for s in syms.symbols if pat is None or pat.search(s.name)),
                  key=lambda s: (s.kind == "const", s.address, s.name))
    lines = [f"{s.address:#018x}  {s.name}" + ("  (constant)" if s.kind == "const" else "")
             for s in rows]
    return Text("\n".join(lines) if lines else "No symbols match.")


def complete_symbols(ctx: "CommandContext", word: str) -> Iterable[str]:
    """Symbol names completing the identifier at the end of `word` (keeping what precedes it:
    '*fu' -> '*func')."""
    m = re.search(r"[A-Za-z_.$?@][\w.$?@]*$", word)
    stem, head = (m.group(0), word[:m.start()]) if m else ("", word)
    if not stem and head and head[-1].isalnum():
        return []
    return [head + n for n in ctx.session.symbols.names() if n.startswith(stem)]
