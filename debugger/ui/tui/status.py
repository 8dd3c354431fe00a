"""The TUI's status bar: while a command runs, its progress; when the guest is stopped, where
and why it stopped (stop number, kind, CS:EIP), the icount and the mode of the view the panes
show, then a message or as many key hints as fit.  A pure function of its inputs (tested
without an Application)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from debugger.ui.tui.styles import Fragments

if TYPE_CHECKING:
    from debugger.ui.tui.state import TuiState
    from debugger.ui.tui.view import TuiView

__all__ = ["status_fragments", "stopped_text", "KEY_HINTS"]

KEY_HINTS = ("F5 cont", "F7 step", "F8 next", "F9 break", "Tab panes", "F2/? help", "F1 back")


def stopped_text(session: Any, view: "TuiView | None") -> str:
    """`stop #3 interrupt at 0800:0007 · icount 5123 · vm86 CPL 3` (the view's machine)."""
    if view is None:
        return "(starting)"
    st, icount = view.state, view.context.icount
    ev = session.last_stop
    if ev is not None:                      # CS:EIP written as the `Stop #N` line writes it
        ow = 4 if st.bits == 16 and ev.eip <= 0xFFFF else 16 if st.bits == 64 else 8
        where = f"stop #{len(session.stops)} {ev.kind} at {ev.cs:04x}:{ev.eip:0{ow}x}"
    elif icount == 0:
        where = f"{_name(session)}: stopped before the first instruction"
    else:
        eip = st.rip if st.bits == 64 else st.rip & 0xFFFFFFFF
        ow = 4 if st.bits == 16 and eip <= 0xFFFF else 16 if st.bits == 64 else 8
        where = f"{_name(session)}: at {st.cs.selector:04x}:{eip:0{ow}x}"
    mode = st.mode.value + (f" CPL {st.cpl}" if st.mode.value not in ("real", "unreal") else "")
    return f"{where} · icount {icount} · {mode}"


def _name(session: Any) -> str:
    import os

    path = getattr(session, "image_path", None)
    return os.path.basename(str(path)) if path else "guest"


def status_fragments(ts: "TuiState", session: Any, view: "TuiView | None", progress: str,
                     width: int) -> Fragments:
    """The status bar's fragments, at most `width` characters."""
    if ts.running:
        text = f" {progress}" + (f" · {ts.run_note}" if ts.run_note else "") + " "
        return [("class:status.running", text[:width])]
    left = f" {stopped_text(session, view)}  "
    out: Fragments = [("class:status", left[:width])]
    room = width - len(left)
    if ts.message:
        right = f"│ {ts.message} "
        return out + [("class:status", right[:max(0, room)])] if room > 2 else out
    right = "│"
    for hint in KEY_HINTS:
        if len(right) + 1 + len(hint) + 1 > room:
            break
        right += " " + hint + " "
    return out + [("class:status", right)] if len(right) > 1 else out
