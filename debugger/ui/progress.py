"""A progress line for long runs: instructions, MIPS and the current mode, redrawn four times a
second on a terminal once a run has lasted a second, and erased when it stops.  Nothing at all
when the stream is not a terminal.

    with RunProgress(machine, sys.stderr) as p:
        machine.run(...)              # guest output: p.output(text, sys.stdout)

The count is `Machine.icount`, which moves at the end of each engine slice (a progress line must
not slow the run down: counting inside a slice would turn the block-counting fast path off).
The mode is read from the CPU's registers between redraws.  Guest output (the serial console of
`bootdbg run`) shares the terminal: `output()` erases the line first, and it is drawn again only
at the start of a line, so the guest's text is never overwritten.
`BOOTDBG_PROGRESS_DELAY` (seconds, default 1) changes when the line first appears.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from debugger.machine.pc import Machine

__all__ = ["RunProgress", "mode_name", "real_tty"]

CLEAR = "\r\x1b[K"


def mode_name(machine: "Machine") -> str:
    cpu = machine.cpu
    cr0, efer, fl = cpu.cr(0), cpu.efer, cpu.eflags
    cs = cpu.seg("cs")
    if not cr0 & 1:
        mode = "real"
    elif efer & 0x400 and cr0 & 0x80000000:
        mode = "long" if cs.l else "compat"
    elif fl & 0x20000:
        mode = "vm86"
    else:
        mode = "pm32" if cs.db else "pm16"
    return mode + (", paging" if cr0 & 0x80000000 else "")


def real_tty(stream: Any) -> bool:
    """Is `stream` a terminal (by its file descriptor: the TUI's output pane claims isatty)?"""
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False


class RunProgress:
    def __init__(self, machine: "Machine", stream: IO[str], *, delay: float | None = None,
                 interval: float | None = 0.25, enabled: bool | None = None) -> None:
        self.m = machine
        self.stream = stream
        if delay is None:
            try:
                delay = float(os.environ.get("BOOTDBG_PROGRESS_DELAY", "1"))
            except ValueError:
                delay = 1.0
        self.delay = delay
        self.interval = interval
        self.enabled = real_tty(stream) if enabled is None else enabled
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = False
        self._line_start = True
        self._start_icount = 0
        self._t0 = 0.0

    def __enter__(self) -> "RunProgress":
        if not self.enabled:
            return self
        self._start_icount = self.m.icount
        self._t0 = time.monotonic()
        if self.delay <= 0:
            self.tick()
        if self.interval is not None:
            self._thread = threading.Thread(target=self._loop, daemon=True,
                                            name="bootdbg-progress")
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._erase()

    def _loop(self) -> None:
        if self._done.wait(max(0.0, self.delay)):
            return
        while not self._done.is_set():
            self.tick()
            if self._done.wait(self.interval or 0.25):
                return

    def text(self) -> str:
        n = self.m.icount - self._start_icount
        secs = max(time.monotonic() - self._t0, 1e-6)
        try:
            mode = mode_name(self.m)
        except Exception:
            mode = "?"
        return f"running: {n:,} instructions, {n / secs / 1e6:.1f} MIPS, {mode} (Ctrl-C stops)"

    def tick(self) -> None:
        """Draw the line now (if the cursor is at the start of a line)."""
        if not self.enabled:
            return
        with self._lock:
            if not self._line_start:
                return
            width = shutil.get_terminal_size((80, 24)).columns - 1
            try:
                self.stream.write(CLEAR + self.text()[:max(10, width)])
                self.stream.flush()
            except (OSError, ValueError):
                return
            self._shown = True

    def output(self, text: str, target: IO[str]) -> None:
        """Write guest output to `target` (the same terminal): the line is erased first and
        drawn again only once the guest's output is at the start of a line."""
        if not self.enabled:
            target.write(text)
            target.flush()
            return
        with self._lock:
            self._erase()
            target.write(text)
            target.flush()
            if text:
                self._line_start = text.endswith("\n")

    def _erase(self) -> None:
        if self._shown:
            try:
                self.stream.write(CLEAR)
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._shown = False
