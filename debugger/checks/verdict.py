"""Result types of the guest-state checker: `Rule`, `Violation`, `Verdict`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from debugger.checks.guest import GuestState

__all__ = ["Rule", "Violation", "Verdict"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One check, as data: the ID (from vmx-guest-state.md), where it applies, what must hold.

    `applies` and `holds` take the evaluation context (`debugger.checks.engine.Ctx`); `applies`
    None means always.  `needs` names record fields without which the rule cannot be judged
    (reported as not modelled).  `required` is a value or a function of the context.
    """

    id: str
    sdm: str
    register: str
    field: str
    text: str
    holds: Callable[[Any], bool] | None      # None: not modelled by this checker
    actual: Callable[[Any], Any]
    required: Any
    applies: Callable[[Any], bool] | None = None
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    field: str
    register: str
    actual: Any
    required: Any
    text: str
    sdm: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "register": self.register, "field": self.field,
                "actual": self.actual, "required": self.required, "text": self.text,
                "sdm": self.sdm}


@dataclass(slots=True)
class Verdict:
    """Could a hypervisor VM-enter this state?  `ok` means no violation was found."""

    profile: str
    violations: list[Violation]
    not_modelled: list[str] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    guest: "GuestState | None" = None

    @property
    def ok(self) -> bool:
        return not self.violations

    def rules(self) -> list[str]:
        return [v.rule for v in self.violations]

    def registers(self) -> list[str]:
        seen: dict[str, None] = {}
        for v in self.violations:
            seen.setdefault(v.register, None)
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "enterable": self.ok,
                "violations": [v.to_dict() for v in self.violations],
                "not_modelled": list(self.not_modelled), "notes": list(self.notes)}
