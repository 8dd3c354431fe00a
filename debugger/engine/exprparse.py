"""Lexer, name table and parser of the expression language (see `debugger.engine.expr`).

The parser emits Python source over a fixed set of helpers (`debugger.engine.expr`) which
`expr` compiles once; user text only ever becomes integer literals, names from the table below
and validated identifiers, never code.
"""
from __future__ import annotations

import difflib
import re
from typing import Callable

__all__ = ["ExprError", "MAX_DEPTH", "register_names"]

MAX_DEPTH = 64          # nesting limit (operators and parentheses): keeps compilation bounded


class ExprError(ValueError):
    """A bad expression or a failed evaluation; str() is one line ('... at column N')."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return self.message if self.column is None else f"{self.message} at column {self.column}"


# -- names ---------------------------------------------------------------------------------------
_FLAGS = {"cf": 0, "pf": 2, "af": 4, "zf": 6, "sf": 7, "tf": 8, "if": 9, "df": 10, "of": 11,
          "nt": 14, "rf": 16, "vm": 17, "ac": 18, "vif": 19, "vip": 20, "id": 21}
_CR_BITS = {
    "cr0": {"pe": 0, "mp": 1, "em": 2, "ts": 3, "et": 4, "ne": 5, "wp": 16, "am": 18, "nw": 29,
            "cd": 30, "pg": 31},
    "cr4": {"vme": 0, "pvi": 1, "tsd": 2, "de": 3, "pse": 4, "pae": 5, "mce": 6, "pge": 7,
            "pce": 8, "osfxsr": 9, "osxmmexcpt": 10, "umip": 11, "la57": 12, "vmxe": 13,
            "smxe": 14, "fsgsbase": 16, "pcide": 17, "osxsave": 18, "smep": 20, "smap": 21,
            "pke": 22, "cet": 23},
    "efer": {"sce": 0, "lme": 8, "lma": 10, "nxe": 11, "svme": 12},
}
_SEGS = ("es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr")
_SEG_FIELDS = {
    "sel": "{s}.selector", "selector": "{s}.selector", "base": "{s}.base",
    "limit": "{s}.limit", "ar": "{s}.ar", "type": "({s}.ar & 15)", "s": "(({s}.ar >> 4) & 1)",
    "dpl": "(({s}.ar >> 5) & 3)", "p": "(({s}.ar >> 7) & 1)", "present": "(({s}.ar >> 7) & 1)",
    "avl": "(({s}.ar >> 12) & 1)", "l": "(({s}.ar >> 13) & 1)", "db": "(({s}.ar >> 14) & 1)",
    "d": "(({s}.ar >> 14) & 1)", "g": "(({s}.ar >> 15) & 1)",
    "unusable": "(({s}.ar >> 16) & 1)", "rpl": "({s}.selector & 3)",
    "ti": "(({s}.selector >> 2) & 1)", "index": "({s}.selector >> 3)",
}
_PLAIN = ("rip", "rflags", "cr0", "cr2", "cr3", "cr4", "dr0", "dr1", "dr2", "dr3", "dr6", "dr7",
          "efer", "pat", "debugctl", "sysenter_cs", "sysenter_esp", "sysenter_eip", "star",
          "lstar", "cstar", "fmask", "kernel_gs_base")


def _build_names() -> dict[str, str]:
    """name -> Python source reading it from `st` (a CpuState)."""
    n: dict[str, str] = {}
    for r in _PLAIN:
        n[r] = f"st.{r}"
    for x in "abcd":
        full = f"st.r{x}x"
        n[f"r{x}x"], n[f"e{x}x"] = full, f"({full} & 0xffffffff)"
        n[f"{x}x"], n[f"{x}l"], n[f"{x}h"] = (f"({full} & 0xffff)", f"({full} & 0xff)",
                                              f"(({full} >> 8) & 0xff)")
    for x in ("si", "di", "bp", "sp"):
        full = f"st.r{x}"
        n[f"r{x}"], n[f"e{x}"] = full, f"({full} & 0xffffffff)"
        n[x], n[f"{x}l"] = f"({full} & 0xffff)", f"({full} & 0xff)"
    for i in range(8, 16):
        full = f"st.r{i}"
        n[f"r{i}"], n[f"r{i}d"] = full, f"({full} & 0xffffffff)"
        n[f"r{i}w"], n[f"r{i}b"] = f"({full} & 0xffff)", f"({full} & 0xff)"
    n["eip"], n["ip"] = "(st.rip & 0xffffffff)", "(st.rip & 0xffff)"
    n["eflags"], n["flags"] = "(st.rflags & 0xffffffff)", "(st.rflags & 0xffff)"
    for f, bit in list(_FLAGS.items()) + [("iopl", -1)]:
        code = "((st.rflags >> 12) & 3)" if bit < 0 else f"((st.rflags >> {bit}) & 1)"
        n[f] = code
        for reg in ("rflags", "eflags", "flags"):
            n[f"{reg}.{f}"] = code
    for cr, bits in _CR_BITS.items():
        for f, bit in bits.items():
            n[f"{cr}.{f}"] = f"((st.{cr} >> {bit}) & 1)"
    for s in _SEGS:
        n[s] = f"st.{s}.selector"
        for f, code in _SEG_FIELDS.items():
            n[f"{s}.{f}"] = code.format(s=f"st.{s}")
    for t in ("gdtr", "idtr"):
        n[f"{t}.base"], n[f"{t}.limit"] = f"st.{t}.base", f"st.{t}.limit"
    n.update(cpl="st.cpl", pc="st.pc", lsp="st.sp_linear", bits="st.bits",
             a20="(1 if st.a20 else 0)")
    return n


_NAMES = _build_names()
_STRUCTS = {"gdtr", "idtr"}          # names that exist only with a field
_SIZES = {"byte": 1, "word": 2, "dword": 4, "qword": 8, "b": 1, "w": 2, "d": 4, "q": 8}
_HEX_SIDE = re.compile(r"[0-9a-f]+\Z", re.I)


def register_names() -> list[str]:
    """Every name the language knows (for completion and help)."""
    return sorted(_NAMES)


# -- lexer -----------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>[0-9][0-9A-Za-z_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<chr>'(?:[^'\\]|\\.)*'?)
  | (?P<op><<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>()\[\]:.=])
""", re.X | re.S)
_CHAR_DONE = re.compile(r"'(?:[^'\\]|\\.)*'", re.S)
_ESC = {"n": 10, "r": 13, "t": 9, "0": 0, "\\": 92, "'": 39, '"': 34, "a": 7, "b": 8, "e": 27}


class _Tok:
    __slots__ = ("kind", "raw", "col", "value")

    def __init__(self, kind: str, raw: str, col: int, value: int | None = None) -> None:
        self.kind, self.raw, self.col, self.value = kind, raw, col, value

    def __str__(self) -> str:
        return "end of expression" if self.kind == "end" else repr(self.raw)

    def is_op(self, *ops: str | None) -> bool:
        return self.kind == "op" and self.raw in ops

    def is_word(self, *words: str) -> bool:
        return self.kind == "name" and self.raw.lower() in words


def _number(raw: str) -> int | None:
    t = raw.lower()
    try:
        if re.fullmatch(r"[0-9][0-9a-f_]*h", t):
            return int(t[:-1], 16)
        for prefix, base in (("0x", 16), ("0b", 2), ("0o", 8)):
            if t.startswith(prefix):
                return int(t[2:], base) if t[2:3] not in ("", "_") else None
        return int(t, 10)
    except ValueError:
        return None


def _char(raw: str, col: int) -> int:
    if not _CHAR_DONE.fullmatch(raw):
        raise ExprError("unterminated character literal", col)
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            e = body[i + 1]
            if e == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", body[i + 2:i + 4]):
                out.append(int(body[i + 2:i + 4], 16))
                i += 4
                continue
            if e not in _ESC:
                bad = "\\" + e
                raise ExprError(f"unknown escape {bad!r} in a character literal", col)
            out.append(_ESC[e])
            i += 2
            continue
        if ord(c) > 255:
            raise ExprError(f"character {c!r} is not a byte", col)
        out.append(ord(c))
        i += 1
    if not 1 <= len(out) <= 8:
        raise ExprError("a character literal holds 1 to 8 characters", col)
    return int.from_bytes(out, "little")


def _lex(text: str) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ExprError(f"unexpected character {text[pos]!r}", pos + 1)
        kind, raw = m.lastgroup or "", m.group()
        if kind == "num":
            toks.append(_Tok(kind, raw, pos + 1, _number(raw)))
        elif kind == "chr":
            toks.append(_Tok("num", raw, pos + 1, _char(raw, pos + 1)))
        elif kind != "ws":
            toks.append(_Tok(kind, raw, pos + 1))
        pos = m.end()
    toks.append(_Tok("end", "", len(text) + 1))
    return toks


# -- parser ----------------------------------------------------------------------------------------
_PREC = {"|": 4, "^": 5, "&": 6, "==": 7, "!=": 7, "<": 8, "<=": 8, ">": 8, ">=": 8,
         "<<": 9, ">>": 9, "+": 10, "-": 10, "*": 11, "/": 11, "%": 11}
_CALLS = {"/": "_div", "%": "_mod", "<<": "_shl", ">>": "_shr"}
_PHYS = {"p" + k: v for k, v in _SIZES.items() if len(k) > 1}
_SEG_REGS = frozenset(_SEGS)
_Code = tuple[str, int]          # (python source, tree height)


class Parser:
    def __init__(self, text: str, symbols: Callable[[str], int | None] | None = None) -> None:
        if not text.strip():
            raise ExprError("empty expression")
        self.symbols = symbols          # name -> address (loaded symbols), or None
        self.toks = _lex(text)
        self.i = self.depth = 0
        self.names: set[str] = set()
        self.vars: set[str] = set()
        self.memory = self.uses_state = False

    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def take(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        tok = self.take()
        if not tok.is_op(op):
            raise ExprError(f"expected '{op}', found {tok}", tok.col)

    def expect_end(self) -> None:
        tok = self.peek()
        if tok.kind != "end":
            hint = " (use == to compare)" if tok.is_op("=") else \
                " (seg:off goes inside byte[...], word[...], ... or in an address)" \
                if tok.is_op(":") else ""
            raise ExprError(f"unexpected {tok}{hint}", tok.col)

    def node(self, code: str, height: int, col: int) -> _Code:
        if height > MAX_DEPTH:
            raise ExprError(f"expression nested too deeply (limit {MAX_DEPTH})", col)
        return code, height

    def enter(self, col: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression nested too deeply (limit {MAX_DEPTH})", col)

    # -- precedence levels: or < and < not < binary (| ^ & == < << + *) < unary < primary --
    def expression(self) -> _Code:
        return self.logic(("||", "or"), self.logic_and)

    def logic_and(self) -> _Code:
        return self.logic(("&&", "and"), self.logic_not)

    def logic(self, ops: tuple[str, str], sub: Callable[[], _Code]) -> _Code:
        left = sub()
        while self.peek().is_op(ops[0]) or self.peek().is_word(ops[1]):
            col = self.take().col
            right = sub()
            left = self.node(f"(1 if {left[0]} {ops[1]} {right[0]} else 0)",
                             max(left[1], right[1]) + 1, col)
        return left

    def logic_not(self) -> _Code:
        if self.peek().is_word("not"):
            col = self.take().col
            self.enter(col)
            x = self.logic_not()
            self.depth -= 1
            return self.node(f"(0 if {x[0]} else 1)", x[1] + 1, col)
        return self.binary(4)

    def binary(self, min_prec: int) -> _Code:
        left = self.unary()
        while True:
            tok = self.peek()
            prec = _PREC.get(tok.raw) if tok.kind == "op" else None
            if prec is None or prec < min_prec:
                return left
            self.i += 1
            right = self.binary(prec + 1)
            a, b, op = left[0], right[0], tok.raw
            if op in _CALLS:
                code = f"{_CALLS[op]}({a}, {b}, {tok.col})"
            elif prec in (7, 8):
                code = f"(1 if {a} {op} {b} else 0)"
            else:
                code = f"({a} {op} {b})"
            left = self.node(code, max(left[1], right[1]) + 1, tok.col)

    def unary(self) -> _Code:
        tok = self.peek()
        if tok.is_op("-", "~", "!"):
            self.i += 1
            self.enter(tok.col)
            x = self.unary()
            self.depth -= 1
            code = f"(0 if {x[0]} else 1)" if tok.raw == "!" else f"({tok.raw}{x[0]})"
            return self.node(code, x[1] + 1, tok.col)
        return self.primary()

    def primary(self) -> _Code:
        tok = self.take()
        if tok.kind == "num":
            if tok.value is None:
                hint = (f" (hex needs 0x or an h suffix: 0x{tok.raw} or {tok.raw}h)"
                        if _HEX_SIDE.match(tok.raw) else "")
                raise ExprError(f"bad number {tok}{hint}", tok.col)
            return repr(tok.value), 0
        if tok.is_op("("):
            self.enter(tok.col)
            x = self.expression()
            self.expect(")")
            self.depth -= 1
            return x
        if tok.kind == "var":
            name = tok.raw[1:]
            if not name:
                raise ExprError("'$' needs a name ($eax, $pc, $myvar)", tok.col)
            if name.lower() in _NAMES or name.lower() in _STRUCTS:
                return self.register(name.lower(), tok)
            self.vars.add(name)
            return f"_var(ctx, {name!r}, {tok.col})", 0
        if tok.kind == "name" and self.peek().is_op("["):
            low = tok.raw.lower()
            if low in _SIZES or low in _PHYS:
                return self.memory_read(low, tok)
        if tok.kind == "name" and tok.raw.lower() not in ("and", "or", "not"):
            return self.register(tok.raw.lower(), tok)
        raise ExprError(f"unexpected {tok}", tok.col)

    def register(self, name: str, tok: _Tok) -> _Code:
        full, raw = name, tok.raw
        if self.peek().is_op("."):
            self.i += 1
            ftok = self.take()
            if ftok.kind != "name":
                raise ExprError(f"expected a field name after '{name}.', found {ftok}", ftok.col)
            full, raw = f"{name}.{ftok.raw.lower()}", f"{tok.raw}.{ftok.raw}"
        if full not in _NAMES:
            value = self.symbols(raw) if self.symbols is not None and tok.kind == "name" \
                else None
            if value is not None:           # a loaded symbol: its address, fixed now
                return repr(value), 0
            raise ExprError(_unknown(name, full, tok.raw), tok.col)
        self.names.add(full)
        self.uses_state = True
        return _NAMES[full], 0

    def memory_read(self, size_name: str, tok: _Tok) -> _Code:
        self.i += 1                                  # '['
        self.enter(tok.col)
        self.memory = True
        if size_name in _PHYS:
            addr = self.expression()
            if self.peek().is_op(":"):
                raise ExprError(f"{size_name}[...] takes a physical address, not seg:off",
                                self.peek().col)
            self.expect("]")
            self.depth -= 1
            code = f"_rp(ctx, {addr[0]}, {_PHYS[size_name]}, {tok.col})"
            return self.node(code, addr[1] + 1, tok.col)
        seg, segreg, off = self.address("]")
        self.expect("]")
        self.depth -= 1
        size, h = _SIZES[size_name], max(off[1], seg[1] if seg else 0) + 1
        if seg is None:
            lin = off[0]
        elif segreg:
            lin = f"_sreg(st, {segreg!r}, {off[0]})"
        else:
            lin = f"_snum(ctx, st, {seg[0]}, {off[0]}, {tok.col})"
        return self.node(f"_rd(ctx, {lin}, {size}, {tok.col})", h, tok.col)

    @staticmethod
    def _hex_side(tok: _Tok, follow: _Tok, end: str | None) -> bool:
        if tok.kind not in ("num", "name") or not _HEX_SIDE.match(tok.raw):
            return False
        if tok.raw.lower() in _NAMES:
            return False
        return follow.is_op(end) if end else follow.kind == "end"

    def address(self, end: str | None) -> tuple[_Code | None, str | None, _Code]:
        """[SEG:]OFF up to `end` (an operator, or None for the end of the text)."""
        first = self.peek()
        segreg = None
        seg: _Code | None
        if self._hex_side(first, self.peek(1), ":"):
            self.i += 1
            seg = (repr(int(first.raw, 16)), 0)
        else:
            start = self.i
            seg = self.expression()
            if not self.peek().is_op(":"):
                return None, None, seg
            if self.i - start == 1 and first.raw.lstrip("$").lower() in _SEG_REGS:
                segreg = first.raw.lstrip("$").lower()
        self.uses_state = True
        self.i += 1                                  # ':'
        tok = self.peek()
        if self._hex_side(tok, self.peek(1), end):
            self.i += 1
            return seg, segreg, (repr(int(tok.raw, 16)), 0)
        off = self.expression()
        if self.peek().is_op(":"):
            raise ExprError("unexpected ':' (one seg:off per address)", self.peek().col)
        return seg, segreg, off


def _unknown(name: str, full: str, raw: str) -> str:
    fields = sorted(k.split(".", 1)[1] for k in _NAMES if k.startswith(name + "."))
    if name in _STRUCTS and full == name:
        return f"{name} needs a field: {name}.base or {name}.limit"
    if full != name and (name in _NAMES or fields):
        if not fields:
            return f"{name} has no fields"
        fld = full.split(".", 1)[1]
        close = difflib.get_close_matches(fld, fields, 1)
        more = f"did you mean {name}.{close[0]}?" if close else "fields: " + " ".join(fields)
        return f"{name} has no field {fld!r} ({more})"
    if _HEX_SIDE.match(raw):
        return f"unknown name {raw!r} (hex needs 0x or an h suffix: 0x{raw} or 0{raw}h)"
    close = difflib.get_close_matches(full, list(_NAMES), 1)
    return f"unknown name {raw!r}" + (f" (did you mean {close[0]}?)" if close else "")
