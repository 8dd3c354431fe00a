"""Running the guest under a Session: exact stepping, and fast runs that still stop exactly.

Two ways of running, which must find the same stops:

- `run_exact` executes one instruction at a time and checks every armed point after each one
  (the reference behaviour, also used for `step`).
- `run` (continue) runs at engine speed: breakpoints are Unicorn exits (free), interrupts,
  exceptions, BIOS calls and HLT are seen where the machine handles them, and the rest is
  *detected* late -- a state transition at the next translation-block boundary, a memory
  watchpoint inside Unicorn's memory hook (mid-instruction), an I/O watch at the end of the
  block -- and then *localised exactly* by going back to the checkpoint taken at the start of
  the chunk, re-executing up to the detection point, and stepping exactly from there.
"""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from debugger.cpustate import CpuState
from debugger.engine.stops import Change, StopEvent
from debugger.engine.watchers import Watchers
from debugger.machine.results import Stop

if TYPE_CHECKING:
    from debugger.engine.session import Session

__all__ = ["run", "run_exact", "run_to", "run_finish", "native_available", "make_stop",
           "machine_stop", "CHUNK"]

# This module as the watchers' `StopMaker` (they never import the runner).
_SELF = sys.modules[__name__]

CHUNK = 1 << 22          # instructions between checkpoints / time checks in a fast run
IDLE_MAX = 10_000        # chunks in a row that change nothing: the engine is stuck (a bug)


class EngineStuck(RuntimeError):
    """A run went round without executing, waiting or delivering anything (a bootdbg bug):
    one clear line instead of a hang."""

_MACHINE_KINDS = {Stop.HALTED: "halted", Stop.TRIPLE_FAULT: "triple-fault", Stop.RESET: "reset",
                  Stop.UNMAPPED: "unmapped", Stop.UNSUPPORTED: "unsupported",
                  Stop.INTERRUPT: "interrupt", Stop.BOOT_FAILED: "boot-failed"}


def native_available() -> bool:
    try:
        from debugger.engine import native
    except ImportError:
        return False
    return native.available()


def make_stop(s: "Session", kind: str, message: str = "", *, insn_pc: int | None = None,
              insn_bytes: bytes = b"", changes: list[Change] | None = None,
              details: dict[str, Any] | None = None, point: int | None = None,
              state: CpuState | None = None, bits: int | None = None) -> StopEvent:
    st = state or s.state()
    if insn_pc is not None and not insn_bytes:
        try:
            insn_bytes = s.machine.mem.read_linear(insn_pc, 16)
        except Exception:
            insn_bytes = b""
    return StopEvent(kind=kind, icount=s.machine.icount, cs=st.cs.selector,
                     eip=st.rip, linear=st.pc, message=message, instruction_bytes=insn_bytes,
                     instruction_address=insn_pc, bits=bits or st.bits,
                     changes=changes or [], details=details or {}, point=point)


def machine_stop(s: "Session", r: Any, insn_pc: int | None) -> StopEvent:
    kind = _MACHINE_KINDS.get(r.reason, r.reason)
    if insn_pc is None and kind != "interrupt":
        # The instruction that ended the run: the HLT just executed, or the one at CS:IP.
        pc = s.machine._pc()
        insn_pc = pc
        if kind == "halted":
            try:
                if s.machine.mem.read_linear(pc - 1, 1) == b"\xf4":
                    insn_pc = pc - 1
            except Exception:
                pass
    return make_stop(s, kind, r.message, insn_pc=insn_pc, details=dict(r.details))


def run_exact(s: "Session", n: int | None, *, step_kind: str = "step",
              target: int | None = None, deadline: float | None = None) -> StopEvent:
    """Execute instruction by instruction, checking every armed point after each one."""
    m = s.machine
    w = Watchers(s, exact=True, stops=_SELF)
    start = m.icount
    try:
        while n is None or m.icount - start < n:
            if deadline is not None and time.monotonic() > deadline:
                return make_stop(s, "timeout", "wall-time budget used up")
            if s.interrupt_requested:
                return make_stop(s, "interrupt", "interrupted")
            ev = w.step_once()
            if ev is not None:
                return ev
            if target is not None and m._pc() == target:
                return make_stop(s, step_kind)
        return make_stop(s, step_kind,
                         f"instruction budget of {n} used up" if step_kind == "budget" else "")
    finally:
        w.disarm()


def run(s: "Session", max_insns: int | None = None, timeout: float | None = None,
        budget_kind: str = "budget") -> StopEvent:
    """Continue at engine speed; every stop is exact."""
    m = s.machine
    deadline = None if timeout is None else time.monotonic() + timeout
    m.wall_deadline = deadline          # (checked by the machine while the CPU is halted)
    try:
        return _run(s, m, max_insns, timeout, budget_kind, deadline)
    finally:
        m.wall_deadline = None


def _run(s: "Session", m: Any, max_insns: int | None, timeout: float | None,
         budget_kind: str, deadline: float | None) -> StopEvent:
    if Watchers.needs_exact(s):
        return run_exact(s, max_insns, step_kind=budget_kind, deadline=deadline)
    w = Watchers.for_run(s, _SELF)
    start = m.icount
    idle, last = 0, None
    try:
        while True:
            if deadline is not None and time.monotonic() > deadline:
                return make_stop(s, "timeout", f"wall-time budget of {timeout}s used up")
            if s.interrupt_requested:       # (arrived while no engine stretch was running)
                return make_stop(s, "interrupt", "interrupted")
            left = None if max_insns is None else max_insns - (m.icount - start)
            if left is not None and left <= 0:
                return make_stop(s, budget_kind, "" if budget_kind == "step" else
                                 f"instruction budget of {max_insns} used up")
            chunk = CHUNK if left is None else min(CHUNK, left)
            tt = getattr(s, "timeline", None)      # time travel: points between chunks
            if tt is not None:
                chunk = tt.clip(chunk)
            ev = w.run_chunk(chunk)
            if ev is not None:
                return ev
            now = (m.icount, m.clock.icount, m._pc(), m.mutations)
            idle = idle + 1 if now == last else 0
            last = now
            if idle >= IDLE_MAX:
                raise EngineStuck(f"the engine made no progress at {m._pc():#x} (icount "
                                  f"{m.icount}): a bootdbg bug, please report it")
            if tt is not None:
                tt.tick()
    finally:
        w.disarm()
        w.park()


def run_to(s: "Session", address: int, *, kind: str, same_stack: CpuState | None = None
           ) -> StopEvent:
    """Run until execution reaches linear `address` (points stay armed)."""
    added = address not in s._internal_exits     # (m.extra_exits may still hold it)
    s._internal_exits.add(address)
    try:
        while True:
            ev = run(s)
            if ev.kind == "breakpoint" and ev.details.get("internal") and ev.linear == address:
                if same_stack is not None and _deeper(s.state(), same_stack):
                    continue      # a recursive call reached the same address: keep going
                return make_stop(s, kind)
            return ev
    finally:
        if added:
            s._internal_exits.discard(address)


def _deeper(now: CpuState, then: CpuState) -> bool:
    if now.ss.base != then.ss.base:
        return False
    mask = 0xFFFFFFFF if then.ss.db else 0xFFFF
    return (now.rsp & mask) < (then.rsp & mask)


def run_finish(s: "Session") -> StopEvent:
    """Step until a RET/RETF/IRET pops the current frame (stack pointer above where it was)."""
    from debugger.disasm import decode_one

    m = s.machine
    st0 = s.state()
    sp0 = st0.sp_linear
    w = Watchers(s, exact=True, stops=_SELF)
    try:
        for _ in range(50_000_000):
            if s.interrupt_requested:
                return make_stop(s, "interrupt", "interrupted")
            st = m.state()
            pc = st.pc
            try:
                code = m.mem.read_linear(pc, 16)
            except Exception:
                code = b""
            if code and m.bios.vector_at(pc) is not None:
                # A BIOS entry stub: this step runs the service and then the stub's IRET.
                pc, code = pc + 1, code[1:]
            ins = decode_one(code, pc, st.bits) if code else None
            is_ret = ins is not None and ins.mnemonic.startswith(("ret", "iret"))
            before = m.icount
            ev = w.step_once()
            if ev is not None:
                return ev
            if m.icount == before and m.state() == st:
                continue        # (a step that only saw an event, as a BIOS call's: nothing ran)
            if is_ret and s.state().sp_linear > sp0:
                return make_stop(s, "finish", f"returned by {ins.text}" if ins else "",
                                 insn_pc=pc, insn_bytes=code, bits=st.bits)
        return make_stop(s, "budget", "finish gave up after 50 million instructions")
    finally:
        w.disarm()

