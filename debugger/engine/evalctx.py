"""The expression-evaluation context of a live session (registers, memory, selectors)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.cpustate import CpuState, Segment

if TYPE_CHECKING:
    from debugger.engine.sessionview import SessionView

__all__ = ["SessionContext"]


class SessionContext:
    """Implements `debugger.engine.expr.EvalContext` over a Session (state read once)."""

    def __init__(self, session: "SessionView") -> None:
        self._s = session
        self._state: CpuState | None = None

    def state(self) -> CpuState:
        if self._state is None:
            self._state = self._s.state()
        return self._state

    def read_linear(self, addr: int, size: int) -> int:
        return int.from_bytes(self._s.machine.mem.read_linear(addr, size), "little")

    def read_physical(self, addr: int, size: int) -> int:
        return int.from_bytes(self._s.machine.mem.read_phys(addr, size), "little")

    def segment_base(self, selector: int) -> int:
        """What SEL in SEL:OFF means now: SEL*16 in real/vm86 mode, the descriptor base in PM."""
        st = self.state()
        if not st.pe or st.vm:
            return (selector & 0xFFFF) << 4
        from debugger.machine.delivery import Delivery, Frame, GuestFault

        d = Delivery(self._s.machine.cpu, self._s.machine.mem)
        try:
            raw = d._descriptor(selector, Frame(0, False, None))
        except GuestFault:
            raise ValueError(f"selector {selector:#06x} is outside the descriptor table") \
                from None
        return Segment.from_descriptor(selector, raw).base

    def variable(self, name: str) -> int:
        if name == "_icount":
            return self._s.icount
        if name == "_exitcode" and "_exitcode" not in self._s.variables:
            from debugger.engine.stops import FINAL_KINDS

            ev = self._s.last_stop             # as `bootdbg run` exits: 0 halted, 1 otherwise
            if ev is None or ev.kind not in FINAL_KINDS:
                raise KeyError(name)           # gdb: void until the program has exited
            return 0 if ev.kind == "halted" else 1
        return self._s.variables[name]

    def lookup_symbol(self, name: str) -> int | None:
        """A loaded symbol's address (for names that are not registers)."""
        return self._s.symbols.lookup(name)
