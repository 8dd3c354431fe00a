"""The fields of a triage row, built from what the engine already collects: the activity log's
entries, the final `StopEvent`, the checker's verdicts, the machine's serial log and VGA text.

Row fields (JSON; CSV holds the nested ones as JSON text):
  version, path, sha256, size, options, drive, outcome (ok | error | timeout | crash | memory),
  stop_reason, stop_message, icount, wall_s, final_mode,
  modes         {mode: {"icount", "cs_eip"}} -- first time in each mode (icount null: reached
                inside a stretch the activity log did not look at; see activity_gaps),
  vm86          {"entries", "exits", "complete"},
  profiles      {profile: "always enterable" | {"instruction", "cs_eip", "icount", "rules",
                 "note"}} -- the first state a VM entry under that profile would refuse,
  bios_calls    {"INT 13h AH=02h": count}, ivt_rewired [{"vector", "old", "new"}],
  memory_kib    {"before", "after", "taken"} (BDA word 0x413), sector0_writes {"count",
                "callers", "changed"}, serial, screen (80x25 text, trimmed), screen_sha256,
  prompt        the last line of the serial console (or of the screen) ends like a prompt,
  activity      {kind: count}, activity_gaps, plugins {name: [finding...]}, error.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from debugger.triage.options import ROW_VERSION, TriageOptions

__all__ = [
    "ALWAYS",
    "AT_END",
    "LOG_CAPACITY",
    "TIMING_FIELDS",
    "Snapshot",
    "base_row",
    "cs_eip",
    "fast_verdicts",
    "fill",
    "kinds_seen",
    "unenterable",
]

LOG_CAPACITY = 50_000
ALWAYS = "always enterable"
AT_END = "enterable at the start and at the end (fast: not watched in between)"
TIMING_FIELDS = ("wall_s",)
_PROMPT = re.compile(r"[>:$#?]\s*$")
_SERIAL_MAX = 64 * 1024


def cs_eip(cs: int | None, eip: int | None) -> str | None:
    if cs is None or eip is None:
        return None
    return f"{cs:04X}:{eip:04X}" if eip <= 0xFFFF else f"{cs:04X}:{eip:08X}"


def base_row(data: bytes, label: str, options: TriageOptions) -> dict[str, Any]:
    return {"version": ROW_VERSION, "path": label, "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data), "options": options.key(), "drive": None, "outcome": "ok",
            "stop_reason": None, "stop_message": "", "icount": 0, "wall_s": 0.0,
            "error": None}


@dataclass
class Snapshot:
    """What the end of the run is compared with: the IVT, the BDA memory size, sector 0."""
    ivt: bytes
    mem_kib: int
    sector0: dict[str, bytes]
    state: Any                  # the CpuState at the first instruction

    @classmethod
    def take(cls, s: Any) -> Snapshot:
        mem = s.machine.mem
        return cls(mem.read_phys(0, 0x400), int.from_bytes(mem.read_phys(0x413, 2), "little"),
                   {d.name: d.read(0, 1) for d in s.disks}, s.state())


def unenterable(st: Any, icount: int, instruction: str, verdict: Any, note: str,
                insn_address: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"instruction": instruction, "cs_eip": cs_eip(st.cs.selector, st.rip),
                         "icount": icount,
                         "rules": sorted({str(v.rule) for v in verdict.violations}),
                         "mode": st.mode.value}
    if note:
        d["note"] = note
    return d


def fast_verdicts(s: Any, options: TriageOptions, first_bad: dict[str, Any]) -> None:
    """--fast: the verdict of the last state for every profile not refused at the start."""
    st = s.state()
    for prof in options.profiles:
        if prof in first_bad:
            continue
        v = s.check(prof)
        first_bad[prof] = AT_END if v.ok else unenterable(
            st, s.icount, "", v, "the state at the end (fast: the first such state was not "
                                 "looked for)")


def _modes(initial: Any, entries: list[Any], final: Any, end_icount: int) -> dict[str, Any]:
    modes: dict[str, Any] = {initial.mode.value: {"icount": 0, "cs_eip": cs_eip(
        initial.cs.selector, initial.rip)}}
    for a in entries:
        if a.kind == "mode":
            m = a.details.get("after")
        elif a.kind == "vm86-enter":
            m = "vm86"
        elif a.kind == "gap":
            m = a.details.get("mode_after")
            if m and m not in modes:
                modes[m] = {"icount": None, "cs_eip": None,
                            "note": f"reached between icount {a.details.get('from')} and "
                                    f"{a.details.get('to')} (not logged)"}
            continue
        else:
            continue
        if m and m not in modes:
            modes[m] = {"icount": a.icount, "cs_eip": cs_eip(a.cs, a.eip)}
    if final.mode.value not in modes:
        modes[final.mode.value] = {"icount": None, "cs_eip": None,
                                   "note": f"the mode at the end (icount {end_icount}); "
                                           "where it was entered was not logged"}
    return modes


def _bios(entries: list[Any]) -> dict[str, int]:
    c: Counter[str] = Counter()
    for a in entries:
        if a.kind == "bios":
            c[f"INT {a.details['vector']:02X}h AH={a.details['ax'] >> 8:02X}h"] += 1
    return dict(sorted(c.items()))


def _sector0(entries: list[Any], before: Snapshot, s: Any) -> dict[str, Any]:
    count, callers = 0, []
    for a in entries:
        d = a.details
        if a.kind != "disk" or d.get("op") != "write" or d.get("lba") is None:
            continue
        if d.get("status") == 0 and d["lba"] <= 0 < d["lba"] + d.get("count", 0):
            count += 1
            if d.get("caller") and d["caller"] not in callers:
                callers.append(d["caller"])
    changed = sorted(dk.name for dk in s.disks if dk.read(0, 1) != before.sector0.get(dk.name))
    return {"count": count, "callers": callers, "changed": changed}


def _ivt(before: Snapshot, after: bytes) -> list[dict[str, str]]:
    out = []
    for v in range(256):
        o = int.from_bytes(before.ivt[4 * v:4 * v + 4], "little")
        n = int.from_bytes(after[4 * v:4 * v + 4], "little")
        if o != n:
            out.append({"vector": f"{v:02X}h", "old": f"{o >> 16:04X}:{o & 0xFFFF:04X}",
                        "new": f"{n >> 16:04X}:{n & 0xFFFF:04X}"})
    return out


def _text(serial: bytes) -> str:
    text = serial[-_SERIAL_MAX:].decode("latin-1")
    return text.replace("\r\n", "\n")


def _screen(s: Any) -> list[str]:
    try:
        lines = [line.rstrip() for line in s.screen()]
    except Exception:
        return []
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _prompt(serial: str, screen: list[str]) -> bool:
    for text in (serial, "\n".join(screen)):
        lines = [ln for ln in text.replace("\r", "\n").split("\n") if ln.strip()]
        if lines and _PROMPT.search(lines[-1]):
            return True
    return False


def _plugins(entries: list[Any], names: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for a in entries:
        name = a.details.get("plugin") if a.source == "machine" else None
        if name:
            f = {"kind": a.kind, "message": a.message, "icount": a.icount}
            if "what" in a.details:
                f["what"] = a.details["what"]
            out.setdefault(name, []).append(f)
    return out


def fill(row: dict[str, Any], s: Any, log: Any, ev: Any, before: Snapshot,
         first_bad: dict[str, Any], options: TriageOptions, plugins: list[str]) -> None:
    entries = log.entries
    st = s.state()
    if ev is not None:
        row["stop_reason"], row["stop_message"] = ev.kind, ev.message
    else:
        row["stop_reason"], row["stop_message"] = "budget", "instruction budget used up"
    if row["stop_reason"] == "timeout":
        row["outcome"] = "timeout"
    row["icount"] = s.icount
    row["final_mode"] = st.mode.value
    row["final_cs_eip"] = cs_eip(st.cs.selector, st.rip)
    row["modes"] = _modes(before.state, entries, st, s.icount)
    kinds = Counter(a.kind for a in entries)
    gaps = kinds.get("gap", 0)
    row["vm86"] = {"entries": kinds.get("vm86-enter", 0), "exits": kinds.get("vm86-leave", 0),
                   "complete": gaps == 0}
    row["profiles"] = {p: first_bad.get(p, ALWAYS) for p in options.profiles}
    row["bios_calls"] = _bios(entries)
    row["ivt_rewired"] = _ivt(before, s.machine.mem.read_phys(0, 0x400))
    after_kib = int.from_bytes(s.machine.mem.read_phys(0x413, 2), "little")
    row["memory_kib"] = {"before": before.mem_kib, "after": after_kib,
                         "taken": max(0, before.mem_kib - after_kib)}
    row["sector0_writes"] = _sector0(entries, before, s)
    row["serial"] = _text(s.serial)
    screen = _screen(s)
    row["screen"] = "\n".join(screen)
    row["screen_sha256"] = hashlib.sha256(row["screen"].encode("utf-8")).hexdigest()
    row["prompt"] = _prompt(row["serial"], screen)
    row["activity"] = dict(sorted(kinds.items()))
    row["activity_gaps"] = gaps
    row["plugins"] = _plugins(entries, plugins)


def kinds_seen(row: dict[str, Any]) -> set[str]:
    """Every kind that happened in the run (for --record-on)."""
    seen = set(row.get("activity") or ()) | {row.get("stop_reason") or ""}
    if any(isinstance(v, dict) for v in (row.get("profiles") or {}).values()):
        seen.add("vmx-invalid")
    return seen
