"""The SDM rule list: every check of "Checks on the Guest State Area" (SDM Vol. 3C 26.3.1), in
the order of vmx-guest-state.md sections 1.1-1.6, with the IDs used there.

`SDM_RULES` is the list the vmx and vmx-ug profiles and VMCS dumps are judged by; `RULE_IDS` is
the set of IDs, for auditing against the reference.
"""
from __future__ import annotations

from debugger.checks import rules_cr, rules_seg, rules_state
from debugger.checks.verdict import Rule

__all__ = ["SDM_RULES", "RULE_IDS", "ALIASES", "rule_text"]

SDM_RULES: tuple[Rule, ...] = rules_cr.RULES + rules_seg.RULES + rules_state.RULES
RULE_IDS: frozenset[str] = frozenset(r.id for r in SDM_RULES)
ALIASES: dict[str, str] = dict(rules_seg.ALIASES)


def rule_text(rule_id: str) -> str:
    for r in SDM_RULES:
        if r.id == rule_id:
            return r.text
    return ""
