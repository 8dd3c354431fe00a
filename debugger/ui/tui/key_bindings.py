"""The TUI's keys: `load_tui_bindings(app) -> KeyBindings`.

Function keys work everywhere (F5 continue, F7 step, F8 next, F9 breakpoint at the code cursor,
F1 back to the prompt, F2 help: paged by the arrows and PgUp/PgDn, closed by any other key);
the one-letter keys (c s n q ? t < >) only when a pane has the
focus, so the command line takes them as text.  Ctrl-C interrupts a running guest, else clears
the command line.  Tab moves between panes (in a non-empty command line it completes).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prompt_toolkit.filters import Condition
from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

from debugger.ui.tui.helpbox import scroll_help

if TYPE_CHECKING:
    from debugger.ui.tui.app import TuiApp

__all__ = ["load_tui_bindings"]


def load_tui_bindings(tui: "TuiApp") -> Any:
    ts = tui.state
    in_pane = Condition(lambda: ts.focus != "cmdline" and not ts.show_help)
    in_cmd = Condition(lambda: ts.focus == "cmdline" and not ts.show_help)
    helping = Condition(lambda: ts.show_help)
    kb = KeyBindings()

    @kb.add("<any>", filter=helping)
    def _close_help(event: Any) -> None:
        ts.show_help = False

    for key, delta in (("up", -1), ("down", 1), ("pageup", "-page"), ("pagedown", "page"),
                       ("home", "home"), ("end", "end")):
        kb.add(key, filter=helping)(
            lambda e, d=delta: scroll_help(ts, d, *tui.tlayout.size()))

    for keys, line in ((("f5",), "continue"), (("f7",), "stepi"), (("f8",), "nexti")):
        kb.add(*keys)(lambda e, line=line: tui.run(line))
    for key, line in (("c", "continue"), ("s", "stepi"), ("n", "nexti")):
        kb.add(key, filter=in_pane)(lambda e, line=line: tui.run(line))

    @kb.add("f9")
    def _breakpoint(event: Any) -> None:
        tui.toggle_breakpoint()

    @kb.add("c-c")
    def _interrupt(event: Any) -> None:
        if tui.runner.interrupt():
            return
        if ts.focus == "cmdline":
            tui.cmdline_buffer.reset()
        else:
            ts.message = "F1 or q leaves the TUI; Ctrl-C stops a running guest"

    @kb.add("f1")
    @kb.add("q", filter=in_pane)
    def _leave(event: Any) -> None:
        tui.leave()

    @kb.add("f2")
    @kb.add("?", filter=in_pane)
    def _help(event: Any) -> None:
        ts.help_top = 0
        ts.show_help = True

    @kb.add("tab", filter=in_pane)
    def _next(event: Any) -> None:
        tui.focus_step(1)

    @kb.add("s-tab")
    def _prev(event: Any) -> None:
        tui.focus_step(-1)

    @kb.add("tab", filter=in_cmd)
    def _complete(event: Any) -> None:
        buf = event.current_buffer
        if not buf.text.strip():
            tui.focus_step(1)
        elif buf.complete_state:
            buf.complete_next()
        else:
            buf.start_completion(select_first=False)

    @kb.add("escape", filter=in_cmd, eager=True)
    def _back(event: Any) -> None:
        tui.focus_pane(tui.last_pane)

    @kb.add(":", filter=in_pane)
    @kb.add("enter", filter=in_pane)
    def _to_cmd(event: Any) -> None:
        if event.data != ":" and ts.focus == "events":
            tui.jump_to_event()
            return
        tui.focus_pane("cmdline")

    for key, delta in (("up", -1), ("down", 1), ("pageup", "-page"), ("pagedown", "page"),
                       ("home", "home"), ("end", "end"), ("k", -1), ("j", 1),
                       ("left", "left"), ("right", "right")):
        kb.add(key, filter=in_pane)(lambda e, d=delta: tui.scroll(d))

    @kb.add("<", filter=in_pane)
    @kb.add(">", filter=in_pane)
    def _profile(event: Any) -> None:
        tui.cycle_profile(-1 if event.data == "<" else 1)

    @kb.add("t", filter=in_pane)
    def _theme(event: Any) -> None:
        tui.cycle_theme()

    return merge_key_bindings([kb])
