"""What the machine does with the event a run stopped for (`traps.Pending`: a BIOS stub's trap,
an interrupt or exception to deliver, a refused I/O, SYSENTER/SYSCALL, a task switch, a reset),
and the BIOS services at their stubs.  A part of `Machine` (mixed into it in pc.py), in a file of
its own; it sees the rest of the machine as `self`.
"""
from __future__ import annotations

from typing import Any

from debugger.machine import softint, taskinsn, uc_layout
from debugger.machine.delivery import ERROR_CODE_VECTORS, GuestFault, Unsupported
from debugger.machine.memory import MemoryError_
from debugger.machine.results import RunResult, Stop, StopRequest
from debugger.machine.traps import Pending

__all__ = ["PendingEvents"]


class PendingEvents:
    """Events and BIOS services of `debugger.machine.pc.Machine`."""

    def service_bios(self) -> RunResult | None:
        """At a BIOS stub: run its service now and leave the CPU at the stub's IRET, before it
        executes (the instruction stream shows the service as an event of its own; a run from
        there executes the IRET as the rest of the same step).  None, or why the service
        ended the run."""
        pc = self._pc()
        vec = self.bios.vector_at(pc)
        if vec is None:
            raise ValueError(f"no BIOS stub at {pc:#x}")
        self._bios_asked = (self.icount, pc)        # (the call was seen: run the service)
        return self._bios(vec, pc)

    def _bios(self, vector: int, pc: int) -> RunResult | None:
        # The event filter sees the call before the service runs (as the guest passed it).
        if self.event_filter is not None and self._bios_asked != (self.icount, pc) \
                and self.event_filter("bios", {"vector": vector}):
            self._bios_asked = (self.icount, pc)      # (resuming here: run the service)
            return self._result(Stop.EVENT, "bios", event="bios", vector=vector)
        self._bios_asked = None
        self.mutations += 1
        for fn in self.service_listeners:
            fn(self.icount)
        self.cpu.rip += 1      # resume at the stub's tail
        try:
            self.bios.dispatch(vector)
        except MemoryError_ as exc:
            self.events.emit("bios-error", f"INT {vector:02X}h: {exc}", vector=vector)
        except Unsupported as exc:
            return self._result(Stop.UNSUPPORTED, str(exc))
        except StopRequest as req:
            return self._result(req.reason, req.message, **req.details)
        # The service and the stub's IRET are one step (the INT3 is not an instruction): an
        # exit at the IRET does not stop between them, as stepping never does.
        self._bios_tail = (self._pc(), self.icount)
        return None

    def _check_event_filter(self, kind: str, details: dict[str, Any]) -> RunResult | None:
        if self.event_filter is not None and self.event_filter(kind, details):
            return self._result(Stop.EVENT, kind, event=kind, **details)
        return None

    def _handle_pending(self, p: Pending) -> RunResult | None:
        if p.kind == "reset":
            self.events.emit("reset", "the guest requested a system reset")
            return self._result(Stop.RESET, "the guest requested a system reset")
        if p.kind == "unmapped":
            return self._result(Stop.UNMAPPED, f"{p.access} of unmapped physical address "
                                f"{p.address:#x} at {self._pc():#x}", address=p.address)
        self.mutations += 1
        if p.kind == "bios":
            self.cpu.rip -= 1       # back to the stub: _bios resumes at its tail
            return self._bios(p.vector, self._pc())
        if p.kind == "io-gp":
            # Undo what Unicorn did after the refused IN/OUT: registers and IP as before it.
            self.eng.write(uc_layout.OFF_REGS, p.saved_regs)
            self.cpu.rip = p.address
            return self.raise_exception(13, 0)
        if p.kind in ("sysenter", "syscall"):
            from debugger.machine import fastcall

            try:
                getattr(fastcall, p.kind)(self)
            except GuestFault as f:
                return self.raise_exception(f.vector, f.error_code)
            return None
        if p.kind == "ud":
            return softint.invalid_opcode(self)
        if p.kind == "task":
            return taskinsn.execute(self)
        vec = p.vector
        if p.is_int:
            return softint.deliver_int(self, vec, p.next_rip)
        if vec == 13 and softint.sysret_is_ud(self):
            return self.raise_exception(6, None)
        if vec == 14 and self._block_lookahead_fault(p.error_code):
            return None
        ec = p.error_code if vec in ERROR_CODE_VECTORS else None
        return self.raise_exception(vec, ec)
