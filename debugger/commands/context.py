"""`CommandContext`: what every command gets -- the session, the output, settings and the
REPL-side state (last `x`, user-defined commands, pending breakpoint commands).

A command never reads input; it writes through `ctx.print` (a rich Console that is plain when
piped) and raises `CommandError` for user errors.  Runs go through `ctx.run`, which installs the
Ctrl-C handler around the engine, reports the stop (one summary line, then the context unless
the point is `silent` or a batch run is not verbose) and queues the point's command list.
"""
from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

from rich.console import Console

from debugger.engine.points import Catchpoint, Point
from debugger.engine.session import Session, SessionError
from debugger.engine.stops import StopEvent
from debugger.errors import CommandError
from debugger.trace.format import TraceError
from debugger.ui.commandline import LineInterpreter
from debugger.ui.fastprint import write_fast

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["CommandContext", "Settings", "XState", "UserCommand", "Origin", "stop_summary",
           "SETTINGS_HELP"]

Origin = tuple[str, int] | None


class ScriptRunner(LineInterpreter, Protocol):
    """What commands need of the interpreter running them (`source` runs a file through it, `tui`
    hands it to the TUI): `debugger.script.interpreter.Interpreter`, one layer up, sets itself as
    `ctx.interp`; commands never import it."""

    def run_file(self, path: "str | Path") -> None: ...


@dataclass
class Settings:
    context: bool = True          # print the context at every stop
    verbose: bool = False         # batch runs: print the context too
    code_before: int = 3          # instructions shown before CS:EIP
    code_after: int = 7
    stack_slots: int = 8
    events: int = 5
    max_iterations: int = 1_000_000   # a `while` loop gives up after this many iterations


SETTINGS_HELP = {
    "context": "print the context (registers, segments, code, ...) at every stop: on/off",
    "verbose": "in batch runs print the context at stops too: on/off",
    "code_before": "instructions shown before CS:EIP in the context",
    "code_after": "instructions shown from CS:EIP on in the context",
    "stack_slots": "stack entries shown in the context",
    "events": "latest machine events shown in the context",
    "max_iterations": "a while loop stops with an error after this many iterations",
}


@dataclass
class XState:
    """What `x` examined last (Enter or a bare `x` continues after it)."""

    address: int
    count: int = 1
    fmt: str = "x"
    size: int = 4
    space: str = "linear"


@dataclass
class UserCommand:
    name: str
    body: list[tuple[str, Origin]] = field(default_factory=list)
    doc: str = ""


class CommandContext:
    def __init__(self, session: Session, console: Console, *, batch: bool = False,
                 settings: Settings | None = None, err_console: Console | None = None) -> None:
        self.session = session
        self.console = console
        self.err_console = err_console or console
        self.batch = batch
        self.settings = settings or Settings()
        self.user_commands: dict[str, UserCommand] = {}
        self.last_x: XState | None = None
        self.interp: "ScriptRunner | None" = None
        self.quit_requested = False
        self.failed: StopEvent | None = None       # a `fail` catchpoint fired
        self.budget: int | None = None             # instructions left (batch --max-insns)
        # shown after the context at every stop that is not silent (`display` adds one)
        self.stop_hooks: list[Callable[["CommandContext"], None]] = []
        self.pending_commands: list[tuple[list[str], StopEvent]] = []
        self.value_history: list[int] = []
        self.refused_runs = 0          # forward runs refused after the final stop (batch)
        self.last_start: StopEvent | None = None    # the latest restart (run/start)

    # -- output ---------------------------------------------------------------------------------
    def print(self, *objects: Any, **kw: Any) -> None:
        if not kw and len(objects) == 1 and write_fast(self.console, objects[0]):
            return
        kw.setdefault("markup", False)
        kw.setdefault("highlight", False)
        self.console.print(*objects, **kw)

    def write(self, text: str) -> None:
        """Raw text, exactly as given (echo, printf, output: tabs and no added newline)."""
        self.console.file.write(text)
        self.console.file.flush()

    def error(self, message: str) -> None:
        self.err_console.print(message, markup=False, highlight=False, style="error",
                               soft_wrap=True)

    @property
    def styled(self) -> bool:
        """Whether output has colour (else renderables can be built without styles)."""
        return self.console.color_system is not None

    @property
    def width(self) -> int:
        return max(60, self.console.width)

    def confirm(self, question: str) -> bool:
        """gdb's query: on a terminal ask (y or n); in batch mode, from a pipe or in the TUI
        answer yes without asking and say so, as gdb does."""
        import sys

        from debugger.ui.progress import real_tty

        if self.batch or not (sys.stdin.isatty() and real_tty(self.console.file)):
            self.print(f"{question} (y or n) [answered Y; input not from terminal]")
            return True
        while True:
            try:
                answer = input(f"{question} (y or n) ").strip().lower()
            except EOFError:
                self.print("EOF [answered Y; input not from terminal]")
                return True
            except KeyboardInterrupt:
                self.print("")
                return False
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            self.print("Please answer y or n.")

    # -- running --------------------------------------------------------------------------------
    @property
    def guest_ended(self) -> bool:
        last = self.session.last_stop
        return last is not None and (last.final or (last.kind == "budget"
                                                    and self.budget is not None
                                                    and self.budget <= 0))

    def should_end(self) -> bool:
        """Whether the run is over: quit, or in batch mode a `fail` catchpoint fired.

        When the guest stops for good a batch script goes on: inspecting commands, time travel
        and `echo` work, and a command that would run the guest forward says in one line that
        it cannot (`run`), without making the run an error.
        """
        if self.quit_requested:
            return True
        return self.batch and self.failed is not None

    def budget_left(self, wanted: int | None = None) -> int | None:
        if self.budget is None:
            return wanted
        return self.budget if wanted is None else min(wanted, self.budget)

    def run(self, fn: Callable[[], StopEvent], *, travel: bool = False) -> StopEvent:
        """Run the guest with Ctrl-C mapped to `session.interrupt()`, then report the stop.

        `travel`: a time-travel move (goto, reverse-*), which works after the final stop too.
        In batch mode a forward run after the guest stopped for good is not attempted: one line
        says so and the last stop is returned (`refused_runs` counts these, so a `while` loop
        that can no longer make progress ends)."""
        s = self.session
        if self.batch and not travel and self.guest_ended:
            last = s.last_stop
            assert last is not None
            self.refused_runs += 1
            what = "the instruction budget (--max-insns) is used up" if not last.final else \
                f"the guest stopped for good ({last.kind} at icount {last.icount})"
            self.print(f"Not running: {what}; time travel and inspecting commands still work.",
                       style="warning")
            return last
        if not travel and self.budget is not None and self.budget <= 0:
            raise CommandError("the instruction budget (--max-insns) is used up")
        before = {p.number: p for p in s.points}
        start = s.icount
        old = None
        if threading.current_thread() is threading.main_thread():
            old = signal.signal(signal.SIGINT, lambda *_: s.interrupt())
        from debugger.ui.progress import RunProgress, real_tty

        try:
            with RunProgress(s.machine, self.console.file,
                             enabled=not self.batch and real_tty(self.console.file)):
                ev = fn()
        except SessionError as exc:
            raise CommandError(str(exc)) from None
        except TraceError as exc:       # a recording's file cannot be written (disk full)
            raise CommandError(str(exc)) from None
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        if self.budget is not None:
            self.budget -= s.icount - start
        self.report_stop(ev, before)
        return ev

    def report_stop(self, ev: StopEvent, points: dict[int, Point] | None = None) -> None:
        s = self.session
        p: Point | None = None
        if ev.point is not None:
            p = (points or {}).get(ev.point)
            if p is None:
                try:
                    p = s.point(ev.point)
                except SessionError:
                    p = None
        if isinstance(p, Catchpoint) and p.fail and self.failed is None:
            self.failed = ev
        if not (p is not None and p.silent):
            self.print(stop_summary(ev, len(s.stops), s, p), style="stop.header")
            if self.settings.context and (not self.batch or self.settings.verbose):
                self.show_context()
            for hook in list(self.stop_hooks):
                hook(self)
        if p is not None and p.commands:
            self.pending_commands.append((list(p.commands), ev))
        if "hook-stop" in self.user_commands:
            self.pending_commands.append((["hook-stop"], ev))

    def show_context(self) -> None:
        from debugger.ui.context import render_context, view_of

        st = self.settings
        view = view_of(self.session, before=st.code_before, after=st.code_after,
                       stack_slots=st.stack_slots, events=st.events)
        self.print(render_context(view, self.width, height=self.context_height()))

    def context_height(self) -> int | None:
        """Lines the context may take on a terminal: its height less the stop line (2) and the
        prompt (1); None (no limit) for a pipe, a file or the TUI's output pane."""
        from debugger.ui.progress import real_tty

        if not real_tty(self.console.file):
            return None
        return max(8, self.console.height - 3)


def stop_summary(ev: StopEvent, number: int, session: Session | None = None,
                 point: Point | None = None) -> str:
    """`Stop #3 vm86-enter at 0800:0000 (linear 0x8000) after iretd — icount 1234` (+ detail)."""
    bits = session.state().bits if session is not None else ev.bits
    ow = 4 if bits == 16 and ev.eip <= 0xFFFF else 16 if bits == 64 else 8
    text = f"Stop #{number} {ev.kind} at {ev.cs:04x}:{ev.eip:0{ow}x} (linear {ev.linear:#x})"
    where = session.symbols.describe(ev.linear) if session is not None and \
        getattr(session, "symbols", None) else None
    if where:
        text += f" <{where}>"
    insn = ev.instruction
    if insn and ev.instruction_address is not None and ev.instruction_address != ev.linear:
        text += f" after {insn}"
    elif insn and ev.kind in ("exception", "triple-fault", "hlt", "halted", "unsupported"):
        text += f" on {insn}"
    text += f" — icount {ev.icount}"
    detail = []
    if point is not None:
        desc = point.describe()
        if desc.startswith(point.kind + " "):
            desc = desc[len(point.kind) + 1:]
        detail.append(f"{point.kind} {point.number}: {desc}" + (
            f", hit {point.hits} time{'s' if point.hits != 1 else ''}" if point.hits else ""))
    if ev.message and (point is None or ev.message != point.describe()):
        detail.append(ev.message)
    if detail:
        text += "\n  " + " — ".join(detail)
    return text
