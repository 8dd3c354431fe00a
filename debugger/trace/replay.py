"""Replaying a .bdt file: a Session re-created from the trace's disks and config, with checks.

`Replay(path)` opens the trace, rebuilds the disks (embedded ones from the file; with
--no-embed from their paths, refused if the SHA-256 differs) and the machine config, and opens
a Session on them with time travel on.  `verify()` re-executes the whole recording, applying the
recorded user edits at their icounts, and compares the state hash at every recorded checkpoint
and the serial output at the end: the record -> replay -> compare test.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from debugger.trace import format as F
from debugger.trace import schema
from debugger.trace.reader import TraceReader
from debugger.trace.timeline import DEFAULT_INTERVAL

if TYPE_CHECKING:
    from debugger.engine.session import Session

__all__ = ["Replay", "VerifyResult"]


@dataclass
class VerifyResult:
    checkpoints: int = 0
    matched: int = 0
    end_icount: int = 0
    serial_ok: bool = True
    mismatch: str | None = None
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.mismatch is None


class Replay:
    def __init__(self, path: str | Path, *, native: bool | None = None) -> None:
        from debugger.engine.session import Session
        from debugger.machine.disk import DiskError, disk_from_bytes, image_sha256
        from debugger.machine.pc import MachineConfig
        from debugger.trace.timetravel import attach

        self.reader = r = TraceReader(path)
        h = r.header
        try:
            cfg = h["config"]
            config = MachineConfig(ram_size=int(cfg["ram_size"]), boot_drive=cfg["boot_drive"],
                                   ns_per_insn=int(cfg["ns_per_insn"]),
                                   serial_input=bytes.fromhex(cfg["serial_input"]),
                                   keys=str(cfg["keys"]))
            disk_specs = list(h["disks"])
            self.interval = int(h.get("interval", DEFAULT_INTERVAL))
        except (KeyError, TypeError, ValueError):
            raise F.TraceError(f"{path}: the trace header lacks the machine config") from None
        embedded = r.disks()
        disks = []
        for i, spec in enumerate(disk_specs):
            name, kind = str(spec.get("name")), str(spec.get("kind"))
            if spec.get("embedded"):
                data = embedded.get(name)
                if data is None or len(data) != spec.get("size"):
                    raise F.TraceError(f"{path}: disk {name} is not (completely) in the file"
                                       + (f" ({r.damage})" if r.damage else ""))
            else:
                data = _disk_from_path(path, spec)
            if image_sha256(data) != spec.get("sha256"):
                raise F.TraceError(f"{path}: disk {name}: SHA-256 differs from the recording")
            try:
                disks.append(disk_from_bytes(data, str(spec.get("path") or name), name, kind,
                                             boot=False))
            except DiskError as exc:
                raise F.TraceError(str(exc)) from None
        self.session: "Session" = Session(disks=disks, config=config,
                                          profile=str(h.get("profile", "vmx")), native=native)
        self.session.symbols.load_json(h.get("symbols") or [])   # names travel with the run
        self.tt = attach(self.session, interval=self.interval)
        self.inputs = self._line()
        self.end = r.end()

    def _line(self) -> list[tuple[int, int, str, Any]]:
        """(icount, seq, "input"|"checkpoint", payload) on the recorded line, in order."""
        r = self.reader
        items: list[tuple[int, int, str, Any]] = []
        for e in r.entries:
            if e.ctype == F.INPUT:
                for inp in schema.inputs(r.path, e.seq, r.read_json(e)):
                    # An edit makes every checkpoint written before it for a later icount
                    # part of an abandoned future.
                    items = [it for it in items if not (it[2] == "checkpoint"
                                                        and it[0] > inp["icount"])]
                    items.append((inp["icount"], e.seq, "input", inp))
            elif e.ctype == F.CHECKPOINT:
                meta, _ = r.checkpoint_meta(e)
                if meta.get("number") is None and meta.get("seq") == 0:
                    items.append((int(meta.get("icount", 0)), e.seq, "checkpoint", meta))
        items.sort(key=lambda it: (it[0], it[1]))
        return items

    def apply_input(self, inp: dict[str, Any]) -> None:
        from debugger.cpustate import CpuState

        m = self.session.machine
        if inp.get("kind") == "state":
            m.set_state(CpuState.from_dict(inp["state"]))
        elif inp.get("kind") == "memory":
            data = bytes.fromhex(inp["data"])
            if inp.get("space") == "physical":
                m.mem.write_phys(int(inp["address"]), data)
            else:
                m.mem.write_linear(int(inp["address"]), data)
        else:
            raise F.TraceError(f"unknown input kind {inp.get('kind')!r} in the trace")

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyResult:
        """Re-execute from the start; compare every checkpoint's state hash and the serial."""
        tt, m = self.tt, self.session.machine
        res = VerifyResult()
        if m.icount != 0:
            tt.goto(0)
        for icount, _seq, kind, payload in self.inputs:
            why = tt._replay_to(icount)
            if why is not None:
                res.mismatch = (f"the replay stopped at icount {m.icount} ({why}) before "
                                f"icount {icount}")
                return res
            if kind == "input":
                self.apply_input(payload)
                tt.tl.forget_after(m.icount)
                continue
            res.checkpoints += 1
            h = tt.tl.take().state_hash
            if h != payload.get("state_hash"):
                res.mismatch = f"state differs from the recording at icount {icount}"
                return res
            res.matched += 1
            if progress:
                progress(icount)
        if self.end is not None:
            target = int(self.end.get("icount", 0))
            why = tt._replay_to(target)
            res.end_icount = m.icount
            if m.icount != target:
                res.mismatch = f"the replay ended at icount {m.icount}, the recording at {target}"
                return res
            if bytes(m.serial_out).hex() != self.end.get("serial"):
                res.serial_ok = False
                res.mismatch = "serial output differs from the recording"
                return res
        else:
            res.details.append("the recording has no end record (cut short)")
        return res


def _disk_from_path(trace: str | Path, spec: dict[str, Any]) -> Any:
    from debugger.machine.disk import ImageFile
    from debugger.userfile import UserFileError, open_image

    p = spec.get("path")
    if not p:
        raise F.TraceError(f"{trace}: disk {spec.get('name')} is neither embedded nor has a path")
    try:
        fd, size = open_image(str(p))
    except UserFileError as exc:
        raise F.TraceError(f"{trace}: disk {spec.get('name')}: {exc}") from None
    return ImageFile(fd, size, str(p))
