"""The JSON report of a run (`bootdbg IMAGE --json OUT`).

    {"version": 1, "image": {"path", "sha256"}, "stops": [{"kind", "icount", "cs", "eip",
     "linear", "instruction", "details", ...}], "final": {CPU state with segment caches, "mode",
     "cpl", "icount"}, "serial": "...", "debugcon": "... (port E9h)", "screen": [25 lines
     of 80], "exit_reason", "exit_code"}

Stop kinds are the stable strings of `debugger.engine.stops.STOP_KINDS`; a vmx-invalid stop's
details carry the profile and the failing rule IDs.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from debugger.engine.session import Session
    from debugger.engine.stops import StopEvent

__all__ = ["REPORT_VERSION", "build_report", "write_report", "stop_record", "file_sha256"]

REPORT_VERSION = 1


def file_sha256(path: str | Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def stop_record(ev: "StopEvent") -> dict[str, Any]:
    d = ev.to_dict()
    keep = ("kind", "icount", "cs", "eip", "linear", "instruction", "details", "message",
            "point", "instruction_address", "instruction_bytes", "changes")
    return {k: d[k] for k in keep}


def build_report(session: "Session", exit_reason: str, exit_code: int) -> dict[str, Any]:
    from debugger import __version__

    st = session.state()
    final = st.to_dict()
    final["icount"] = session.icount
    final["bits"] = st.bits
    final["linear_pc"] = st.pc
    try:
        screen = [line.ljust(80)[:80] for line in session.screen()]
    except Exception:
        screen = []
    path = session.image_path
    return {
        "version": REPORT_VERSION,
        "bootdbg": __version__,
        "image": {"path": str(path) if path else None,
                  "sha256": file_sha256(path) if path else None},
        "profile": session.profile,
        "stops": [stop_record(ev) for ev in session.stops],
        "final": final,
        "serial": session.serial.decode("latin-1"),
        "debugcon": session.debugcon.decode("latin-1"),
        "screen": screen,
        "exit_reason": exit_reason,
        "exit_code": exit_code,
    }


def write_report(path: str | Path, report: dict[str, Any]) -> None:
    text = json.dumps(report, indent=2, default=str)
    if str(path) == "-":
        import sys

        sys.stdout.write(text + "\n")
        return
    Path(path).write_text(text + "\n", encoding="utf-8")
