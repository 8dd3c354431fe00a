"""Run a list of rules over a guest-state record: the evaluation context and the loop.

The context precomputes what nearly every rule asks (UG, IA-32e, virtual-8086, CR0.PE) once per
evaluation, so a rule's predicate is a couple of attribute reads.  No allocation happens for a
rule that holds.
"""
from __future__ import annotations

from typing import Any, Sequence

from debugger.checks.guest import GuestState
from debugger.checks.verdict import Rule, Verdict, Violation
from debugger.cpustate import RF_VM

__all__ = ["Ctx", "run_rules", "canonical", "hi32"]

MASK64 = (1 << 64) - 1


def canonical(value: int, width: int) -> bool:
    """Bits 63:width-1 of `value` are all equal (no check when width is 64)."""
    if width >= 64:
        return True
    top = (value & MASK64) >> (width - 1)
    return top == 0 or top == (1 << (65 - width)) - 1


def hi32(value: int) -> int:
    return (value & MASK64) >> 32


class Ctx:
    """What rules read: the record, its CPU, controls and processor, and derived flags."""

    __slots__ = ("g", "c", "k", "p", "ug", "ia32e", "v86", "pe", "missing")

    def __init__(self, g: GuestState) -> None:
        self.g = g
        self.c = c = g.cpu
        self.k = k = g.controls
        self.p = g.processor
        self.ug = k.unrestricted_guest
        self.ia32e = k.ia32e_mode_guest
        self.v86 = bool(c.rflags & RF_VM)
        self.pe = bool(c.cr0 & 1)
        self.missing = g.missing()

    def seg(self, name: str) -> Any:
        return getattr(self.c, name)


_COMPILED: dict[int, tuple[tuple[Rule, ...], list[tuple[Any, Any, tuple[str, ...], Rule]]]] = {}


def _compiled(rules: Sequence[Rule]) -> list[tuple[Any, Any, tuple[str, ...], Rule]]:
    """The rules as flat tuples (the loop below runs on every mode transition)."""
    hit = _COMPILED.get(id(rules))
    if hit is not None and hit[0] is rules:
        return hit[1]
    flat = [(r.applies, r.holds, r.needs, r) for r in rules]
    if isinstance(rules, tuple):
        _COMPILED[id(rules)] = (rules, flat)
    return flat


def run_rules(rules: Sequence[Rule], g: GuestState, profile: str,
              notes: tuple[str, ...] = ()) -> Verdict:
    """Evaluate `rules` over `g`: violations in rule order, IDs that could not be judged."""
    x = Ctx(g)
    missing = x.missing
    out: list[Violation] = []
    nm: list[str] = []
    for applies, holds, needs, r in _compiled(rules):
        if applies is not None and not applies(x):
            continue
        if holds is None or missing and needs and not missing.isdisjoint(needs):
            if r.id not in nm:
                nm.append(r.id)
            continue
        if holds(x):
            continue
        req = r.required(x) if callable(r.required) else r.required
        out.append(Violation(r.id, r.field, r.register, r.actual(x), req, r.text, r.sdm))
    return Verdict(profile, out, nm, notes, g)
