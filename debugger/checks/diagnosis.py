"""A one-paragraph diagnosis of a verdict, in plain words.

The paragraph names the pattern behind the violations when there is one (virtual-8086 mode
with protected-mode segment caches; real mode with segments virtual-8086 cannot hold; ...),
and otherwise summarises the failing rules.
"""
from __future__ import annotations

from debugger.checks.verdict import Verdict
from debugger.cpustate import AR_UNUSABLE, CpuState, Segment

__all__ = ["diagnose"]

V86_RULE = ("in virtual-8086 mode every segment must have base = selector×16, limit 0xFFFF and "
            "access rights 0xF3")
_ORDER = ("es", "cs", "ss", "ds", "fs", "gs")


def _regs(verdict: Verdict, prefix: str) -> list[str]:
    seen = {v.register for v in verdict.violations if v.rule.startswith(prefix)}
    return [r for r in ("cs", "ss", "ds", "es", "fs", "gs") if r in seen]


def _names(regs: list[str]) -> str:
    up = [r.upper() for r in regs]
    return up[0] if len(up) == 1 else ", ".join(up[:-1]) + " and " + up[-1]


def _protected_cache(seg: Segment) -> bool:
    """Does this cache look loaded from a protected-mode descriptor, not by a real/vm86 load?"""
    if seg.ar & AR_UNUSABLE or seg.base != seg.selector << 4:
        return True
    return bool(seg.ar & 0xC000) or seg.limit > 0xFFFF


def _what_is_off(cpu: CpuState, regs: list[str]) -> str:
    parts = []
    for r in regs:
        s: Segment = getattr(cpu, r)
        bits = []
        if s.base != s.selector << 4:
            bits.append(f"base {s.base:#x} for selector {s.selector:#06x}")
        if s.limit != 0xFFFF:
            bits.append(f"limit {s.limit:#x}")
        if s.ar & ~0x60 & 0x1F0FF != 0x93 & ~0x60 and (s.ar | 0x60) & ~0xF != 0xF0:
            bits.append(f"access rights {s.ar:#x}")
        if bits:
            parts.append(f"{r.upper()} has " + ", ".join(bits))
    return "; ".join(parts)


def diagnose(verdict: Verdict) -> str:
    g = verdict.guest
    cpu = g.cpu if g is not None else None
    name = verdict.profile
    if verdict.ok:
        text = f"Enterable under {name}: no rule fails."
        if verdict.not_modelled:
            text += (" Not judged for lack of data: " + ", ".join(verdict.not_modelled) + ".")
        return text
    v86 = _regs(verdict, "SEG.V86.")
    if v86 and cpu is not None:
        mapped = any("run as virtual-8086" in n for n in verdict.notes)
        if mapped:
            return (f"The guest is in real mode with {_names(v86)} outside what virtual-8086 mode "
                    f"can hold ({_what_is_off(cpu, v86)}). Without unrestricted guest the "
                    f"hypervisor runs real mode as virtual-8086, and {V86_RULE}, so it cannot "
                    "run this state natively and must emulate it.")
        if all(_protected_cache(getattr(cpu, r)) for r in v86) and len(v86) >= 2:
            return (f"RFLAGS.VM=1 but the segment caches hold protected-mode descriptors; "
                    f"{V86_RULE}. Failing: {_names(v86)}." + _others(verdict, "SEG.V86."))
        return (f"RFLAGS.VM=1 but {_names(v86)} do not hold virtual-8086 segments "
                f"({_what_is_off(cpu, v86)}); {V86_RULE}." + _others(verdict, "SEG.V86."))
    kvm = _regs(verdict, "KVM.RM.")
    if kvm and cpu is not None:
        return (f"KVM must emulate: the guest is in real or virtual-8086 mode and "
                f"{_names(kvm)} are not plain real-mode segments ({_what_is_off(cpu, kvm)}); "
                "KVM runs such a guest natively only when every segment has base = selector×16, "
                "limit 0xFFFF and read/write data access rights." + _others(verdict, "KVM.RM."))
    xen = _regs(verdict, "XEN.RM.")
    if xen:
        return (f"Xen must emulate: {_names(xen)} are unsafe for virtual-8086 mode (a safe "
                "segment is present, 16-byte aligned below 1 MiB, with limit at least 0xFFFF)."
                + _others(verdict, "XEN.RM."))
    first = verdict.violations[0]
    regs = ", ".join(r.upper() for r in verdict.registers())
    n = len(verdict.violations)
    return (f"Not enterable under {name}: {n} rule{'s' if n > 1 else ''} fail"
            f"{'' if n > 1 else 's'} ({regs}). First: {first.rule} — {first.text}")


def _others(verdict: Verdict, prefix: str) -> str:
    rest = [v.rule for v in verdict.violations if not v.rule.startswith(prefix)]
    return f" Also failing: {', '.join(dict.fromkeys(rest))}." if rest else ""
