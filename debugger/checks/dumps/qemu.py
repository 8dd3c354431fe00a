"""QEMU `info registers` / `-d cpu` register dumps (x86_cpu_dump_state), 32- and 64-bit.

A record starts at the `EAX=`/`RAX=` line.  Segment lines are `ES =sel base limit flags`, where
flags is the descriptor's high dword: AR = (flags >> 8) & 0xF0FF, and a segment whose flags lack
P is marked unusable (AR bit 16), as KVM's vmx_segment_access_rights does.  `II=1` (interrupt
shadow) becomes STI blocking when IF=1 and MOV-SS blocking when IF=0 (STI blocking requires
IF=1); `HLT=1` becomes the HLT activity state.  A log with several records is judged on its
last complete one.
"""
from __future__ import annotations

import re

from debugger.checks.dumps._text import Line
from debugger.checks.dumps.errors import DumpError, ParsedDump
from debugger.cpustate import (
    AR_UNUSABLE, INTR_MOVSS, INTR_STI, RF_IF, Activity, CpuState, DescriptorTable, Segment)

__all__ = ["parse_qemu", "parse_record", "qemu_ar", "RECORD_START", "REQUIRED"]

RECORD_START = re.compile(r"^(?:EAX|RAX)=[0-9a-f]+\s")
_REG = re.compile(r"\b(E?[A-Z]{2}|R[A-Z0-9]{1,2}|EFL|RFL|CPL|II|A20|SMM|HLT)\s*=([0-9a-f]+)\b")
_SEG = re.compile(r"^(ES|CS|SS|DS|FS|GS|LDT|TR)\s*=\s*([0-9a-f]{4})\s+([0-9a-f]{8,16})\s+"
                  r"([0-9a-f]{8})\s+([0-9a-f]{8})\b")
_SEG_KEY = re.compile(r"^(ES|CS|SS|DS|FS|GS|LDT|TR)\s*=")
_DT = re.compile(r"^(GDT|IDT)\s*=\s*([0-9a-f]{8,16})\s+([0-9a-f]{8})\b")
_CR = re.compile(r"\b(CR[0234]|DR[0-7]|EFER)=([0-9a-f]+)\b")
_GPR32 = {"EAX": "rax", "EBX": "rbx", "ECX": "rcx", "EDX": "rdx", "ESI": "rsi", "EDI": "rdi",
          "EBP": "rbp", "ESP": "rsp", "EIP": "rip"}
_GPR64 = {n: n.lower() for n in ("RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "RIP")}
_GPR64.update({f"R{i}": f"r{i}" for i in range(8, 16)})
_SEGNAME = {"LDT": "ldtr", "TR": "tr"}
# DR4/DR5 are the architectural aliases of DR6/DR7 (CR4.DE=0): used only when DR6/DR7 are absent.
_ALIASES = {"dr4": "dr6", "dr5": "dr7"}
_FIELDS = frozenset(CpuState.__dataclass_fields__)
REQUIRED = ("es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr", "gdtr", "idtr", "cr0", "rip",
            "rflags")


def qemu_ar(flags: int) -> int:
    ar = (flags >> 8) & 0xF0FF
    return ar if ar & 0x80 else ar | AR_UNUSABLE


def _records(lines: list[Line]) -> list[list[Line]]:
    recs: list[list[Line]] = []
    for ln in lines:
        t = ln.text.strip()
        if RECORD_START.match(t):
            recs.append([ln])
        elif recs:
            recs[-1].append(ln)
    return recs


def parse_record(rec: list[Line]) -> tuple[dict[str, object], Line]:
    """CpuState keyword arguments from one record's lines (those it holds) and its last line."""
    kw: dict[str, object] = {}
    extra: dict[str, int] = {}
    aliases: dict[str, int] = {}
    for ln in rec:
        t = ln.text.strip()
        if _SEG_KEY.match(t):
            m = _SEG.match(t)
            if not m:
                raise DumpError("malformed QEMU segment line", ln.no, ln.raw)
            name, sel, base, lim, flags = m.groups()
            kw[_SEGNAME.get(name, name.lower())] = Segment(
                int(sel, 16), int(base, 16), int(lim, 16), qemu_ar(int(flags, 16)))
            continue
        m = _DT.match(t)
        if m:
            kw[m.group(1).lower() + "r"] = DescriptorTable(int(m.group(2), 16), int(m.group(3), 16))
            continue
        if re.match(r"^(?:GDT|IDT)\s*=", t):
            raise DumpError("malformed QEMU descriptor-table line", ln.no, ln.raw)
        for k, v in _CR.findall(t):
            k = k.lower()
            if k in _ALIASES:
                aliases[_ALIASES[k]] = int(v, 16)
            else:
                kw[k] = int(v, 16)
        if re.match(r"^(?:[ER]AX|[ER]SI|R8|R12|[ER]IP)\s*=", t):
            for k, v in _REG.findall(t):
                if k in _GPR64 or k in _GPR32:
                    kw[(_GPR64 | _GPR32)[k]] = int(v, 16)
                elif k in ("EFL", "RFL"):
                    kw["rflags"] = int(v, 16)
                else:
                    extra[k] = int(v, 16)
    for k, v in aliases.items():
        kw.setdefault(k, v)
    assert set(kw) <= _FIELDS, set(kw) - _FIELDS
    if "rflags" in kw and extra.get("II"):
        flags = int(kw["rflags"])  # type: ignore[call-overload]
        kw["interruptibility"] = INTR_STI if flags & RF_IF else INTR_MOVSS
    if extra.get("HLT"):
        kw["activity"] = Activity.HLT
    if "A20" in extra:
        kw["a20"] = bool(extra["A20"])
    return kw, rec[-1]


def parse_qemu(lines: list[Line]) -> ParsedDump:
    recs = _records(lines)
    if not recs:
        raise DumpError("no QEMU register dump found (no 'EAX=' or 'RAX=' line)")
    last_err: DumpError | None = None
    for i in range(len(recs) - 1, -1, -1):
        try:
            kw, last = parse_record(recs[i])
        except DumpError as exc:
            last_err = last_err or exc
            continue
        missing = [n for n in REQUIRED if n not in kw]
        if missing:
            last_err = last_err or DumpError(
                "incomplete QEMU register dump (truncated?): no " + ", ".join(
                    n.upper() for n in missing), last.no, last.raw)
            continue
        fmt = "qemu"
        notes = []
        if len(recs) > 1:
            notes.append(f"{len(recs)} register records in the log; judged record {i + 1} "
                         f"(line {recs[i][0].no})")
        if last_err is not None and i < len(recs) - 1:
            notes.append(f"the later record{'s' if len(recs) - 1 - i > 1 else ''} could not be "
                         f"read: {last_err}")
        try:
            cpu = CpuState(**kw)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise DumpError(f"unusable QEMU register dump: {exc}", recs[i][0].no,
                            recs[i][0].raw) from None
        return ParsedDump(fmt, cpu, None, None, notes, recs[i][0].no)
    assert last_err is not None
    raise last_err
