"""`TuiApp`: the full-screen Application -- the layout, the keys, the command line and the
worker that runs the guest -- over a `CommandContext`, and `run_tui` to show it.

The TUI holds UI state only (`TuiState`) and a `TuiView` snapshot of the session; every action
that touches the guest is a command line run by the `Runner` (F7 is `stepi`, F9 `break *ADDR`
or `delete N`), so the output pane shows what the REPL would print and `info breakpoints` sees
what F9 did.  While the TUI runs, the context's consoles write to the output pane and the
per-stop context printing is off (the panes show it); both are restored when it ends.
"""
from __future__ import annotations

import contextlib
import weakref
from typing import TYPE_CHECKING, Any, Iterator

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.layout import VSplit, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.styles import DynamicStyle
from rich.console import Console

from debugger.ui.tui.key_bindings import load_tui_bindings
from debugger.ui.tui.layout import TuiLayout
from debugger.ui.tui.runner import OutputSink, Runner
from debugger.ui.tui.state import ConfigError, TuiState
from debugger.ui.tui.styles import THEMES, Fragments, chrome_style, effective_theme, rich_theme
from debugger.ui.tui.view import TuiView, take_view

if TYPE_CHECKING:
    from debugger.ui.commandline import CommandLine, LineInterpreter

__all__ = ["TuiApp", "run_tui", "active_tui"]

_ACTIVE: "weakref.WeakKeyDictionary[Any, TuiApp]" = weakref.WeakKeyDictionary()


def active_tui(ctx: "CommandLine") -> "TuiApp | None":
    """The TUI running over `ctx`, if any (the `layout` and `tui` commands act on it)."""
    return _ACTIVE.get(ctx)


class TuiApp:
    def __init__(self, ctx: "CommandLine", interp: "LineInterpreter", *,
                 state: TuiState | None = None, input: Any = None, output: Any = None) -> None:
        from prompt_toolkit.history import InMemoryHistory

        from debugger.ui.completion import CommandCompleter

        self.ctx, self.interp = ctx, interp
        self.state = state or TuiState()
        self.state.theme = effective_theme(self.state.theme)
        self.view: TuiView | None = None
        self.last_pane = "code"
        self.cmdline_buffer = Buffer(multiline=False, history=_history() or InMemoryHistory(),
                                     completer=CommandCompleter(interp),
                                     complete_while_typing=False, accept_handler=self._accept)
        cmd_window = Window(BufferControl(self.cmdline_buffer), height=1, style="class:cmdline")
        prompt = Window(FormattedTextControl(lambda: [("class:prompt bold", "(bootdbg) ")]),
                        dont_extend_width=True, height=1)
        self.tlayout = TuiLayout(self.state, lambda: self.view, VSplit([prompt, cmd_window]),
                                 cmd_window, self._status)
        self.app: Application[None] = Application(
            layout=self.tlayout.layout, key_bindings=load_tui_bindings(self),
            style=DynamicStyle(lambda: chrome_style(self.state.theme)), full_screen=True,
            mouse_support=False, input=input, output=output)
        self.tlayout.app = self.app
        self.runner = Runner(ctx, interp, self.state, self.refresh_view, self.app.invalidate)
        self.runner.on_done.append(self._after_command)

    # -- view -------------------------------------------------------------------------------------
    def refresh_view(self) -> None:
        """A new view of the session (call with the engine idle)."""
        s, ts, old = self.ctx.session, self.state, self.view
        new_stop = old is not None and len(s.stops) != old.stops
        if new_stop:
            ts.at_stop()
        self.view = take_view(s, ts, old)
        if new_stop and not ts.keep_selection:
            ts.selected_event = None
        ts.keep_selection = False

    def _idle_refresh(self) -> None:
        if not self.runner.busy:
            self.refresh_view()

    # -- actions (keys) ---------------------------------------------------------------------------
    def run(self, line: str) -> bool:
        self.state.show_help = False          # (F5 F7 F8 F9 while the help is open)
        self._fit_console()
        return self.runner.submit(line)

    def jump_to_event(self) -> None:
        """Enter on the timeline: go to the selected event's icount (time travel must be on);
        the selection stays on it and every pane shows the machine there."""
        from debugger.ui.tui.io_panes import selected_event

        view = self.view
        if view is None or not view.timeline:
            return
        if getattr(self.ctx.session, "timeline", None) is None:
            self.state.message = "time travel is off: `record` turns it on (then Enter jumps)"
            return
        i = selected_event(view, self.state)
        self.state.selected_event = i
        self.state.keep_selection = self.run(f"goto {view.timeline[i].icount}")

    def _accept(self, buf: Buffer) -> bool:
        self.run(buf.text)
        return False

    def _fit_console(self) -> None:
        """Command output is laid out for the output pane's width (at least 80 columns: tables
        keep their columns; the pane wraps what is wider)."""
        info = self.tlayout.windows["output"].render_info
        if info is not None and info.window_width:
            self.ctx.console.width = max(80, info.window_width)

    def _after_command(self) -> None:
        if self.ctx.quit_requested:
            self.app.loop.call_soon_threadsafe(self.leave) if self.app.loop else None

    def toggle_breakpoint(self) -> None:
        from debugger.engine.points import Breakpoint

        if self.view is None:
            return
        addr = self.state.code_cursor if self.state.focus == "code" and \
            self.state.code_cursor is not None else self.view.state.pc
        hits = [b.number for b in self.ctx.session.points_of(Breakpoint)
                if not b.physical and b.linear == addr and not b.temporary]
        if not hits:
            hits = [b.number for b in self.ctx.session.points
                    if isinstance(b, Breakpoint) and not b.physical and b.linear == addr]
        self.run("delete " + " ".join(map(str, hits)) if hits else f"break *{addr:#x}")

    def leave(self) -> None:
        if self.runner.busy:
            self.runner.interrupt()
            self.runner.wait(10)
        if self.app.is_running:
            self.app.exit()

    def focus_pane(self, name: str) -> None:
        if self.state.focus != "cmdline":
            self.last_pane = self.state.focus
        self.state.focus = name
        self.tlayout.sync_focus()

    def reveal(self, pane: str) -> None:
        """Show `pane` in its group of tabs without moving the focus (`tui memory EXPR`)."""
        for slot in self.tlayout.slots():
            if pane in slot and self.state.focus not in slot:
                self.state.active["/".join(slot)] = pane
        self.app.invalidate()

    def focus_step(self, step: int) -> None:
        """Tab / Shift-Tab: the next / previous shown pane (then the command line); a group of
        tabs that the focus leaves goes back to its first tab."""
        old = self.state.focus
        if old != "cmdline":
            self.last_pane = old
        self.tlayout.tabbed_away(old, self.state.cycle_focus(self.tlayout.shown_panes(), step))
        self.tlayout.sync_focus()

    def scroll(self, delta: int | str) -> None:
        from debugger.ui.tui.scrolling import scroll_pane

        scroll_pane(self, self.state.focus, delta)

    def cycle_profile(self, step: int) -> None:
        if self.runner.busy or self.view is None:
            return
        names = list(self.view.profiles)
        cur = names.index(self.ctx.session.profile) if self.ctx.session.profile in names else 0
        self.ctx.session.set_profile(names[(cur + step) % len(names)])
        self.refresh_view()

    def cycle_theme(self) -> None:
        if effective_theme("dark") == "plain":
            self.state.message = "NO_COLOR is set: the plain theme stays"
            return
        self.set_theme(THEMES[(THEMES.index(self.state.theme) + 1) % len(THEMES)])

    def set_theme(self, name: str) -> None:
        self.state.theme = effective_theme(name)
        self.state.message = f"theme {self.state.theme}"
        self._point_consoles()
        self.app.invalidate()

    # -- status -----------------------------------------------------------------------------------
    def _status(self) -> Fragments:
        from debugger.ui.tui.status import status_fragments

        ts = self.state
        return status_fragments(ts, self.ctx.session, self.view,
                                self.runner.progress() if ts.running else "",
                                self.tlayout.size()[0])

    # -- running the application -------------------------------------------------------------------
    def _point_consoles(self) -> None:
        cols = self.tlayout.size()[0]
        plain = self.state.theme == "plain"
        sink = OutputSink(self.state, self.app.invalidate)
        con = Console(file=sink, theme=rich_theme(self.state.theme),  # type: ignore[arg-type]
                      force_terminal=True,
                      color_system=None if plain else "truecolor", no_color=plain,
                      width=max(60, cols - 2), highlight=False, emoji=False, soft_wrap=False)
        self.ctx.console = con
        self.ctx.err_console = con

    @contextlib.contextmanager
    def _attached(self) -> Iterator[None]:
        ctx = self.ctx
        saved = (ctx.console, ctx.err_console, ctx.settings.context)
        _ACTIVE[ctx] = self
        try:
            self._point_consoles()
            ctx.settings.context = False
            self.apply_timeline_detail()
            self.refresh_view()
            yield
        finally:
            self.runner.interrupt()
            self.runner.wait(10)
            log = getattr(ctx.session, "activity", None)
            if log is not None:                 # outside the TUI: full speed, nothing logged
                st = ctx.session.state()
                log.resume(st)
                log.pause(st, "outside the TUI", "nothing logged")
                log.transitions = False
                log.uninstall()
            ctx.console, ctx.err_console, ctx.settings.context = saved
            _ACTIVE.pop(ctx, None)

    def apply_timeline_detail(self) -> None:
        """The activity log (attached to the session the first time) at the chosen detail."""
        from debugger.engine.activity import attach
        from debugger.ui.tui.state import parse_detail

        log = attach(self.ctx.session)
        log.install()                         # (again, after the TUI was left)
        on, budget = parse_detail(self.state.timeline_detail) or (True, 500)
        st = self.ctx.session.state()
        if on and (not log.transitions or log.paused):
            log.resume(st)
            log.transitions = True
        elif not on and (log.transitions or log.paused):
            log.resume(st)
            log.pause(st, "timeline detail off")
            log.transitions = False
        log.budget = budget

    def run_app(self) -> None:
        """Show the TUI until F1/q (or `quit`); the context's consoles are restored after."""
        with self._attached():
            self.app.run()

    async def run_async(self) -> None:
        """The same in the caller's event loop (tests, embedding)."""
        with self._attached():
            await self.app.run_async()


def _history() -> Any:
    from prompt_toolkit.history import FileHistory

    from debugger.ui.repl import history_path

    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        return FileHistory(str(path))
    except OSError:
        return None


def run_tui(ctx: "CommandLine", interp: "LineInterpreter",
            state: TuiState | None = None) -> None:
    """Run the TUI over `ctx` on the terminal; the layout file is read first if it exists."""
    ts = state or TuiState()
    if state is None:
        try:
            ts.load(missing_ok=True)
        except ConfigError as exc:
            ts.message = str(exc)
    TuiApp(ctx, interp, state=ts).run_app()

