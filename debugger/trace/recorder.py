"""Recording a Session into a .bdt file while it runs (time travel on).

Everything a run depends on goes into the file: the machine config (RAM, boot drive, clock
rate, the serial input and keystrokes queued for the guest), the disks (embedded and compressed,
or only path + SHA-256), the user's edits of the state (register and memory writes, at their
icount), and the timeline's checkpoints (CPU state with hidden caches, RAM page deltas, a state
hash).  Devices and the TSC derive their time from the instruction count, so nothing else is
needed to re-create the run.  With `full=True` the file also gets the per-instruction trace
(TRACE chunks, `ftrecord.FullRecorder`).
"""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from debugger.trace import format as F
from debugger.trace.timeline import DEFAULT_INTERVAL
from debugger.trace.timetravel import attach
from debugger.trace.writer import TraceWriter

if TYPE_CHECKING:
    from debugger.engine.session import Session
    from debugger.trace.timeline import Point

__all__ = ["Recorder", "header_for"]

DISK_PIECE = 1 << 20


def header_for(s: "Session", *, embed: bool, interval: int, full: bool = False
               ) -> dict[str, Any]:
    import unicorn

    from debugger import __version__

    cfg = s.machine.config
    return {
        "format": F.VERSION, "bootdbg": __version__, "unicorn": unicorn.__version__,
        "config": {"ram_size": cfg.ram_size, "boot_drive": cfg.boot_drive,
                   "ns_per_insn": cfg.ns_per_insn, "serial_input": cfg.serial_input.hex(),
                   "keys": cfg.keys},
        "disks": [{"name": d.name, "kind": d.kind, "path": d.path, "sha256": d.sha256,
                   "size": len(d.data), "embedded": embed} for d in s.disks],
        "interval": interval, "full": full, "profile": s.profile,
        "symbols": s.symbols.to_json() if getattr(s, "symbols", None) else [],
    }


class Recorder:
    def __init__(self, s: "Session", path: str | Path, *, embed: bool = True,
                 interval: int = DEFAULT_INTERVAL, budget: int = 512 << 20, full: bool = False,
                 native: bool | None = None, compress_trace: bool = False) -> None:
        self.s = s
        self.tt = attach(s, interval=interval, budget=budget)
        self.w = TraceWriter(path)
        self.w.json_chunk(F.HEADER, header_for(s, embed=embed, interval=self.tt.tl.interval,
                                               full=full))
        if embed:
            for d in s.disks:
                name = d.name.encode()
                for off in range(0, len(d.data), DISK_PIECE):
                    self.w.chunk(F.DISK, len(name).to_bytes(2, "little") + name
                                 + d.data[off:off + DISK_PIECE])
        self._edits_seen = len(self.tt.edits)
        self.checkpoints = 0
        self.start_icount = s.icount
        self.max_icount = s.icount
        for key in list(self.tt.tl.keys):      # points taken before recording began
            pt = self.tt.tl.points[key]
            self._on_point(pt, {p: self.tt.tl.page_at(p, key) for p in pt.pages})
        self.tt.tl.listeners.append(self._on_point)
        self.tt.edit_listeners.append(self._on_edit)
        self.full = None
        if full:     # the per-instruction trace (fulltrace.py), from here on
            from debugger.trace.ftrecord import FullRecorder

            self.full = FullRecorder(s.machine, self.w, native=native, compress=compress_trace)
            # Record the instruction that led to where the user stands before going elsewhere.
            self.tt.tl.restore_listeners.append(self.full.sync)

    def _on_point(self, pt: "Point", delta: dict[int, bytes]) -> None:
        pages = sorted(delta)
        cpu = bytes(pt.cpu)
        meta = {"icount": pt.key[0], "seq": pt.key[1], "clock": pt.clock,
                "state_hash": pt.state_hash, "serial_len": pt.serial_len,
                "events_total": pt.events_total, "activity": int(pt.activity),
                "number": pt.number, "state": _state_dict(self.s, pt),
                "pages": pages, "cpu_len": len(cpu)}
        mj = json.dumps(meta, separators=(",", ":")).encode()
        body = b"".join(delta[p] for p in pages)
        self.w.chunk(F.CHECKPOINT, struct.pack("<I", len(mj)) + mj + cpu + body, pt.key[0])
        self.checkpoints += 1
        self.max_icount = max(self.max_icount, pt.key[0])

    def _on_edit(self, edit: dict[str, Any]) -> None:
        if self.full is not None:
            self.full.edited(edit["icount"])
        item = dict(edit)
        if "state" in item:
            item["state"] = item["state"].to_dict()
        if "data" in item:
            item["data"] = item["data"].hex()
        self.w.json_chunk(F.INPUT, [item], item["icount"])

    def close(self, reason: str = "", message: str = "") -> dict[str, Any]:
        m = self.s.machine
        self.tt.tl.listeners.remove(self._on_point)
        self.tt.edit_listeners.remove(self._on_edit)
        full = None
        if self.full is not None:
            self.tt.tl.restore_listeners.remove(self.full.sync)
            full = self.full.close()
        pt = self.tt.tl.take()     # the end state, hashed like every checkpoint
        self._on_point(pt, {p: self.tt.tl.page_at(p, pt.key) for p in pt.pages})
        end = {"icount": m.icount, "seq": pt.key[1], "reason": reason, "message": message,
               "serial": bytes(m.serial_out).hex(), "state_hash": pt.state_hash}
        self.w.json_chunk(F.END, end, m.icount)
        self.w.close()
        return {"instructions": m.icount - self.start_icount, "checkpoints": self.checkpoints,
                "bytes": self.w.bytes_written + F.TRAILER.size, "full": full}


def _state_dict(s: "Session", pt: "Point") -> dict[str, Any]:
    # The point was taken at the current position (listeners run inside `take`).
    return s.machine.state().to_dict()
