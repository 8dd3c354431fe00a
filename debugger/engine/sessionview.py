"""What the helpers of a `Session` read of it (the expression context, the backtrace), as a
protocol: they are handed the session and never import its module."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from debugger.cpustate import CpuState
    from debugger.engine.stops import StopEvent
    from debugger.machine.pc import Machine

__all__ = ["SessionView"]


class SessionView(Protocol):
    machine: "Machine"
    variables: dict[str, int]
    symbols: Any                   # debugger.engine.symbols.SymbolTable
    deliveries: Any                # debugger.engine.backtrace.DeliveryLog

    @property
    def icount(self) -> int: ...

    @property
    def last_stop(self) -> "StopEvent | None": ...

    def state(self) -> "CpuState": ...

    def read_memory(self, address: int, size: int, space: str = "linear") -> bytes: ...
