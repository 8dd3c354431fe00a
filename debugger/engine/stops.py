"""Stop events: what every run of the engine returns.

Kinds are stable strings (they appear in JSON reports and scripts): `breakpoint`, `watchpoint`,
`vm86-enter`, `vm86-leave`, `mode`, `cpl`, `vmx-invalid`, `vmx-valid`, `dtr`, `sreg`, `cr`, `int`,
`exception`, `irq`, `triple-fault`, `hlt`, `io`, `a20`, `step`, `budget`, `interrupt` (Ctrl-C),
`halted`, plus `reset`, `unmapped`, `unsupported`, `boot-failed` for the ways a guest can end;
time travel adds `goto` (arrived at an icount) and `history` (no history before/after that);
`start` is the guest back at the hand-off state (`run`/`start` again, Session.restart).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Change", "StopEvent", "STOP_KINDS", "FINAL_KINDS"]

STOP_KINDS = (
    "breakpoint", "watchpoint", "vm86-enter", "vm86-leave", "mode", "cpl", "vmx-invalid",
    "vmx-valid", "dtr", "sreg", "cr", "int", "exception", "irq", "triple-fault", "hlt", "io",
    "a20", "step", "budget", "interrupt", "halted", "reset", "unmapped", "unsupported",
    "boot-failed", "timeout", "finish", "until", "goto", "history", "start",
)
# After these the guest cannot go on.
FINAL_KINDS = frozenset({"halted", "triple-fault", "reset", "unmapped", "unsupported",
                         "boot-failed"})


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any

    def __str__(self) -> str:
        def fmt(v: Any) -> str:
            return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
        return f"{self.field}: {fmt(self.before)} -> {fmt(self.after)}"


@dataclass
class StopEvent:
    kind: str
    icount: int
    cs: int
    eip: int
    linear: int
    message: str = ""
    instruction_bytes: bytes = b""   # the instruction that caused the stop (up to 16 bytes)
    instruction_address: int | None = None   # linear address of that instruction
    bits: int = 16                   # the code size it executed in
    changes: list[Change] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    point: int | None = None         # breakpoint/watchpoint/catchpoint number

    _text: str | None = field(default=None, repr=False, compare=False)

    @property
    def instruction(self) -> str:
        """Disassembly of the instruction that caused the stop ('' if none)."""
        if self._text is None:
            self._text = ""
            if self.instruction_bytes and self.instruction_address is not None:
                from debugger.disasm import decode_one

                ins = decode_one(self.instruction_bytes, self.instruction_address, self.bits)
                if ins is not None:
                    self._text = ins.text
                    self.instruction_bytes = ins.bytes
        return self._text

    @property
    def final(self) -> bool:
        return self.kind in FINAL_KINDS

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "icount": self.icount, "cs": self.cs, "eip": self.eip,
            "linear": self.linear, "message": self.message,
            "instruction": self.instruction,
            "instruction_bytes": self.instruction_bytes.hex(),
            "instruction_address": self.instruction_address,
            "changes": [{"field": c.field, "before": c.before, "after": c.after}
                        for c in self.changes],
            "details": _jsonable(self.details), "point": self.point,
        }

    def summary(self) -> str:
        where = f"{self.cs:04x}:{self.eip:04x} (linear {self.linear:#x})"
        text = f"{self.kind} at {where}, icount {self.icount}"
        if self.point is not None:
            text = f"#{self.point} " + text
        if self.message:
            text += f": {self.message}"
        return text


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)
