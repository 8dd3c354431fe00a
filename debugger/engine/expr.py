"""The debugger's small expression language (conditions, `print`, `set`, `x`, watches).

Pure: no Unicorn, no UI.  `parse(text)` compiles once into a Python function, so `Expr.eval(ctx)`
on every breakpoint hit costs a few microseconds.  Values are unbounded Python ints; registers
read as unsigned; comparisons and logic give 0 or 1.

Syntax (names are case-insensitive):

  numbers     0x1F  1Fh (must start with a digit: 0FFh)  0b101  0o17  31 (decimal)
              'A' = 0x41, 'AB' = 0x4241 (NASM-style, little-endian, up to 8 chars; \\n \\x41 ...)
  registers   rax eax ax al ah ... rsi esi si sil ... r8 r8d r8w r8b ... r15b, rip eip ip,
              rflags eflags flags; flags cf pf af zf sf tf if df of iopl nt rf vm ac vif vip
              id, bare or as eflags.X / rflags.X / flags.X; cr0 cr2 cr3 cr4 dr0-dr3 dr6 dr7;
              MSRs efer pat debugctl sysenter_cs sysenter_esp sysenter_eip star lstar cstar
              fmask kernel_gs_base
  segments    es cs ss ds fs gs ldtr tr (bare = selector); fields .sel/.selector .base .limit
              .ar (VMX layout) .type .s .dpl .p .avl .l .db/.d .g .unusable .rpl .ti .index;
              gdtr.base gdtr.limit idtr.base idtr.limit
  CR bits     cr0.pe .mp .em .ts .et .ne .wp .am .nw .cd .pg;  cr4.vme .pvi .tsd .de .pse .pae
              .mce .pge .pce .osfxsr .osxmmexcpt .umip .la57 .vmxe .smxe .fsgsbase .pcide
              .osxsave .smep .smap .pke .cet;  efer.sce .lme .lma .nxe .svme
  pseudo      cpl; pc (linear address of the next instruction, CS.base+IP; 64-bit: RIP);
              lsp (linear stack pointer, SS.base+SP); bits (16/32/64 code size); a20 (0/1)
  $name       gdb style: $eax, $pc, $ds.base are the registers above; any other $name is a
              convenience variable (ctx.variable, case-sensitive), an error if not set
  memory      byte[A] word[A] dword[A] qword[A] (short: b[ w[ d[ q[) read linear memory;
              pbyte[P] pword[P] pdword[P] pqword[P] read physical memory (no seg:off).
              A is SEG:OFF or a linear-address expression.  SEG is a segment register (its
              cache base is used: es:di, ds:si+4, fs:0) or any expression giving a selector
              (0x40:0x6c, word[0x4e]:word[0x4c]) which ctx.segment_base() resolves for the
              current mode (selector*16 in real/vm86 mode, the descriptor base otherwise).
              A side of SEG:OFF that is a bare run of hex digits is hex, like Bochs and
              DEBUG.COM: 0000:7c00, b800:0, ds:100 (0x100); a longer side follows the
              normal rules (ds:si+10 adds decimal 10).  Exception: the flag names cf af df ac.
              The offset wraps at 64 KiB in real and vm86 mode unless the segment's cached
              limit is above 0xFFFF (unreal mode; a numeric selector counts as limit 0xFFFF);
              in protected mode it wraps at 4 GiB; in 64-bit mode the CS/DS/ES/SS bases and a
              numeric selector's base count as 0 (as the CPU ignores them) and FS/GS use their
              bases.  A SEG:OFF address is kept to 32 bits outside 64-bit mode (there is
              no 20-bit wrap: FFFF:0010 is linear 0x100000; A20 is the memory's business).
              A parenthesised register, (ds):si, is a number: its selector, not its cache.
              A plain linear address must lie in 0 .. 2**64-1.
  operators   C precedence: unary - ~ ! ; * / % ; + - ; << >> ; < <= > >= ; == != ; & ; ^ ;
              | ; && ; || ; parentheses.  `and` / `or` are && / ||; `not` binds looser than
              comparisons (`not eax == 1` is `!(eax == 1)`, as in Python), `!` binds tightly
              as in C.  `/` and `%` truncate toward zero (C); division by zero, a negative
              shift or a shift above 4096 is an error.  a < b < c is (a < b) < c, as in C.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from debugger.cpustate import CpuState, Segment
from debugger.engine.exprparse import MAX_DEPTH, ExprError, Parser, register_names
from debugger.errors import message_of

__all__ = ["ExprError", "Expr", "AddressExpr", "EvalContext", "StateContext", "parse",
           "parse_address", "register_names", "MAX_DEPTH"]

MAX_SHIFT = 4096
_M64 = (1 << 64) - 1


class EvalContext(Protocol):
    """What evaluation needs from the engine (or from a stored state: `StateContext`)."""

    def state(self) -> CpuState: ...

    def read_linear(self, addr: int, size: int) -> int: ...

    def read_physical(self, addr: int, size: int) -> int: ...

    def segment_base(self, selector: int) -> int:
        """The base SELECTOR:OFF uses in the current mode (raise ValueError if it has none)."""
        ...

    def variable(self, name: str) -> int:
        """A convenience variable $name (raise KeyError if unknown)."""
        ...


# -- evaluation helpers (called from the compiled code) -------------------------------------------
def _div(a: int, b: int, col: int) -> int:
    if b == 0:
        raise ExprError("division by zero", col)
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _mod(a: int, b: int, col: int) -> int:
    return a - b * _div(a, b, col)


def _shl(a: int, b: int, col: int) -> int:
    if not 0 <= b <= MAX_SHIFT:
        raise ExprError(f"shift count {b} out of range (0-{MAX_SHIFT})", col)
    return a << b


def _shr(a: int, b: int, col: int) -> int:
    if b < 0:
        raise ExprError(f"shift count {b} out of range (0-{MAX_SHIFT})", col)
    return a >> min(b, a.bit_length() + 1)


def _addr(a: int, col: int) -> int:
    if not 0 <= a <= _M64:
        raise ExprError(f"address {a:#x} out of range", col)
    return a


def _rd(ctx: Any, a: int, size: int, col: int) -> int:
    return ctx.read_linear(_addr(a, col), size)


def _rp(ctx: Any, a: int, size: int, col: int) -> int:
    return ctx.read_physical(_addr(a, col), size)


def _var(ctx: Any, name: str, col: int) -> int:
    try:
        return int(ctx.variable(name))
    except KeyError:
        raise ExprError(f"unknown variable ${name}", col) from None


def _sreg(st: CpuState, seg: str, off: int) -> int:
    """Linear address of SEGREG:OFF, as the CPU forms it in the state's mode."""
    s: Segment = getattr(st, seg)
    if not st.cr0 & 1 or st.rflags & 0x20000:
        if s.limit <= 0xFFFF:
            off &= 0xFFFF
        return (s.base + off) & 0xFFFFFFFF
    if st.efer & 0x400 and st.cr0 & 0x80000000 and st.cs.ar & 0x2000:
        return ((s.base if seg in ("fs", "gs") else 0) + off) & _M64
    return (s.base + off) & 0xFFFFFFFF


def _snum(ctx: Any, st: CpuState, sel: int, off: int, col: int) -> int:
    """Linear address of SELECTOR:OFF (the selector's base from ctx.segment_base)."""
    if not 0 <= sel <= 0xFFFF:
        raise ExprError(f"selector {sel:#x} out of range (0-0xffff)", col)
    real = not st.cr0 & 1 or st.rflags & 0x20000
    if not real and st.efer & 0x400 and st.cr0 & 0x80000000 and st.cs.ar & 0x2000:
        return off & _M64
    try:
        base = int(ctx.segment_base(sel))
    except ExprError as exc:
        raise ExprError(exc.message, col) from None
    except (ValueError, LookupError) as exc:
        raise ExprError(message_of(exc) or f"bad selector {sel:#x}", col) from None
    return (base + (off & (0xFFFF if real else 0xFFFFFFFF))) & 0xFFFFFFFF


_HELPERS: dict[str, Any] = {"_div": _div, "_mod": _mod, "_shl": _shl, "_shr": _shr, "_rd": _rd,
                            "_rp": _rp, "_var": _var, "_sreg": _sreg, "_snum": _snum,
                            "_addr": _addr, "__builtins__": {}}


def _compile(body: str, uses_state: bool, pre: tuple[str, ...] = ()) -> Callable[[Any], Any]:
    lines = (("st = ctx.state()",) if uses_state else ()) + pre + (f"return {body}",)
    src = "def _expr(ctx):\n" + "".join(f"    {line}\n" for line in lines)
    ns = dict(_HELPERS)
    exec(compile(src, "<expr>", "exec"), ns)  # noqa: S102 - source built from a fixed grammar
    return ns["_expr"]  # type: ignore[no-any-return]


# -- public objects --------------------------------------------------------------------------------
class Expr:
    """A compiled expression: `eval(ctx) -> int`, plus what it reads."""

    __slots__ = ("text", "_fn", "_names", "_vars", "reads_memory")

    def __init__(self, text: str, fn: Callable[[Any], int], names: frozenset[str],
                 variables: frozenset[str], reads_memory: bool) -> None:
        self.text, self._fn, self._names, self._vars = text, fn, names, variables
        self.reads_memory = reads_memory

    def eval(self, ctx: EvalContext) -> int:
        return self._fn(ctx)

    def registers(self) -> frozenset[str]:
        """Register/field names read, lower-case as written ('al', 'ds.base', 'cr0.pe', 'pc');
        a SEGREG:OFF memory operand adds the segment register's name."""
        return self._names

    def variables(self) -> frozenset[str]:
        """Convenience variables ($name, without the '$') read."""
        return self._vars

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"


class AddressExpr:
    """A parsed address: SEG:OFF or a linear expression.  `resolve(ctx)` gives
    (linear, selector or None, offset or None)."""

    __slots__ = ("text", "is_segoff", "seg_register", "_fn", "_names", "reads_memory")

    def __init__(self, text: str, is_segoff: bool, seg_register: str | None,
                 fn: Callable[[Any], tuple[int, int | None, int | None]],
                 names: frozenset[str], reads_memory: bool) -> None:
        self.text, self.is_segoff, self.seg_register = text, is_segoff, seg_register
        self._fn, self._names, self.reads_memory = fn, names, reads_memory

    def resolve(self, ctx: EvalContext) -> tuple[int, int | None, int | None]:
        return self._fn(ctx)

    def registers(self) -> frozenset[str]:
        return self._names

    def __repr__(self) -> str:
        return f"AddressExpr({self.text!r})"


def parse(text: str, symbols: Callable[[str], int | None] | None = None) -> Expr:
    """Compile an expression; raises ExprError (one line, with the column) if it is bad.
    `symbols` maps other names (loaded symbols) to addresses."""
    p = Parser(text, symbols)
    code, _ = p.expression()
    p.expect_end()
    fn = _compile(code, p.uses_state)
    return Expr(text.strip(), fn, frozenset(p.names), frozenset(p.vars), p.memory)


def parse_address(text: str, symbols: Callable[[str], int | None] | None = None
                  ) -> AddressExpr:
    """Compile an address: SEG:OFF (hex-side rule as in memory operands) or an expression."""
    p = Parser(text, symbols)
    seg, segreg, off = p.address(end=None)
    p.expect_end()
    if seg is None:
        fn = _compile(f"(_addr({off[0]}, 1), None, None)", p.uses_state)
    elif segreg:
        fn = _compile(f"(_sreg(st, {segreg!r}, _o), st.{segreg}.selector, _o)", True,
                      (f"_o = {off[0]}",))
    else:
        fn = _compile("(_snum(ctx, st, _s, _o, 1), _s, _o)", True,
                      (f"_s = {seg[0]}", f"_o = {off[0]}"))
    return AddressExpr(text.strip(), seg is not None, segreg, fn, frozenset(p.names),
                       p.memory)


class StateContext:
    """An EvalContext over a stored CpuState (tests, traces, dumps).

    `read_linear` / `read_physical` are `(addr, size) -> int` callables (None: reading that
    memory is an error).  `segment_base` gives selector*16 in real/vm86 mode and otherwise reads
    the descriptor from the GDT (or the LDT for TI=1) through `read_linear`.
    """

    def __init__(self, state: CpuState, read_linear: Callable[[int, int], int] | None = None,
                 read_physical: Callable[[int, int], int] | None = None,
                 variables: dict[str, int] | None = None) -> None:
        self._state = state
        self._lin = read_linear
        self._phys = read_physical
        self.variables = {} if variables is None else variables

    def state(self) -> CpuState:
        return self._state

    def read_linear(self, addr: int, size: int) -> int:
        if self._lin is None:
            raise ExprError("no linear memory to read here")
        return self._lin(addr, size)

    def read_physical(self, addr: int, size: int) -> int:
        if self._phys is None:
            raise ExprError("no physical memory to read here")
        return self._phys(addr, size)

    def variable(self, name: str) -> int:
        return self.variables[name]

    def segment_base(self, selector: int) -> int:
        st = self._state
        if not st.pe or st.vm:
            return (selector & 0xFFFF) << 4
        if selector & 0xFFFC == 0:
            raise ExprError(f"selector {selector:#06x} is null")
        table: Any = st.ldtr if selector & 4 else st.gdtr
        if selector & 4 and table.unusable:
            raise ExprError(f"selector {selector:#06x} is in the LDT but LDTR is unusable")
        offset = selector & 0xFFF8
        if offset + 7 > table.limit:
            raise ExprError(f"selector {selector:#06x} is outside the "
                            f"{'LDT' if selector & 4 else 'GDT'} (limit {table.limit:#x})")
        raw = self.read_linear((table.base + offset) & _M64, 8)
        return Segment.from_descriptor(selector, raw).base
