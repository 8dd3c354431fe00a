"""Symbols: names for linear addresses, loaded from the files boot code is built with.

Formats read by `load(path)` (detected from the content):

  ELF          the .symtab (or .dynsym) of a 32- or 64-bit ELF: functions, objects, labels
               (NOTYPE); section and file symbols are left out.  Addresses are st_value.
  nasm map     the file `[map all boot.map]` in the source writes: the "Symbols" section, Virtual addresses; "No Section" values are constants
               (usable in expressions, never shown as the name of an address).
  nasm listing `nasm -l boot.lst`: `label:` lines, at their offset in the section (add the
               origin with -o); local labels (.loop) are qualified by the last global label.
  GNU ld map   `ld -Map`: lines `0xADDRESS  name`.
  plain list   `ADDRESS NAME` per line (Bochs ldsym; hex, with or without 0x), or `nm`
               output `ADDRESS TYPE NAME`.  `#` and `;` start comments.

A `SymbolTable` holds the symbols of every file loaded, each shifted by the offset it was
loaded with; `lookup(name)` gives an address, `nearest(addr)` the symbol at or before an address
("name+0x4"), `at(addr)` the label exactly there.  Pure: no session, no UI.
"""
from __future__ import annotations

import bisect
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Symbol", "SymbolTable", "SymbolError", "load", "parse_text", "parse_elf"]

MAX_DISTANCE = 0x1000      # `nearest` does not name addresses further than this past a symbol


class SymbolError(Exception):
    """A symbol file that cannot be read or holds no symbols: one line."""


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int
    size: int = 0              # 0: unknown (up to the next symbol)
    kind: str = "label"        # label, func, object, const
    file: str = ""


@dataclass
class SymbolTable:
    symbols: list[Symbol] = field(default_factory=list)
    files: list[tuple[str, int, int]] = field(default_factory=list)   # (path, offset, count)

    def __post_init__(self) -> None:
        self._reindex()

    def _reindex(self) -> None:
        self._by_name = {s.name: s for s in self.symbols}
        addressed = sorted((s for s in self.symbols if s.kind != "const"),
                           key=lambda s: (s.address, s.kind != "func", s.name))
        self._sorted = addressed
        self._keys = [s.address for s in addressed]

    def __len__(self) -> int:
        return len(self.symbols)

    def __bool__(self) -> bool:
        return bool(self.symbols)

    def add(self, symbols: list[Symbol], source: str = "", offset: int = 0) -> int:
        """Add `symbols` shifted by `offset`; a later name replaces an earlier one."""
        shifted = [Symbol(s.name, (s.address + offset) & 0xFFFFFFFFFFFFFFFF
                          if s.kind != "const" else s.address, s.size, s.kind, source or s.file)
                   for s in symbols]
        names = {s.name for s in shifted}
        self.symbols = [s for s in self.symbols if s.name not in names] + shifted
        self.files.append((source, offset, len(shifted)))
        self._reindex()
        return len(shifted)

    def to_json(self) -> list[list[Any]]:
        """The symbols as [name, address, size, kind, file] rows (for a recording's header)."""
        return [[x.name, x.address, x.size, x.kind, x.file] for x in self.symbols]

    def load_json(self, rows: Any) -> int:
        """Add rows written by `to_json`; malformed rows are skipped."""
        syms = []
        for row in rows if isinstance(rows, list) else []:
            try:
                name, addr, size, kind, file = row
                syms.append(Symbol(str(name), int(addr), int(size), str(kind), str(file)))
            except (TypeError, ValueError):
                continue
        return self.add(syms, "") if syms else 0

    def clear(self) -> None:
        self.symbols, self.files = [], []
        self._reindex()

    def lookup(self, name: str) -> int | None:
        s = self._by_name.get(name)
        return None if s is None else s.address

    def get(self, name: str) -> Symbol | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def nearest(self, address: int) -> tuple[Symbol, int] | None:
        """The symbol at or before `address` that covers it: (symbol, offset)."""
        i = bisect.bisect_right(self._keys, address) - 1
        if i < 0:
            return None
        addr = self._keys[i]
        j = bisect.bisect_left(self._keys, addr)      # the preferred one among equals
        s = self._sorted[j]
        off = address - s.address
        if s.size and off >= s.size:
            return None
        if off > MAX_DISTANCE:
            return None
        return s, off

    def at(self, address: int) -> str | None:
        """The name of the symbol exactly at `address`."""
        i = bisect.bisect_left(self._keys, address)
        if i < len(self._keys) and self._keys[i] == address:
            return self._sorted[i].name
        return None

    def describe(self, address: int) -> str | None:
        """'name' or 'name+0x4' for `address`, or None."""
        hit = self.nearest(address)
        if hit is None:
            return None
        s, off = hit
        return s.name if off == 0 else f"{s.name}+{off:#x}"


SYMBOL_CAP = 128 << 20         # an ELF with its symbol table (a kernel's can be large)


# -- loaders ------------------------------------------------------------------------------------------
def load(path: str | Path) -> tuple[list[Symbol], int | None]:
    """The symbols in the file at `path`, and the lowest address the file itself names (an ELF's
    .text, else the lowest symbol) for loading it at another address."""
    from debugger.userfile import read_capped

    try:
        p = Path(path).expanduser()
    except ValueError:
        raise SymbolError(f"{path!r}: not a file name") from None
    # (read_capped: a NUL in the name, a directory or a device that never ends is one line)
    data = read_capped(p, SYMBOL_CAP, what="symbol file", error=SymbolError)
    if data[:4] == b"\x7fELF":
        syms, text = parse_elf(data, str(p))
    else:
        syms = parse_text(data.decode("latin-1"), str(p))
        text = None
    if not syms:
        raise SymbolError(f"{path}: no symbols found (ELF with a symbol table, nasm map or "
                          "listing, ld map, or ADDRESS NAME lines)")
    if text is None:
        addressed = [s.address for s in syms if s.kind != "const"]
        text = min(addressed) if addressed else 0
    return syms, text


_NAME = r"[A-Za-z_.$?@][\w.$?@#~]*"
_NASM_SYM = re.compile(rf"^\s*([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+)\s+({_NAME})\s*$")
_NASM_CONST = re.compile(rf"^\s*([0-9A-Fa-f]+)\s+({_NAME})\s*$")
_LST_ADDR = re.compile(r"^\s*\d+ ([0-9A-Fa-f]{8}) ")
_LDMAP = re.compile(rf"^\s+0x([0-9a-fA-F]+)\s+({_NAME})\s*$")
_PLAIN = re.compile(rf"^\s*(?:0x)?([0-9A-Fa-f]+)h?\s+(?:([A-Za-z])\s+)?({_NAME})\s*$")


def parse_text(text: str, source: str = "") -> list[Symbol]:
    if "NASM Map file" in text[:200]:
        return _nasm_map(text, source)
    lines = text.splitlines()
    if lines and all(re.match(r"^\s*\d+ ", ln) or not ln.strip() for ln in lines[:20]) \
            and any(_LST_ADDR.match(ln) for ln in lines[:200]):
        return _nasm_listing(lines, source)
    out: list[Symbol] = []
    ldmap = any(ln.startswith("Linker script and memory map") for ln in lines)
    for ln in lines:
        ln = ln.split("#", 1)[0].split(";", 1)[0]
        if not ln.strip():
            continue
        m = _LDMAP.match(ln) if ldmap else None
        if m is None and not ldmap:
            m2 = _PLAIN.match(ln)
            if m2 is not None:
                kind = {"t": "func", "d": "object", "b": "object", "a": "const"}.get(
                    (m2.group(2) or "").lower(), "label")
                out.append(Symbol(m2.group(3), int(m2.group(1), 16), 0, kind, source))
            continue
        if m is not None:
            out.append(Symbol(m.group(2), int(m.group(1), 16), 0, "label", source))
    return out


def _nasm_map(text: str, source: str) -> list[Symbol]:
    out: list[Symbol] = []
    in_syms = False
    no_section = False
    for ln in text.splitlines():
        if ln.startswith("-- "):
            in_syms = ln.startswith("-- Symbols")
            continue
        if not in_syms:
            continue
        if ln.startswith("---- "):
            no_section = "No Section" in ln
            continue
        m = _NASM_SYM.match(ln)
        if m and not no_section:
            out.append(Symbol(m.group(3), int(m.group(2), 16), 0, "label", source))
            continue
        m = _NASM_CONST.match(ln)
        if m and no_section:
            out.append(Symbol(m.group(2), int(m.group(1), 16), 0, "const", source))
    return out


def _nasm_listing(lines: list[str], source: str) -> list[Symbol]:
    """Labels of a nasm listing (source text from column 40) at the address of the next line
    that has one."""
    out: list[Symbol] = []
    pending: list[str] = []
    last_global = ""
    for ln in lines:
        lab = re.match(rf"^\s*({_NAME}):", ln[40:])
        if lab and not lab.group(1).startswith("..@"):
            name = lab.group(1)
            if name.startswith(".") and not name.startswith(".."):
                name = last_global + name
            else:
                last_global = name
            pending.append(name)
        m = _LST_ADDR.match(ln)
        if m and pending:
            addr = int(m.group(1), 16)
            out.extend(Symbol(n, addr, 0, "label", source) for n in pending)
            pending = []
    return out


def parse_elf(data: bytes, source: str = "") -> tuple[list[Symbol], int | None]:
    """Symbols from an ELF's .symtab (else .dynsym), and the address of its .text."""
    try:
        return _parse_elf(data, source)
    except (struct.error, IndexError, ValueError):
        raise SymbolError(f"{source}: a damaged ELF file") from None


def _parse_elf(data: bytes, source: str) -> tuple[list[Symbol], int | None]:
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x3A)
        shfmt = end + "IIQQQQIIQQ"
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x2E)
        shfmt = end + "IIIIIIIIII"
    secs = [struct.unpack_from(shfmt, data, shoff + i * shentsize) for i in range(shnum)]
    # (name, type, flags, addr, offset, size, link, info, addralign, entsize)

    def strtab(idx: int, off: int) -> str:
        s = secs[idx]
        start = s[4] + off
        stop = data.index(b"\0", start)
        return data[start:stop].decode("latin-1")

    text_addr = None
    for s in secs:
        if shstrndx < len(secs) and strtab(shstrndx, s[0]) == ".text":
            text_addr = s[3]
    tabs = [s for s in secs if s[1] == 2] or [s for s in secs if s[1] == 11]
    out: list[Symbol] = []
    for tab in tabs:
        entsize = tab[9] or (24 if is64 else 16)
        for k in range(1, tab[5] // entsize):
            base = tab[4] + k * entsize
            if is64:
                name, info, _other, shndx, value, size = struct.unpack_from(end + "IBBHQQ",
                                                                            data, base)
            else:
                name, value, size, info, _other, shndx = struct.unpack_from(end + "IIIBBH",
                                                                            data, base)
            typ = info & 0xF
            if typ in (3, 4) or not name:          # section, file
                continue
            nm = strtab(tab[6], name)
            kind = {0: "label", 1: "object", 2: "func"}.get(typ, "label")
            if shndx == 0xFFF1:                     # SHN_ABS
                kind = "const" if typ == 0 else kind
            elif shndx == 0:                        # undefined
                continue
            out.append(Symbol(nm, value, size, kind, source))
    return out, text_addr
