"""Writing a recording's instruction stream as text: Tenet traces and JSON lines.

Tenet (the IDA Pro trace explorer, github.com/gaasedelen/tenet) reads one line per instruction:
`name=0xvalue` items separated by commas -- the registers that changed since the previous line,
the instruction pointer of the instruction about to execute, and `mr=ADDR:HEX` / `mw=ADDR:HEX`
for the memory the previous instruction read and wrote (as Tenet's own tracers write them).  The
first line carries every register.  Here:

- `eip` (or `rip`) is the *linear* address CS.base + EIP, the address a disassembler database of
  boot code uses; the registers are EAX..EDI (`arch="x86"`) or RAX..R15 (`arch="amd64"`);
- memory addresses are physical (Unicorn reports them so; equal to linear with paging off);
- the last line is the state after the last instruction, so its effects are not lost;
- `extras=True` adds `cs_base`, `ss_base`, `ds_base`, `es_base`, `fs_base`, `gs_base` and `mode`
  (on the first line and whenever they change).  Stock Tenet refuses any name it does not know
  (the whole segment of the trace fails to load), so they are off by default.

JSON lines: a `start` object with the full state, one `insn` object per instruction (icount,
cs, eip, linear, mode, bits, bytes, disasm, `changed` {field: [old, new]} with the flat field
names of `fields` -- segment caches included -- and `writes` [{address, old, new}]), an `event`
object for state changes that execute no instruction (a BIOS service, an interrupt delivered),
and an `end` object with the reason and the final state.
"""
from __future__ import annotations

import json
from typing import TextIO

from debugger.cpustate import CpuState
from debugger.trace.fields import changed, flatten
from debugger.trace.istream import End, Event, InstructionStream, Step

__all__ = ["export_tenet", "export_jsonl", "TENET_REGISTERS"]

TENET_REGISTERS = {
    "x86": (("eax", "rax"), ("ebx", "rbx"), ("ecx", "rcx"), ("edx", "rdx"), ("ebp", "rbp"),
            ("esp", "rsp"), ("esi", "rsi"), ("edi", "rdi")),
    "amd64": tuple((n, n) for n in ("rax", "rbx", "rcx", "rdx", "rbp", "rsp", "rsi", "rdi",
                                   "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")),
}
_BASES = ("cs", "ss", "ds", "es", "fs", "gs")


def _tenet_values(st: CpuState, arch: str, extras: bool) -> dict[str, str]:
    mask = 0xFFFFFFFF if arch == "x86" else (1 << 64) - 1
    out = {name: f"{getattr(st, field) & mask:#x}" for name, field in TENET_REGISTERS[arch]}
    if extras:
        for s in _BASES:
            out[f"{s}_base"] = f"{getattr(st, s).base:#x}"
        out["mode"] = st.mode.value
    return out


def export_tenet(stream: InstructionStream, out: TextIO, start: int = 0,
                 stop: int | None = None, *, arch: str = "x86", extras: bool = False) -> int:
    """Write the Tenet trace of icounts [start, stop); returns the number of lines."""
    ip = "eip" if arch == "x86" else "rip"
    mask = 0xFFFFFFFF if arch == "x86" else (1 << 64) - 1
    prev: dict[str, str] | None = None
    mem: list[str] = []
    lines = 0

    def line(st: CpuState) -> None:
        nonlocal prev, lines
        vals = _tenet_values(st, arch, extras)
        items = [f"{k}={v}" for k, v in vals.items() if prev is None or prev.get(k) != v]
        items.append(f"{ip}={st.pc & mask:#x}")
        items.extend(mem)
        out.write(",".join(items) + "\n")
        prev = vals
        mem.clear()
        lines += 1

    for it in stream.items(start, stop):
        if isinstance(it, Step):
            line(it.before)
            mem.extend(f"mr={a:#x}:{data.hex()}" for a, data in it.reads)
            mem.extend(f"mw={a:#x}:{new.hex()}" for a, _old, new in it.writes)
        elif isinstance(it, Event):
            mem.extend(f"mw={a:#x}:{new.hex()}" for a, _old, new in it.writes)
        elif isinstance(it, End) and (lines or mem):
            line(it.state)
    return lines


def export_jsonl(stream: InstructionStream, out: TextIO, start: int = 0,
                 stop: int | None = None) -> int:
    """Write the JSON lines of icounts [start, stop); returns the number of instructions."""
    n = 0
    first = True

    def emit(obj: dict) -> None:
        out.write(json.dumps(obj, separators=(",", ":")) + "\n")

    for it in stream.items(start, stop):
        if first:
            st0 = it.state if isinstance(it, End) else it.before
            emit({"type": "start", "trace": str(stream.path), "icount": it.icount,
                  "state": st0.to_dict()})
            first = False
        if isinstance(it, Step):
            st = it.before
            emit({"type": "insn", "icount": it.icount, "cs": st.cs.selector, "eip": st.rip,
                  "linear": st.pc, "mode": st.mode.value, "bits": st.bits,
                  "bytes": it.code.hex(), "disasm": it.text,
                  "changed": _changes(it.before, it.after),
                  "writes": _writes(it.writes)})
            n += 1
        elif isinstance(it, Event):
            emit({"type": "event", "icount": it.icount, "kind": it.kind,
                  "message": it.message, "changed": _changes(it.before, it.after),
                  "writes": _writes(it.writes)})
        else:
            emit({"type": "end", "icount": it.icount, "reason": it.reason,
                  "message": it.message, "state": it.state.to_dict()})
    return n


def _writes(ws: list[tuple[int, bytes | None, bytes]]) -> list[dict]:
    return [{"address": a, "old": None if old is None else old.hex(), "new": new.hex()}
            for a, old, new in ws]


def _changes(before: CpuState, after: CpuState) -> dict[str, list[int]]:
    return {k: [old, new] for k, (old, new) in changed(flatten(before), flatten(after)).items()}
