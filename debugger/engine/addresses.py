"""Locations for breakpoints, `x`/`xp`, `until` and watchpoints: seg:off, linear, physical.

Forms accepted by `parse_location` (all give a *linear* address):

  SEG:OFF        0000:7c00  07c0:0  b800:0  cs:ip  ds:si+4  0x08:0x1000  word[0x4e]:word[0x4c]
                 SEG is a segment register (its cached base) or a selector expression (its base
                 in the current mode: selector*16 in real/vm86 mode, the descriptor base in
                 protected mode, 0 in 64-bit mode).  A side that is a bare run of hex digits is
                 hex, as in Bochs and DEBUG.COM (0000:7c00 is 0x0000:0x7c00; ds:100 is ds:0x100).
  *EXPR          gdb style: *0x7c00, *$pc, *(ebx + 8), *0000:7c00 (the '*' is optional)
  EXPR           any expression of `debugger.engine.expr`: 0x7c00, 7c00h, 31744, pc + 3,
                 dword[0x70].  Outside SEG:OFF a plain number is decimal: write hex as 0x7c00
                 or 7c00h (a bare `7c00` is an error that says so).

SEG:OFF is resolved once, when the location is given (gdb resolves `break *EXPR` at set time
too): a breakpoint at 07c0:0000 is the linear address 0x7c00, so it fires whenever the CPU
executes at linear 0x7c00 -- as 0000:7c00, 07c0:0000 or anything else that maps there.  The
`seg`/`off` of the Location record what was written, for display.

`parse_physical` (for `pb` and `xp`) takes EXPR or *EXPR as a physical address; SEG:OFF is
accepted while paging is off (linear = physical, with bit 20 cleared when A20 is masked).
"""
from __future__ import annotations

from dataclasses import dataclass

from debugger.cpustate import CR0_PG, CpuState, Mode
from debugger.engine.expr import EvalContext, ExprError, parse_address

__all__ = ["Location", "parse_location", "parse_physical", "format_location"]


@dataclass(frozen=True, slots=True)
class Location:
    """A resolved location: `value` is a linear (kind "linear") or physical address."""

    kind: str
    value: int
    text: str
    seg: int | None = None
    off: int | None = None

    @property
    def is_segoff(self) -> bool:
        return self.seg is not None


def _resolve(text: str, ctx: EvalContext) -> tuple[str, int, int | None, int | None]:
    raw = text.strip()
    body = raw[1:].lstrip() if raw.startswith("*") else raw
    if not body:
        raise ExprError("an address is needed (seg:off, *linear or an expression)")
    shift = len(text) - len(text.lstrip()) + (len(raw) - len(body))
    try:
        a = parse_address(body, getattr(ctx, "lookup_symbol", None))
        value, seg, off = a.resolve(ctx)
    except ExprError as exc:
        raise ExprError(exc.message, None if exc.column is None else exc.column + shift) \
            from None
    return raw, value, seg, off


def parse_location(text: str, ctx: EvalContext) -> Location:
    """A breakpoint/x/until location as a linear address, resolved now."""
    raw, value, seg, off = _resolve(text, ctx)
    return Location("linear", value, raw, seg, off)


def parse_physical(text: str, ctx: EvalContext) -> Location:
    """A `pb`/`xp` location as a physical address."""
    raw, value, seg, off = _resolve(text, ctx)
    if seg is not None:
        st = ctx.state()
        if st.cr0 & CR0_PG:
            raise ExprError(f"{raw!r} is a virtual address and paging is on: give a physical "
                            "address, or use the linear form")
        if not st.a20:
            value &= ~(1 << 20)
    return Location("physical", value, raw, seg, off)


def format_location(state: CpuState, linear: int) -> str:
    """`linear` shown in the current mode: 'CS:IP (linear 0x...)' when CS reaches it."""
    cs, mode = state.cs, state.mode
    tail = f"(linear {linear:#x})"
    if mode is Mode.LONG:
        return f"{cs.selector:04x}:{linear:016x} {tail}"
    off = (linear - cs.base) & 0xFFFFFFFF
    if mode in (Mode.REAL, Mode.UNREAL, Mode.VM86):
        if off <= min(cs.limit, 0xFFFF if mode is not Mode.UNREAL else 0xFFFFFFFF):
            width = 4 if off <= 0xFFFF else 8
            return f"{cs.selector:04x}:{off:0{width}x} {tail}"
        if linear <= 0xFFFFF:
            return f"{linear >> 4:04x}:{linear & 0xF:04x} {tail}"
        if linear <= 0x10FFEF:                      # the HMA, reachable as FFFF:xxxx
            return f"ffff:{linear - 0xFFFF0:04x} {tail}"
        return f"linear {linear:#x}"
    if off <= cs.limit:
        width = 4 if state.bits == 16 and off <= 0xFFFF else 8
        return f"{cs.selector:04x}:{off:0{width}x} {tail}"
    return f"linear {linear:#x}"
