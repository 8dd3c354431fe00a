"""The parse error and result types of the dump importers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from debugger.checks.guest import GuestState
    from debugger.cpustate import CpuState

__all__ = ["DumpError", "ParsedDump"]


class DumpError(ValueError):
    """The text is not a dump we can read; `line_no`/`line` point at the offending line."""

    def __init__(self, msg: str, line_no: int = 0, line: str = "") -> None:
        self.msg, self.line_no, self.line = msg, line_no, line
        where = f" (line {line_no}: {line.strip()[:120]!r})" if line_no else ""
        super().__init__(msg + where)


@dataclass(slots=True)
class ParsedDump:
    """A dump's CPU state; for VMCS dumps also the guest-state record with its own controls."""

    format: str
    cpu: "CpuState"
    guest: "GuestState | None" = None
    exit_reason: int | None = None
    notes: list[str] = field(default_factory=list)
    first_line: int = 0
