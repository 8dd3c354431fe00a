"""Backtraces: the frame-pointer chain of 16-, 32- and 64-bit code, with interrupt and exception
frames taken from the machine's own deliveries.

`DeliveryLog` listens to every interrupt, exception and IRQ the machine delivers and keeps where
the CPU put the frame (linear address, slot width, the stack's selector) and what it pushed for
(the interrupted CS:IP).  A backtrace uses a record only while it is still true: the frame lies
at or above the stack pointer and memory there still holds the pushed CS:IP -- so after an IRET,
a reverse step or a state edit, a stale record is simply not used.

`backtrace(session)` walks from the current CS:IP up:
  - an interrupt frame above the stack pointer (and below the next frame-pointer frame) is
    unwound exactly: the interrupted CS:IP, and its stack (SS:SP pushed on a privilege change,
    from vm86 to ring 0 or always in 64-bit mode; else the slot after the frame);
  - otherwise BP/EBP/RBP is followed: [bp] the caller's bp, [bp + w] the return address (near
    calls; CS unchanged), used only when the bytes before it are a call instruction.  These
    frames are a guess -- code built without frame pointers breaks the chain -- and are marked
    so;
  - at a function's first instruction (a symbol's start, or `push bp`) the return address is
    taken from [sp], after `push bp` from [sp + w] (marked as guesses too).
The walk stops at a zero or non-increasing frame pointer, unreadable memory or 64 frames.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from debugger.cpustate import CpuState, Segment

if TYPE_CHECKING:
    from debugger.engine.sessionview import SessionView
    from debugger.machine.pc import Machine

__all__ = ["Delivery", "DeliveryLog", "Frame", "backtrace", "attach"]

MAX_FRAMES = 64
VECTOR_NAMES = {0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM",
                8: "#DF", 10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF",
                17: "#AC", 18: "#MC", 19: "#XM"}


@dataclass(frozen=True)
class Delivery:
    icount: int
    vector: int
    kind: str                  # exception, int, irq
    error_code: int | None
    cs: int                    # the interrupted (or returned-to) CS:IP, as pushed
    ip: int
    frame: int                 # linear address of the lowest slot (error code, else IP)
    width: int                 # 2, 4 or 8
    long: bool                 # a 64-bit frame (SS:RSP always pushed)
    real: bool                 # a real-mode frame (FLAGS, CS, IP only)

    @property
    def ip_slot(self) -> int:
        return self.frame + (self.width if self.error_code is not None and not self.real else 0)

    def label(self) -> str:
        name = VECTOR_NAMES.get(self.vector, "") if self.kind == "exception" else ""
        what = {"exception": "exception", "int": "INT", "irq": "interrupt"}.get(self.kind,
                                                                             self.kind)
        text = f"{what} {self.vector:#04x}" + (f" {name}" if name else "")
        if self.error_code is not None:
            text += f", error code {self.error_code:#x}"
        return text


class DeliveryLog:
    """The machine's deliveries (bounded), recorded from `Machine.interrupt_listeners`."""

    def __init__(self, machine: "Machine", capacity: int = 4096) -> None:
        self.machine = machine
        self._records: deque[Delivery] = deque(maxlen=capacity)
        self._lazy: list[tuple[int, Callable[[int], list[Delivery]]]] = []
        machine.interrupt_listeners.append(self._on_interrupt)

    @property
    def records(self) -> deque[Delivery]:
        if self._lazy:
            lazy, self._lazy = self._lazy, []
            want = self._records.maxlen or 0
            parts = []
            for count, make in reversed(lazy):    # (only the newest fit in the log)
                if want <= 0:
                    break
                k = min(count, want)
                parts.append(make(k))
                want -= k
            for recs in reversed(parts):
                for rec in recs:
                    self._add(rec)
        return self._records

    def detach(self) -> None:
        try:
            self.machine.interrupt_listeners.remove(self._on_interrupt)
        except ValueError:
            pass

    def _on_interrupt(self, vector: int, kind: str, error_code: int | None, cs: int,
                      ip: int) -> None:
        m = self.machine
        cpu = m.cpu
        try:
            ss = cpu.seg("ss")
            sp = cpu.gpr(4)
            cr0, efer = cpu.cr(0), cpu.efer
            real = not cr0 & 1
            long = bool(efer & 0x400) and bool(cr0 & 0x80000000)
            if real:
                width = 2
            elif long:
                width = 8
            else:
                idtr = cpu.dtr("idtr")
                gate = m.mem.read_linear_u(idtr.base + vector * 8, 8)
                typ = (gate >> 40) & 0xF
                if typ == 5:               # task gate: the frame is in another task
                    return
                width = 2 if typ in (6, 7) else 4
            if real or (not long and width == 2):
                sp &= 0xFFFF if not ss.db else 0xFFFFFFFF
            frame = (ss.base + sp) & (0xFFFFFFFFFFFFFFFF if long else 0xFFFFFFFF)
            rec = Delivery(m.icount, vector, kind, error_code if not real else None, cs, ip,
                           frame, width, long, real)
        except Exception:
            return
        self._add(rec)

    def on_native_delivery(self, count: int, make: Callable[[int], list[tuple[Any, ...]]]) -> None:
        """`count` deliveries the machine made inside a run (machine/intdeliver.py), read back
        after it; `make(k)`: the last k as (icount, vector, kind, error code, cs, ip, frame,
        width, real).  Made into the records `_on_interrupt` would have made, when read."""
        def records(k: int) -> list[Delivery]:
            return [Delivery(ic, vec, kind, ec, cs, ip, frame, width, False, real)
                    for ic, vec, kind, ec, cs, ip, frame, width, real in make(k)]
        self._lazy.append((count, records))

    def _add(self, rec: Delivery) -> None:
        vector, frame = rec.vector, rec.frame
        records = self.records
        if records and records[-1].icount == rec.icount and \
                records[-1].vector == vector and records[-1].frame == frame:
            return
        # going back in time and running again: drop what the new past replaces
        while records and records[-1].icount > rec.icount:
            records.pop()
        records.append(rec)


def attach(session: "SessionView") -> DeliveryLog:
    log = getattr(session, "deliveries", None)
    if log is None:
        log = DeliveryLog(session.machine)
        session.deliveries = log  # type: ignore[attr-defined]
    return log


@dataclass(frozen=True)
class Frame:
    level: int
    cs: int
    ip: int
    linear: int
    sp: int                    # linear stack pointer of the frame
    how: str                   # current, interrupt, frame-pointer, entry (how it was found)
    guessed: bool
    bits: int = 32
    delivery: Delivery | None = None   # the delivery that interrupted this frame


def _segment(session: "SessionView", st: CpuState, selector: int, real: bool) -> Segment | None:
    if real:
        return Segment(selector=selector, base=(selector & 0xFFFF) << 4, limit=0xFFFF,
                       ar=0x93)
    try:
        from debugger.machine.delivery import Delivery as _D, Frame as _F

        d = _D(session.machine.cpu, session.machine.mem)
        raw = d._descriptor(selector, _F(0, False, None))
        return Segment.from_descriptor(selector, raw)
    except Exception:
        return None


def _read(session: "SessionView", linear: int, width: int) -> int | None:
    try:
        return int.from_bytes(session.read_memory(linear, width), "little")
    except Exception:
        return None


class _Ctx:
    """Where a frame runs: code width, stack base and masks, CS base."""

    def __init__(self, bits: int, cs: int, cs_base: int, ss_base: int, sp: int, bp: int,
                 vm: bool, real: bool) -> None:
        self.bits, self.cs, self.cs_base, self.ss_base = bits, cs, cs_base, ss_base
        self.sp, self.bp, self.vm, self.real = sp, bp, vm, real

    @property
    def w(self) -> int:
        return self.bits // 8

    def lin(self, off: int) -> int:
        mask = 0xFFFF if self.bits == 16 else (1 << self.bits) - 1
        return (self.ss_base + (off & mask)) & 0xFFFFFFFFFFFFFFFF


def _handled_here(d: Delivery, ctx: _Ctx) -> bool:
    """Could code in `ctx` be the handler of delivery `d` (or called by it)?"""
    if d.real:
        return ctx.real
    if ctx.real or ctx.vm:
        return False
    return (ctx.bits == 64) == d.long


def _live(session: "SessionView", d: Delivery) -> bool:
    """Does memory still hold the CS:IP this delivery pushed?"""
    w = d.width
    ip = _read(session, d.ip_slot, w)
    cs = _read(session, d.ip_slot + w, w)
    if ip is None or cs is None:
        return False
    return ip == (d.ip & ((1 << (8 * w)) - 1)) and (cs & 0xFFFF) == d.cs


def backtrace(session: "SessionView", limit: int = MAX_FRAMES) -> list[Frame]:
    st = session.state()
    log = getattr(session, "deliveries", None)
    records = [d for d in (log.records if log else ()) if d.icount <= session.icount]
    real = not st.pe
    ctx = _Ctx(st.bits, st.cs.selector, st.cs.base, st.ss.base,
               st.rsp if st.bits == 64 else (st.rsp & (0xFFFFFFFF if st.ss.db else 0xFFFF)),
               st.rbp if st.bits == 64 else st.rbp & (0xFFFF if st.bits == 16 else 0xFFFFFFFF),
               st.vm, real)
    frames = [Frame(0, st.cs.selector, st.rip, st.pc,
                    ctx.lin(ctx.sp), "current", False, st.bits)]
    before = session.icount + 1           # deliveries nest: each one older than the last
    first = True
    while len(frames) < limit:
        sp_lin = ctx.lin(ctx.sp)
        cands = [d for d in records if d.frame >= sp_lin and d.icount < before
                 and d.frame - sp_lin < 0x100000 and _handled_here(d, ctx)
                 and _live(session, d)]
        intr = min(cands, key=lambda d: (d.frame, -d.icount)) if cands else None
        bp_lin = ctx.lin(ctx.bp) if ctx.bp else None
        entry = _entry_frame(session, ctx, frames[-1].linear) if first else None
        first = False
        if entry is not None and (intr is None or entry[0] < intr.frame):
            ret_slot, new_bp = entry
            ret = _read(session, ret_slot, ctx.w)
            if ret is not None and _after_call(session, ctx, ret):
                ctx.sp = (ret_slot - ctx.ss_base + ctx.w)
                if new_bp is not None:
                    ctx.bp = new_bp
                frames.append(_frame(len(frames), ctx, ret, "entry", True))
                continue
        bp_ok = bp_lin is not None and bp_lin >= sp_lin and _after_call(
            session, ctx, _read(session, bp_lin + ctx.w, ctx.w))
        if intr is not None and (not bp_ok or intr.frame <= bp_lin + ctx.w):
            before = intr.icount
            if bp_lin is not None and bp_lin + ctx.w == intr.frame:
                saved = _read(session, bp_lin, ctx.w)
                if saved is not None:
                    ctx.bp = saved               # the handler's push bp: the interrupted bp
            nxt = _after_interrupt(session, st, ctx, intr)
            if nxt is None:
                break
            ctx = nxt
            frames.append(Frame(len(frames), ctx.cs, intr.ip, (ctx.cs_base + intr.ip)
                                & 0xFFFFFFFFFFFFFFFF, ctx.lin(ctx.sp), "interrupt", False,
                                ctx.bits, intr))
            continue
        if not bp_ok or bp_lin is None:
            break
        saved = _read(session, bp_lin, ctx.w)
        ret = _read(session, bp_lin + ctx.w, ctx.w)
        if saved is None or ret is None:
            break
        ctx.sp = ctx.bp + 2 * ctx.w
        old_bp, ctx.bp = ctx.bp, saved
        frames.append(_frame(len(frames), ctx, ret, "frame-pointer", True))
        if saved != 0 and ctx.lin(saved) <= ctx.lin(old_bp):
            break
        if saved == 0 and not records:
            break
    return frames


def _frame(level: int, ctx: _Ctx, ip: int, how: str, guessed: bool) -> Frame:
    lin = (ctx.cs_base + ip) & (0xFFFFFFFFFFFFFFFF if ctx.bits == 64 else 0xFFFFFFFF)
    return Frame(level, ctx.cs, ip, lin, ctx.lin(ctx.sp), how, guessed, ctx.bits)


def _after_call(session: "SessionView", ctx: _Ctx, ret: int | None) -> bool:
    """Is `ret` (an offset in the frame's CS) just after a call instruction?"""
    from debugger.disasm import disassemble

    if ret is None or ret < 2:
        return False
    lin = (ctx.cs_base + ret) & 0xFFFFFFFFFFFFFFFF
    try:
        code = session.read_memory(lin - 7, 7)
    except Exception:
        return False
    for k in range(2, 8):
        ins = disassemble(code[7 - k:], lin - k, ctx.bits, 1)
        if ins and ins[0].size == k and ins[0].text.startswith("call"):
            return True
    return False


def _entry_frame(session: "SessionView", ctx: _Ctx, pc: int) -> tuple[int, int | None] | None:
    """At a function's entry (a symbol's start, or push bp): (return slot, caller's bp)."""
    from debugger.disasm import disassemble

    try:
        code = session.read_memory(pc, 4)
    except Exception:
        return None
    ins = disassemble(code, pc, ctx.bits, 1)
    text = ins[0].text if ins else ""
    reg = {16: "bp", 32: "ebp", 64: "rbp"}[ctx.bits]
    sp_reg = {16: "sp", 32: "esp", 64: "rsp"}[ctx.bits]
    sym = session.symbols.nearest(pc)
    at_symbol = sym is not None and sym[1] == 0 and sym[0].kind != "object"
    if text == f"push {reg}" or (at_symbol and text != f"mov {reg}, {sp_reg}"):
        return ctx.lin(ctx.sp), None
    if text == f"mov {reg}, {sp_reg}":
        return ctx.lin(ctx.sp) + ctx.w, _read(session, ctx.lin(ctx.sp), ctx.w)
    return None


def _after_interrupt(session: "SessionView", st: CpuState, ctx: _Ctx, d: Delivery) -> _Ctx | None:
    """The interrupted code's context, from the frame `d` describes."""
    w = d.width
    slot = d.ip_slot
    flags = _read(session, slot + 2 * w, w)
    if flags is None:
        return None
    end = slot + 3 * w
    if d.real:
        seg = (d.cs & 0xFFFF) << 4
        return _Ctx(16, d.cs, seg, ctx.ss_base, (end - ctx.ss_base) & 0xFFFF, ctx.bp, False,
                    True)
    vm = bool(flags & 0x20000) and not d.long
    switched = d.long or vm or (d.cs & 3) != (ctx.cs & 3)     # a privilege change
    if switched:
        sp = _read(session, end, w)
        ss = _read(session, end + w, w)
        if sp is None or ss is None:
            return None
        ss &= 0xFFFF
        if vm:
            return _Ctx(16, d.cs, (d.cs & 0xFFFF) << 4, ss << 4, sp & 0xFFFF, ctx.bp, True,
                        False)
        sseg = _segment(session, st, ss, False)
        ss_base = sseg.base if sseg is not None and not d.long else 0
    else:
        ss_base, sp = ctx.ss_base, end - ctx.ss_base
    cseg = _segment(session, st, d.cs, False)
    if d.long and cseg is not None and cseg.l:
        bits, cs_base = 64, 0
    else:
        bits = 32 if cseg is not None and cseg.db else 16
        cs_base = cseg.base if cseg is not None else 0
    return _Ctx(bits, d.cs, cs_base, ss_base, sp, ctx.bp, False, False)


def format_frames(session: "SessionView", frames: list[Frame]) -> list[str]:
    out = []
    for f in frames:
        name = session.symbols.describe(f.linear) if session.symbols else None
        where = f" in {name}" if name else ""
        digits = 16 if f.bits == 64 else (4 if f.bits == 16 and f.ip <= 0xFFFF else 8)
        mark = ""
        if f.guessed:
            mark = {"frame-pointer": "   [guess: frame pointer]",
                    "entry": "   [guess: function entry]"}.get(f.how, "   [guess]")
        if f.delivery is not None:
            out.append(f"    <{f.delivery.label()} delivered at icount {f.delivery.icount}; "
                       f"frame at linear {f.delivery.frame:#x}>")
        out.append(f"#{f.level:<2} {f.cs:04x}:{f.ip:0{digits}x} (linear {f.linear:#x}){where}"
                   f"{mark}")
    return out

