"""bootdbg: a debugger for x86 boot code.

The house, one way only (lower layers never import upper ones; checked by import-linter's
contracts in pyproject.toml and tests/architecture):

    cli                      the `bootdbg` command line: builds sessions, prints what they return
    triage                   many images unattended (worker processes or a Dask cluster)
    gdb | script | bench     frontends over commands: the GDB stub, the command language, bench
    commands                 one registry of REPL/script/TUI commands (`@command`)
    trace : ui : plugins     recordings and time travel; panes, context, REPL and TUI;
                             plugins (ui and plugins see the layers above only as protocols:
                             ui/commandline.py, plugins/registry.CommandTable)
    engine                   Session: points, stops, runs, expressions (returns values, never prints)
    checks | machine         VM-entry guest-state rules (pure functions of a CpuState) | the PC:
                             CPU on Unicorn, memory, devices, BIOS (which sees the machine
                             as machine/port.MachinePort and never imports its run loop)
    cpustate | images | errors | disasm   plain data, the built-in images, the one-line
                             user errors, capstone in the bitness the CPU executes

Where a newcomer adds...
- a command: a function with `@command(...)` in a module of `debugger/commands/` (found by
  iterating the package); a command that needs a frontend lives with it (`debugger/gdb/command.py`).
- a context pane: `@pane("name", order=N)` in a module of `debugger/ui/panes/` (a pure function of
  a `ContextView`); a TUI pane: `@tui_pane` in `debugger/ui/tui/panes.py`.
- a BIOS service: a module `debugger/machine/bios/services/intNN.py` with `VECTOR` and
  `handle(call)`.
- a device: a `Device` (`debugger/machine/bus.py`) in `debugger/machine/devices/`, added to
  `standard_devices()`; plugins attach theirs through `api.add_device`.
- a catch kind: its name in `CATCH_KINDS` (`debugger/engine/points.py`) and its test on a state
  change in `debugger/engine/transitions.py` (or on an event in `engine/watchers.py`); plugins
  register theirs with `api.register_catch_kind`.
- a checker profile: a `Profile` in `PROFILES` (`debugger/checks/profiles.py`), its rules as data
  in `debugger/checks/rules*.py`; plugins use `api.register_profile`.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "version_report", "slow_path_notice", "Session"]


def __getattr__(name: str) -> object:
    if name == "Session":
        from debugger.engine.session import Session

        return Session
    raise AttributeError(name)


def version_report() -> str:
    """What `bootdbg --version` prints: our version, the engine's, and which fast path is active."""
    lines = [f"bootdbg {__version__}"]
    try:
        import unicorn

        lines.append(f"unicorn {unicorn.__version__}")
    except Exception as exc:  # pragma: no cover - reported, not fatal
        lines.append(f"unicorn: not available ({exc})")
    try:
        import capstone

        lines.append(f"capstone {capstone.__version__}")
    except Exception as exc:  # pragma: no cover
        lines.append(f"capstone: not available ({exc})")
    try:
        from debugger.engine import native

        if native.available():
            lines.append("fast path: native block hook (debugger/engine/_native.c)")
        else:
            lines.append(f"fast path: pure-Python fallback ({native.why_unavailable()})")
    except Exception as exc:  # pragma: no cover
        lines.append(f"fast path: unavailable ({exc})")
    try:
        from debugger.machine import blockcount

        lines.append("instruction counting: " + (
            "per block between events (debugger/machine/_blockcount.c)" if blockcount.available()
            else f"Unicorn's count hook on every instruction ({blockcount.why_unavailable()})"))
    except Exception as exc:  # pragma: no cover
        lines.append(f"instruction counting: count hook ({exc})")
    try:
        from debugger.machine import hotports

        lines.append("port I/O: PIT, port 61h, COM1 LSR/THR and RDTSC native (debugger/machine/_hotports.c)"
                     if hotports.available() else
                     f"port I/O: Python hooks ({hotports.why_unavailable()})")
    except Exception as exc:  # pragma: no cover
        lines.append(f"port I/O: unavailable ({exc})")
    try:
        from debugger.trace import ftnative

        lines.append("full trace: native hooks (debugger/trace/_fulltrace.c)" if ftnative.available()
                     else f"full trace: pure-Python hooks ({ftnative.why_unavailable()})")
    except Exception as exc:  # pragma: no cover
        lines.append(f"full trace: unavailable ({exc})")
    return "\n".join(lines)


def slow_path_notice() -> str | None:
    """One line for stderr when the native fast path was not built (e.g. no C compiler when
    bootdbg was installed); None when it is there or BOOTDBG_NO_NATIVE turned it off."""
    import os

    if os.environ.get("BOOTDBG_NO_NATIVE"):
        return None
    try:
        from debugger.engine import native

        if native.available():
            return None
        why = native.why_unavailable()
    except Exception as exc:  # pragma: no cover - reported, not fatal
        why = str(exc)
    return (f"bootdbg: running the slow pure-Python path (native fast path: {why}). For the "
            "fast one install a C compiler (e.g. apt install gcc python3-dev) and reinstall "
            "bootdbg from its source: pip install --force-reinstall --no-deps <checkout>")
