"""What a run of the machine ends with: `RunResult` (why, and where), the stable names of the
reasons (`Stop`), and `StopRequest`, raised by BIOS services and the machine's helpers to end a
run.  Plain data, so the BIOS and the helpers use them without importing the run loop."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stop", "RunResult", "StopRequest"]


class Stop:
    """Stable names of the reasons a run ends."""

    BUDGET = "budget"                # instruction budget used up
    HALTED = "halted"                # HLT with interrupts disabled (or nothing will ever wake it)
    TRIPLE_FAULT = "triple-fault"
    RESET = "reset"                  # the guest asked for a reset (port 0x92, 8042 0xFE)
    UNMAPPED = "unmapped"            # fetch/read/write with no memory behind it
    UNSUPPORTED = "unsupported"      # something bootdbg does not implement
    EXIT = "exit"                    # an address the caller asked to stop at
    INTERRUPT = "interrupt"          # the user (Ctrl-C) or the caller's stop flag
    BOOT_FAILED = "boot-failed"      # INT 18h: no bootable device
    EVENT = "event"                  # the caller's event filter asked to stop
    TIMEOUT = "timeout"              # `wall_deadline` passed while the CPU was halted


@dataclass
class RunResult:
    reason: str
    message: str
    icount: int
    details: dict[str, Any] = field(default_factory=dict)


class StopRequest(Exception):
    """Raised by a BIOS service to end the run (e.g. INT 18h: no bootable device)."""

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details
