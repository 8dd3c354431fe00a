"""Running command lines for the TUI in a worker thread, so the UI never freezes.

Every command line (typed, or sent by a key such as F7) goes through the same interpreter the
REPL uses, in one worker thread at a time; its output goes to the TUI's output pane (the
context's consoles are pointed at it while the TUI runs).  While it runs, the panes show the
last view and the status bar shows instructions executed and MIPS (counted inside the
engine's current slice too, so it moves four times a second however long the slices); Ctrl-C calls
`session.interrupt()`.  When it ends, a new view is taken in the worker (the engine is idle
then) and the UI is invalidated.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from debugger.engine.livecount import LiveCount

if TYPE_CHECKING:
    from debugger.ui.commandline import CommandLine, LineInterpreter
    from debugger.ui.tui.state import TuiState

__all__ = ["Runner", "OutputSink"]


class OutputSink:
    """A text stream for the command consoles: complete lines go to the TUI's output pane."""

    def __init__(self, ts: "TuiState", wake: Callable[[], None]) -> None:
        self.ts = ts
        self.wake = wake
        self._partial = ""

    def write(self, text: str) -> int:
        data = self._partial + text
        if "\n" in data:
            done, self._partial = data.rsplit("\n", 1)
            self.ts.add_output(done)
            self.wake()
        else:
            self._partial = data
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self.ts.add_output(self._partial)
            self._partial = ""
            self.wake()

    def isatty(self) -> bool:
        return True


class Runner:
    def __init__(self, ctx: "CommandLine", interp: "LineInterpreter", ts: "TuiState",
                 refresh: Callable[[], None], wake: Callable[[], None]) -> None:
        self.ctx = ctx
        self.interp = interp
        self.ts = ts
        self.refresh = refresh        # takes a new view (worker thread, engine idle)
        self.wake = wake              # app.invalidate (thread-safe)
        self._thread: threading.Thread | None = None
        self.on_done: list[Callable[[], None]] = []
        self._live = LiveCount(ctx.session.machine)
        self._shown = 0

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, line: str, *, echo: bool = True) -> bool:
        """Run `line` in the worker; False (and a status message) if one is already running."""
        if self.busy:
            self.ts.run_note = "the guest is running: Ctrl-C stops it"
            self.wake()
            return False
        ts = self.ts
        if echo:
            ts.add_output(f"\x1b[1m(bootdbg) {line}\x1b[0m")
        ts.running = line or " "
        ts.run_started = time.monotonic()
        ts.run_icount = self.ctx.session.icount
        ts.message = ""
        ts.run_note = ""
        self._shown = 0
        self._live.attach()               # only while a command runs
        self._thread = threading.Thread(target=self._work, args=(line,), daemon=True,
                                        name="bootdbg-tui-run")
        self._thread.start()
        threading.Thread(target=self._tick, daemon=True, name="bootdbg-tui-tick").start()
        self.wake()
        return True

    def _tick(self) -> None:
        """Redraw the progress line while the worker runs."""
        while self.busy:
            time.sleep(0.25)
            self.wake()

    def _work(self, line: str) -> None:
        from debugger.ui.repl import handle_line

        try:
            handle_line(self.ctx, self.interp, line)
        except BaseException as exc:          # never lose the worker silently
            self.ts.add_output(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            for con in (self.ctx.console, self.ctx.err_console):
                f: Any = getattr(con, "file", None)
                if f is not None and hasattr(f, "flush"):
                    f.flush()
            try:
                self.refresh()
            except Exception as exc:
                self.ts.message = f"view: {exc}"
            self._live.detach()
            self.ts.running = ""
            for fn in list(self.on_done):
                fn()
            self.wake()

    def interrupt(self) -> bool:
        """Ctrl-C: stop a running guest at the next instruction boundary."""
        if not self.busy:
            return False
        self.ctx.session.interrupt()
        self.ts.run_note = "stopping at the next instruction boundary"
        self.wake()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        t = self._thread
        if t is not None:
            t.join(timeout)
        return not self.busy

    def executed(self) -> int:
        """Instructions executed by the running command so far (read while it runs: the
        count inside the current engine slice too, so it moves however long a slice is)."""
        done = max(0, self._live.value() - self.ts.run_icount)
        self._shown = max(self._shown, done)   # going back to a checkpoint is not progress lost
        return self._shown

    def progress(self) -> str:
        """`running: continue · 12,345,678 insns · 85.2 MIPS · 3.1 s · Ctrl-C stops`."""
        ts = self.ts
        now = time.monotonic()
        done = self.executed()
        secs = max(now - ts.run_started, 1e-6)
        return (f"running: {ts.running.strip()} · {done:,} insns · {done / secs / 1e6:.1f} MIPS"
                f" · {secs:.1f} s · Ctrl-C stops")
