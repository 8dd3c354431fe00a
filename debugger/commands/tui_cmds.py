"""The full-screen TUI from the prompt: `tui` (enter it, or set its memory pane and theme) and
`layout` (choose, show, hide, save and load the pane layout)."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Iterable

from debugger.commands import CommandError, command

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext
    from debugger.ui.tui.state import TuiState

_LAYOUT_WORDS = ("auto", "wide", "tall", "tabs", "show", "hide", "save", "load")
_TUI_WORDS = ("memory", "theme", "timeline")


def _active(ctx: "CommandContext") -> Any:
    from debugger.ui.tui.app import active_tui

    return active_tui(ctx)


def _capable(ctx: "CommandContext") -> str:
    """Why the TUI cannot start here ('' if it can)."""
    if ctx.batch:
        return "the TUI is not available in batch mode"
    if ctx.interp is None:
        return "the TUI needs the interactive prompt"
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return "the TUI needs a terminal (stdin and stdout are not both a tty)"
    return ""


def _enter(ctx: "CommandContext", state: "TuiState | None" = None) -> None:
    if _active(ctx) is not None:
        raise CommandError("already in the TUI (F1 or q leaves it)")
    why = _capable(ctx)
    if why:
        raise CommandError(why)
    from debugger.ui.tui.app import run_tui

    assert ctx.interp is not None
    run_tui(ctx, ctx.interp, state)


def _state(ctx: "CommandContext") -> "TuiState":
    tui = _active(ctx)
    if tui is not None:
        return tui.state
    from debugger.ui.tui.state import ConfigError, TuiState

    st = TuiState()
    try:
        st.load(missing_ok=True)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    return st


def _refresh(ctx: "CommandContext") -> None:
    tui = _active(ctx)
    if tui is not None:
        tui.app.invalidate()


def _keep(ctx: "CommandContext", st: "TuiState") -> None:
    """Outside the TUI a choice is kept in the layout file (the TUI reads it when it starts)."""
    from debugger.ui.tui.state import ConfigError

    if _active(ctx) is None:
        try:
            st.save()
        except ConfigError as exc:
            raise CommandError(str(exc)) from None


def complete_layout(ctx: "CommandContext", text: str) -> Iterable[str]:
    from debugger.ui.tui.state import ALL_PANES

    words = text.split()
    if words and words[0] in ("show", "hide") and (len(words) > 1 or text.endswith(" ")):
        return ALL_PANES
    return _LAYOUT_WORDS


@command("layout", category="misc", completer=complete_layout,
         usage="layout [auto|wide|tall|tabs | show PANE | hide PANE | save [FILE] | load [FILE]]",
         help="Choose the TUI's pane layout (no argument: show it, or enter the TUI).\n"
              "auto picks by terminal size: wide (>= 210x45, every pane), tall (>= 110x32),\n"
              "tabs (smaller, e.g. 80x24: one pane at a time).  show/hide PANE adds or removes\n"
              "a pane (regs segments code stack memory screen serial events output).\n"
              "save/load keep the choice in FILE (default $BOOTDBG_TUI_CONFIG or\n"
              "~/.config/bootdbg/tui.json, read whenever the TUI starts).")
def layout(ctx: "CommandContext", args: str) -> str | None:
    from debugger.ui.tui.state import ALL_PANES, LAYOUTS, ConfigError

    words = args.split()
    st = _state(ctx)
    if not words:
        if _active(ctx) is None and not _capable(ctx):
            _enter(ctx, st)
            return None
        return f"layout {st.layout}; panes: {' '.join(st.panes)}; theme {st.theme}"
    verb, rest = words[0], words[1:]
    if verb in LAYOUTS and not rest:
        st.layout = verb
    elif verb in ("show", "hide") and len(rest) == 1:
        if rest[0] not in ALL_PANES:
            raise CommandError(f"no pane {rest[0]!r}; one of: {', '.join(ALL_PANES)}")
        if verb == "show" and rest[0] not in st.panes:
            st.panes.append(rest[0])
            st.panes.sort(key=ALL_PANES.index)
        elif verb == "hide" and rest[0] in st.panes:
            st.panes.remove(rest[0])
    elif verb in ("save", "load") and len(rest) <= 1:
        try:
            path = st.save(rest[0] if rest else None) if verb == "save" else \
                st.load(rest[0] if rest else None)
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        _refresh(ctx)
        return f"layout {'saved to' if verb == 'save' else 'loaded from'} {path}"
    else:
        raise CommandError("usage: layout [auto|wide|tall|tabs | show PANE | hide PANE | "
                           "save [FILE] | load [FILE]]")
    if _active(ctx) is None:
        _keep(ctx, st)
        return f"layout {st.layout}, panes {' '.join(st.panes)} (saved; used by the TUI)"
    _refresh(ctx)
    return None


@command("tui", category="misc", completer=lambda ctx, text: _TUI_WORDS,
         usage="tui [memory EXPR [linear|physical] | theme dark|light|plain | "
               "timeline N|full|steps|off]",
         help="Enter the full-screen TUI (F1 or q comes back to the prompt).\n"
              "tui memory EXPR shows memory at EXPR (seg:off, *linear or an expression,\n"
              "re-evaluated at every stop, e.g. ds:si); tui theme chooses the colours.\n"
              "tui timeline sets how the event timeline finds mode, vm86, CPL and VM-entry\n"
              "verdict changes: stepping always logs each one; a continue finds each exactly\n"
              "by re-executing (about a millisecond each), at most N per continue (default\n"
              "500; the rest of that run is shown as one gap), all of them (full), none\n"
              "(steps), or transitions are not logged at all (off).")
def tui(ctx: "CommandContext", args: str) -> str | None:
    words = args.split()
    if not words:
        _enter(ctx)
        return None
    st = _state(ctx)
    if words[0] == "memory" and len(words) >= 2:
        space = "linear"
        if words[-1] in ("linear", "physical") and len(words) > 2:
            space = words.pop()
        st.mem_expr, st.mem_space = " ".join(words[1:]), space
        ctx.session.resolve(st.mem_expr, space == "physical")      # a bad one fails here
        st.scroll["memory"] = 0
        if _active(ctx) is not None:
            _active(ctx).reveal("memory")
        _keep(ctx, st)
        return f"memory pane: {st.mem_expr} ({space})"
    if words[0] == "theme" and len(words) == 2:
        from debugger.ui.tui.state import THEME_NAMES
        from debugger.ui.tui.styles import effective_theme

        if words[1] not in THEME_NAMES:
            raise CommandError(f"unknown theme {words[1]!r}; one of: {', '.join(THEME_NAMES)}")
        st.theme = effective_theme(words[1])
        tui_app = _active(ctx)
        if tui_app is not None:
            tui_app.set_theme(st.theme)
        _keep(ctx, st)
        return f"theme {st.theme}"
    if words[0] == "timeline" and len(words) <= 2:
        from debugger.ui.tui.state import TIMELINE_DETAILS, parse_detail

        if len(words) == 1:
            return f"timeline detail {st.timeline_detail}"
        if parse_detail(words[1]) is None:
            raise CommandError(f"timeline: {words[1]!r} is not {TIMELINE_DETAILS}")
        st.timeline_detail = words[1].lower()
        tui_app = _active(ctx)
        if tui_app is not None:
            tui_app.apply_timeline_detail()
        _keep(ctx, st)
        return f"timeline detail {st.timeline_detail}"
    raise CommandError("usage: tui [memory EXPR [linear|physical] | theme dark|light|plain | "
                       "timeline N|full|steps|off]")
