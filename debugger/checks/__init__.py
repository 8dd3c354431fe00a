"""The guest-state checker: could a hypervisor VM-enter this CPU state?

Pure Python over the one CPU record (`debugger.cpustate.CpuState`), extended to a VMCS
guest-state area by `GuestState`.  Rules are data (`Rule`: ID, applicability, predicate, text),
one definition each, in `rules_cr` / `rules_seg` / `rules_state` (Intel SDM 26.3.1.1-6),
`rules_kvm`, `rules_xen` and `rules_svm`; the IDs are those of vmx-guest-state.md.

    from debugger.checks import evaluate, PROFILES
    verdict = evaluate(cpu, "vmx")      # Verdict(profile, violations, not_modelled, ...)
"""
from __future__ import annotations

from debugger.checks.guest import Controls, GuestState, Processor
from debugger.checks.profiles import (
    DEFAULT_PROFILE, PROFILES, Profile, build_guest, evaluate, evaluate_guest)
from debugger.checks.verdict import Rule, Verdict, Violation

__all__ = ["evaluate", "evaluate_guest", "build_guest", "PROFILES", "DEFAULT_PROFILE", "Profile",
           "Verdict", "Violation", "Rule", "GuestState", "Controls", "Processor"]
