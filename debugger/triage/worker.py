"""One image per worker process: the isolation of a triage run.

`run_isolated(job)` starts `python -m debugger.triage` (this module's `main`), hands it the job on stdin and
reads the row from its stdout.  The child limits its own address space (RLIMIT_AS) before it
imports the engine, runs in its own session (Ctrl-C at the terminal does not reach it, so rows in
flight finish), and is killed when it overruns the per-image timeout (the engine's own wall-time
budget stops a run cooperatively first; the kill is for a child that stops answering).  Whatever
happens to the child -- killed, crashed, out of memory -- the caller gets a row that says so.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["KILL_GRACE", "error_row", "run_isolated"]

KILL_GRACE = 15.0          # seconds past the per-image timeout before the child is killed
_ROOT = str(Path(__file__).resolve().parents[2])


def error_row(path: str, sha256: str | None, size: int | None, options: dict[str, Any],
              outcome: str, error: str, wall: float = 0.0) -> dict[str, Any]:
    from debugger.triage.options import ROW_VERSION, TriageOptions

    return {"version": ROW_VERSION, "path": path, "sha256": sha256, "size": size,
            "options": TriageOptions.from_dict(options).key(), "drive": None,
            "outcome": outcome, "stop_reason": None, "stop_message": "", "icount": 0,
            "wall_s": round(wall, 3), "error": error}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = _ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                 else "")
    env.pop("PYTHONSTARTUP", None)
    return env


def run_isolated(job: dict[str, Any]) -> dict[str, Any]:
    """job: {"file": path to read, "label": path shown in the row, "sha256", "size",
    "options": TriageOptions.to_dict()}."""
    import time

    opts = job["options"]
    timeout = float(opts.get("timeout") or 0) + float(opts.get("kill_grace", KILL_GRACE))
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "debugger.triage"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_env(), start_new_session=True)
    except OSError as exc:
        return error_row(job["label"], job.get("sha256"), job.get("size"), opts, "error",
                         f"cannot start a worker: {exc}")
    try:
        out, err = proc.communicate(json.dumps(job).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return error_row(job["label"], job.get("sha256"), job.get("size"), opts, "timeout",
                         f"killed: no answer {timeout:.0f} s after the start "
                         f"(--timeout {opts.get('timeout')})", time.perf_counter() - t0)
    wall = time.perf_counter() - t0
    text = out.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode == 0 and text:
        try:
            return json.loads(text[-1])
        except ValueError:
            pass
    return error_row(job["label"], job.get("sha256"), job.get("size"), opts,
                     *_diagnose(proc.returncode, err.decode("utf-8", "replace"), opts), wall)


def _diagnose(code: int, stderr: str, opts: dict[str, Any]) -> tuple[str, str]:
    tail = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    last = tail[-1].strip() if tail else ""
    if any(s in stderr for s in ("MemoryError", "Cannot allocate memory", "NOMEM",
                                 "Could not allocate")):
        return "memory", (f"out of memory (limit {opts.get('memory_mb')} MiB of address "
                          f"space): {last[:200]}")
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return "crash", f"worker died of {name}" + (f": {last[:200]}" if last else "")
    return "crash", f"worker exited with code {code}" + (f": {last[:200]}" if last else "")


def _limit_memory(mb: int) -> None:
    import resource

    lim = mb << 20
    try:
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def main() -> int:
    job = json.loads(sys.stdin.read())
    opts = job["options"]
    _limit_memory(int(opts.get("memory_mb") or 0) or 1 << 20)
    from debugger.triage.options import TriageOptions
    from debugger.triage.probe import triage_path

    row = triage_path(job["file"], TriageOptions.from_dict(opts), label=job["label"])
    sys.stdout.write(json.dumps(row, default=str) + "\n")
    sys.stdout.flush()
    return 0

