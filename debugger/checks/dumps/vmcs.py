"""VMCS dumps: Xen `vmcs_dump_vcpu` (<= 4.5 "xen-3.4" and >= 4.6 "xen-4.6") and KVM `dump_vmcs`
(current "kvm" and 2014-2021 "kvm-legacy"), formats as in vmx-guest-state.md 4.3 and 4.4.

The parser reads the "*** Guest State ***" and "*** Control State ***" sections line by line.
A line that starts with a field this parser knows (CS:, GDTR:, RFLAGS=, ...) must match that
field's pattern, else the dump is rejected with that line; lines it does not know are skipped,
so newer versions' extra lines are tolerated.
"""
from __future__ import annotations

import re
from typing import Any

from debugger.checks.dumps._text import Line
from debugger.checks.dumps.errors import DumpError, ParsedDump
from debugger.checks.guest import Controls, GuestState
from debugger.cpustate import EFER_LMA, EFER_LME, Activity, CpuState, DescriptorTable, Segment

__all__ = ["parse_vmcs", "GUEST_MARK"]

GUEST_MARK = re.compile(r"^\*\*\* Guest State \*\*\*")
_HOST_MARK = re.compile(r"^\*\*\* Host State \*\*\*")
_CTRL_MARK = re.compile(r"^\*\*\* Control State \*\*\*")
H = r"([0-9a-fA-F]+)"
SEGS = ("CS", "DS", "SS", "ES", "FS", "GS", "LDTR", "TR")
_SEG_KEY = re.compile(r"^\s*(CS|DS|SS|ES|FS|GS|LDTR|TR|GDTR|IDTR):")
_SEG_OLD = re.compile(rf"^\s*(CS|DS|SS|ES|FS|GS|LDTR|TR):\s+sel=0x{H},\s*attr=0x{H},\s*"
                      rf"limit=0x{H},\s*base=0x{H}")
_SEG_NEW = re.compile(r"^\s*(CS|DS|SS|ES|FS|GS|LDTR|TR):\s+([0-9a-f]{4})\s+([0-9a-f]{5})\s+"
                      r"([0-9a-f]{8})\s+([0-9a-f]{16})\b")
_DT_OLD = re.compile(rf"^\s*(GDTR|IDTR):\s+limit=0x{H},\s*base=0x{H}")
_DT_NEW = re.compile(r"^\s*(GDTR|IDTR):\s+([0-9a-f]{8})\s+([0-9a-f]{16})\b")

# Guest-state lines: key pattern -> full pattern.
_GUEST: list[tuple[re.Pattern[str], re.Pattern[str], str]] = [
    (re.compile(r"^CR0\b"), re.compile(rf"^CR0:\s*actual=0x{H}"), "cr0"),
    (re.compile(r"^CR4\b"), re.compile(rf"^CR4:\s*actual=0x{H}"), "cr4"),
    (re.compile(r"^CR3\b"), re.compile(rf"^CR3(?::\s*actual=|\s*=\s*)0x{H}"), "cr3"),
    (re.compile(r"^PDPT[ER]\d"), re.compile(
        rf"^PDPT[ER](\d)\s*=\s*0x{H}\s+PDPT[ER](\d)\s*=\s*0x{H}"), "pdpte"),
    (re.compile(r"^RSP\b"), re.compile(
        rf"^RSP\s*=\s*0x{H}(?:\s*\(0x{H}\))?\s+RIP\s*=\s*0x{H}"), "rsp_rip"),
    (re.compile(r"^RFLAGS\b"), re.compile(
        rf"^RFLAGS\s*=\s*0x{H}(?:\s*\(0x{H}\))?\s+DR7\s*=\s*0x{H}"), "rflags"),
    (re.compile(r"^Sysenter\b"), re.compile(
        rf"^Sysenter RSP\s*=\s*(?:0x)?{H}\s+CS:RIP\s*=\s*(?:0x)?{H}:(?:0x)?{H}"), "sysenter"),
    (re.compile(r"^EFER\b"), re.compile(
        rf"^EFER(?:\([^)]*\))?\s*=\s*0x{H}(?:\s*\((\w+)\))?(?:\s+PAT\s*=\s*0x{H})?"), "efer"),
    (re.compile(r"^(?:Guest )?PAT\b"), re.compile(rf"^(?:Guest )?PAT\s*=\s*0x{H}"), "pat"),
    (re.compile(r"^DebugCtl\b"), re.compile(
        rf"^DebugCtl\s*=\s*(?:0x)?{H}\s+DebugExceptions\s*=\s*(?:0x)?{H}"), "debug"),
    (re.compile(r"^PerfGlobCtl\b"), re.compile(
        rf"^PerfGlobCtl\s*=\s*0x{H}(?:\s+BndCfgS\s*=\s*0x{H})?"), "perf"),
    (re.compile(r"^BndCfgS\b"), re.compile(rf"^BndCfgS\s*=\s*0x{H}"), "bndcfgs"),
    (re.compile(r"^Interruptibility\b"), re.compile(
        rf"^Interruptibility\s*=\s*{H}\s+ActivityState\s*=\s*{H}"), "intr"),
]
_CTRL_WORD = re.compile(r"\b(PinBased|CPUBased|SecondaryExec|EntryControls)=(?:0x)?([0-9a-fA-F]+)")
_CTRL_KEY = re.compile(r"^(?:PinBased|CPUBased|SecondaryExec|EntryControls)=")
_VMENTRY = re.compile(rf"^VMEntry:\s*intr_info=(?:0x)?{H}\s+errcode=(?:0x)?{H}\s+ilen=(?:0x)?{H}")
_REASON = re.compile(rf"^reason=(?:0x)?{H}")


def _h(s: str | None) -> int:
    return int(s, 16) if s else 0


def _sections(lines: list[Line], start: int) -> tuple[list[Line], list[Line]]:
    guest: list[Line] = []
    ctrl: list[Line] = []
    where = "guest"
    for ln in lines[start + 1:]:
        t = ln.text.strip()
        if GUEST_MARK.match(t):
            break                      # the next vCPU's dump (Xen 'v' key): judge the first
        if _HOST_MARK.match(t):
            where = "host"
        elif _CTRL_MARK.match(t):
            where = "ctrl"
        elif where == "guest":
            guest.append(ln)
        elif where == "ctrl":
            ctrl.append(ln)
    return guest, ctrl


def _detect(guest: list[Line], ctrl: list[Line], all_lines: list[Line]) -> str:
    texts = [ln.text.strip() for ln in guest]
    if any(_SEG_NEW.match(t) for t in texts):
        return "xen-4.6"
    if any(t.startswith("CR3: actual=") or re.match(r"^RSP = 0x\w+ \(0x", t) for t in texts):
        return "xen-3.4"
    if any(re.match(r"^VMCS (?:0x)?[0-9a-f]+, last attempted", ln.text.strip())
           for ln in all_lines) or any("CPUBased=0x" in ln.text for ln in ctrl):
        return "kvm"
    return "kvm-legacy"


def parse_vmcs(lines: list[Line], start: int) -> ParsedDump:
    guest_lines, ctrl_lines = _sections(lines, start)
    fmt = _detect(guest_lines, ctrl_lines, lines)
    f: dict[str, Any] = {}
    segs: dict[str, Segment] = {}
    dts: dict[str, DescriptorTable] = {}
    pdptes: dict[int, int] = {}
    for ln in guest_lines:
        t = ln.text.strip()
        if _SEG_KEY.match(t):
            m = _SEG_OLD.match(t) or _SEG_NEW.match(t)
            if m:
                sel, ar, lim, base = (_h(v) for v in m.groups()[1:])
                segs[m.group(1)] = Segment(sel, base, lim, ar)
                continue
            m = _DT_OLD.match(t) or _DT_NEW.match(t)
            if m:
                dts[m.group(1)] = DescriptorTable(_h(m.group(3)), _h(m.group(2)))
                continue
            raise DumpError(f"malformed {fmt} segment line", ln.no, ln.raw)
        for key, full, name in _GUEST:
            if key.match(t):
                m = full.match(t)
                if not m:
                    raise DumpError(f"malformed {fmt} '{name}' line", ln.no, ln.raw)
                _store(f, name, m.groups(), pdptes)
                break
    ctl: dict[str, int] = {}
    entry = None
    reason = None
    for ln in ctrl_lines:
        t = ln.text.strip()
        words = _CTRL_WORD.findall(t)
        if _CTRL_KEY.match(t) and not words:
            raise DumpError(f"malformed {fmt} control line", ln.no, ln.raw)
        for k, v in words:
            ctl[k] = int(v, 16)
        if t.startswith("VMEntry:"):
            m = _VMENTRY.match(t)
            if not m:
                raise DumpError(f"malformed {fmt} VMEntry line", ln.no, ln.raw)
            entry = tuple(_h(v) for v in m.groups())
        m = _REASON.match(t)
        if m:
            reason = _h(m.group(1))
    last = (ctrl_lines or guest_lines or [lines[start]])[-1]
    _require(f, segs, dts, ctl, fmt, last)
    return _build(fmt, f, segs, dts, pdptes, ctl, entry, reason, lines[start].no)


def _store(f: dict[str, Any], name: str, g: tuple[str | None, ...],
           pdptes: dict[int, int]) -> None:
    if name == "pdpte":
        pdptes[int(g[0])] = _h(g[1])
        pdptes[int(g[2])] = _h(g[3])
    elif name == "rsp_rip":
        f["rsp"], f["rip"] = _h(g[0]), _h(g[2])
    elif name == "rflags":
        f["rflags"], f["dr7"] = _h(g[0]), _h(g[2])
    elif name == "sysenter":
        f["sysenter_esp"], f["sysenter_cs"], f["sysenter_eip"] = (_h(v) for v in g)
    elif name == "efer":
        if g[1] in (None, "effective") or "efer" not in f:
            f["efer"] = _h(g[0])
        if g[2]:
            f["pat"] = _h(g[2])
    elif name == "debug":
        f["debugctl"], f["pending_debug"] = _h(g[0]), _h(g[1])
    elif name == "perf":
        f["perf_global_ctrl"] = _h(g[0])
        if g[1]:
            f["bndcfgs"] = _h(g[1])
    elif name == "intr":
        f["interruptibility"], f["activity"] = _h(g[0]), _h(g[1])
    else:
        f[name] = _h(g[0])


def _require(f: dict[str, Any], segs: dict[str, Segment], dts: dict[str, DescriptorTable],
             ctl: dict[str, int], fmt: str, last: Line) -> None:
    missing = [n.upper() for n in ("cr0", "cr4", "rflags", "rip") if n not in f]
    missing += [s for s in SEGS if s not in segs] + [d for d in ("GDTR", "IDTR") if d not in dts]
    if "interruptibility" not in f:
        missing.append("Interruptibility")
    missing += [c for c in ("CPUBased", "EntryControls") if c not in ctl]
    if missing:
        raise DumpError(f"incomplete {fmt} VMCS dump (truncated?): no "
                        + ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else ""),
                        last.no, last.raw)


def _build(fmt: str, f: dict[str, Any], segs: dict[str, Segment],
           dts: dict[str, DescriptorTable], pdptes: dict[int, int], ctl: dict[str, int],
           entry: tuple[int, ...] | None, reason: int | None, first: int) -> ParsedDump:
    info, err, ilen = entry or (0, 0, 0)
    controls = Controls.from_raw(ctl.get("PinBased", 0), ctl["CPUBased"],
                                 ctl.get("SecondaryExec", 0), ctl["EntryControls"],
                                 entry_intr_info=info, entry_errcode=err, entry_ilen=ilen)
    act = f.pop("activity")
    kw: dict[str, Any] = dict(f)
    if "efer" not in kw and controls.ia32e_mode_guest:
        kw["efer"] = EFER_LMA | EFER_LME          # what the IA-32e control implies (not printed)
    kw.update({s.lower(): segs[s] for s in SEGS})
    kw["gdtr"], kw["idtr"] = dts["GDTR"], dts["IDTR"]
    kw["activity"] = Activity(act) if act in (0, 1, 2, 3) else act
    try:
        cpu = CpuState(**kw)
    except (TypeError, ValueError) as exc:
        raise DumpError(f"unusable {fmt} VMCS dump: {exc}") from None
    known = set(f) | {s.lower() for s in SEGS} | {"gdtr", "idtr", "activity"}
    unknown = frozenset(n for n in CpuState.__dataclass_fields__ if n not in known)
    pd = tuple(pdptes.get(i, 0) for i in range(4)) if len(pdptes) == 4 else None
    guest = GuestState(cpu, controls, pdptes=pd, unknown=unknown)  # type: ignore[arg-type]
    notes = []
    if reason is not None and reason & 0x80000000:
        notes.append(f"the dump records a failed VM entry, exit reason {reason:#x}")
    return ParsedDump(fmt, cpu, guest, reason, notes, first)
