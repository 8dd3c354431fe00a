"""Triage one image in this process: boot it under a `Session` with the activity log on and
one `vmx-invalid` catchpoint per profile, and build its row.

Where each field comes from (nothing here watches the guest on its own):
- stop reason, icount: the `StopEvent` of the last `Session.cont`;
- modes reached, vm86 entries/exits, BIOS calls, sector-0 writes, plugin findings: the
  activity log (`debugger.engine.activity`), see `debugger.triage.fields`;
- first un-enterable state per profile: the verdict of the initial state (`Session.check`),
  then a `catch vmx-invalid PROFILE` catchpoint, deleted when it first fires;
- IVT vectors rewired and memory taken via 0x413: the IVT and the BDA word compared between the
  first instruction and the end (the `bootkit` plugin tells who wrote them, `--plugin bootkit`);
- serial and screen text: the machine's serial log and VGA text (as `bootdbg run` prints them).

`fast`: watching transitions exactly (the activity log's and the catchpoints') makes a guest
that switches modes often run many times slower (SYSLINUX: ~20x); a fast triage turns it off,
so modes reached and the profiles' verdicts are those of the first and the last state only
(each such field says so).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from debugger.triage import fields
from debugger.triage.options import TriageOptions

__all__ = ["triage_bytes", "triage_path"]

# Ending kinds of a run: anything else is a stop at one of our catchpoints.
_ENDS = ("budget", "interrupt", "timeout")


def triage_path(path: str | Path, options: TriageOptions, label: str | None = None
                ) -> dict[str, Any]:
    data = Path(path).read_bytes()
    return triage_bytes(data, label or str(path), options)


def triage_bytes(data: bytes, label: str, options: TriageOptions) -> dict[str, Any]:
    """The row of the image `data` (shown as `label`); errors that prevent a run end up in
    the row's `error` field."""
    row = fields.base_row(data, label, options)
    t0 = time.perf_counter()
    try:
        _run(row, data, label, options, t0)
    except _ImageError as exc:
        row["outcome"] = "error"
        row["error"] = str(exc)
    except MemoryError:
        row["outcome"] = "memory"
        row["error"] = f"out of memory (limit {options.memory_mb} MiB of address space)"
    row["wall_s"] = round(time.perf_counter() - t0, 3)
    return row


class _ImageError(Exception):
    pass


def _open(data: bytes, label: str, options: TriageOptions) -> Any:
    from debugger.engine.session import Session
    from debugger.machine.disk import DiskError, disk_from_bytes
    from debugger.machine.pc import MachineConfig

    try:
        disk = disk_from_bytes(data, label, boot=True)
    except DiskError as exc:
        raise _ImageError(str(exc)) from None
    try:
        cfg = MachineConfig(ram_size=options.ram_mb << 20, boot_drive=disk.bios_number)
        return Session(disks=[disk], config=cfg)
    except MemoryError:
        raise
    except Exception as exc:       # Unicorn refusing to map (UC_ERR_NOMEM under RLIMIT_AS)
        if "NOMEM" in str(exc).upper() or "memory" in str(exc).lower():
            raise MemoryError(str(exc)) from None
        raise _ImageError(f"cannot start the machine: {exc}") from None


def _run(row: dict[str, Any], data: bytes, label: str, options: TriageOptions, t0: float
         ) -> None:
    from debugger.engine.activity import ActivityLog

    s = _open(data, label, options)
    row["drive"] = s.disks[0].kind
    log = ActivityLog(s, budget=options.activity_budget, capacity=fields.LOG_CAPACITY)
    log.install()
    s.activity = log                          # type: ignore[attr-defined]
    before = fields.Snapshot.take(s)
    first_bad: dict[str, Any] = {}
    for prof in options.profiles:             # the state at 0000:7C00 may already be refused
        v = s.check(prof)
        if not v.ok:
            first_bad[prof] = fields.unenterable(s.state(), s.icount, "", v, "initial state")
    if options.fast:
        log.transitions = False
    catches = {prof: s.catch("vmx-invalid", prof) for prof in options.profiles
               if prof not in first_bad and not options.fast}
    recorder = _start_recording(s, options, row)
    plugins = _load_plugins(s, options, row)

    def on_vmx_stop(ev: Any) -> None:
        """A vmx-invalid stop names one catchpoint; any other profile still watched that
        refuses this state became un-enterable at the same instruction (it was enterable
        until now, or its own catchpoint would have stopped earlier)."""
        if ev.kind != "vmx-invalid" or ev.point is None:
            return
        for prof in list(catches):
            v = s.check(prof)
            if not v.ok:
                first_bad[prof] = fields.unenterable(s.state(), ev.icount, ev.instruction, v,
                                                     "")
                s.delete(catches.pop(prof).number)

    if options.script:            # its runs stop at the catchpoints too: they are recorded
        s.on_stop.append(on_vmx_stop)
        try:
            row["script_output"] = _run_script(s, options, t0)
        finally:
            s.on_stop.remove(on_vmx_stop)
    ev = None
    while True:
        left = options.max_insns - s.icount
        if left <= 0:
            break
        remaining = options.timeout - (time.perf_counter() - t0)
        ev = s.cont(max_insns=left, timeout=max(0.05, remaining))
        if ev.kind == "vmx-invalid" and ev.point is not None:
            on_vmx_stop(ev)
            continue
        if ev.final or ev.kind in _ENDS:
            break
    for cp in catches.values():
        s.delete(cp.number)
    if options.fast:
        fields.fast_verdicts(s, options, first_bad)
    fields.fill(row, s, log, ev, before, first_bad, options, plugins)
    if recorder is not None:
        _finish_recording(recorder, row, options)


def _load_plugins(s: Any, options: TriageOptions, row: dict[str, Any]) -> list[str]:
    if not options.plugins:
        return []
    from debugger.plugins import manager_for
    from debugger.plugins.config import ConfigError, parse_spec
    from debugger.plugins.manager import PluginError

    mgr = manager_for(s)
    errors: list[str] = []
    mgr.output = lambda *a: None
    mgr.error = errors.append
    names = []
    for spec in options.plugins:
        try:
            name, opts = parse_spec(spec)
            names.append(mgr.load(name, opts).name)
        except (ConfigError, PluginError) as exc:
            errors.append(str(exc))
    if errors:
        row["plugin_errors"] = errors
    return names


def _run_script(s: Any, options: TriageOptions, t0: float) -> str:
    """-x SCRIPT in batch mode (as `bootdbg IMAGE -x SCRIPT --batch`); its output is kept."""
    import io

    from debugger.commands.context import CommandContext
    from debugger.script.interpreter import Interpreter, ScriptError, SessionOver
    from debugger.ui.theme import make_console

    buf = io.StringIO()
    console = make_console(buf, width=100, force_terminal=False)
    ctx = CommandContext(s, console, batch=True, err_console=console)
    ctx.budget = options.max_insns
    interp = Interpreter(ctx)
    lines = [(line, (options.script_name or "script", n))
             for n, line in enumerate(options.script.splitlines(), 1)]
    try:
        interp.run_lines(lines)
    except SessionOver:
        pass
    except ScriptError as exc:
        ctx.error(str(exc))
    return buf.getvalue()[-20000:]


def _start_recording(s: Any, options: TriageOptions, row: dict[str, Any]) -> Any:
    if not options.record_on:
        return None
    from debugger.trace.recorder import Recorder

    folder = Path(options.record_dir or ".")
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{row['sha256'][:16]}.bdt.part"
    return Recorder(s, str(part), embed=True), part


def _finish_recording(rec: Any, row: dict[str, Any], options: TriageOptions) -> None:
    recorder, part = rec
    recorder.close(row.get("stop_reason") or "end", "")
    if options.record_on in fields.kinds_seen(row):
        final = part.with_suffix("")              # <sha16>.bdt
        part.replace(final)
        row["recording"] = str(final)
    else:
        part.unlink(missing_ok=True)
