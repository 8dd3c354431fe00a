"""The machine as its BIOS and its helper modules see it: a protocol, so that none of them imports
the run loop (`debugger.machine.pc.Machine` implements it; pc imports them, never the reverse).

The BIOS services use the public part (memory, CPU, I/O bus, devices, disks, events, clock);
the helpers that hold parts of the run loop's work (snapshot, halt, holes, softint, undocumented,
fastcall) also use the few internals listed last.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from unicorn import Uc

    from debugger.cpustate import CpuState
    from debugger.machine.bus import Clock, IoBus
    from debugger.machine.cpu import Cpu
    from debugger.machine.delivery import Delivery
    from debugger.machine.disk import Disk
    from debugger.machine.events import EventLog
    from debugger.machine.memory import Memory
    from debugger.machine.results import RunResult

__all__ = ["MachinePort"]


class MachinePort(Protocol):
    uc: "Uc"
    cpu: "Cpu"
    mem: "Memory"
    bus: "IoBus"
    clock: "Clock"
    events: "EventLog"
    delivery: "Delivery"
    disks: dict[int, "Disk"]
    devices: Any                # debugger.machine.devices.Devices
    bios: Any                   # debugger.machine.bios.Bios
    config: Any                 # debugger.machine.pc.MachineConfig
    icount: int
    serial_out: bytearray

    def boot_disk(self) -> "Disk | None": ...

    def load_real_segment(self, name: str, selector: int) -> None: ...

    def set_state(self, st: "CpuState") -> None: ...

    def end_of_interrupt(self, vector: int) -> None: ...

    def raise_exception(self, vector: int, error_code: int | None, *,
                        software: bool = False, external: bool = False,
                        int_rip: int | None = None) -> "RunResult | None": ...

    # -- internals of the run loop, for the modules that hold parts of it ----------------------
    def _pc(self) -> int: ...

    def _safe_pc(self) -> bool: ...

    def _result(self, reason: str, message: str, **details: Any) -> "RunResult": ...
