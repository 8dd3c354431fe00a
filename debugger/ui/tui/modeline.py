"""The mode line of the TUI -- mode, CPL, A20, paging, activity, icount (and VM, IOPL and EIP
in the small terminals' summary pane) -- fitted to a width: the fields that say the least in their
usual state (activity active, A20 on, paging off) give way first, so no field is ever cut."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["fitted_mode_line"]

Field = tuple[str, str, str, int]    # label, value, value style, rank (higher: dropped first)


def _fields(c: "ContextView", extra: bool) -> list[Field]:
    st = c.state
    act = st.activity.name.lower()
    out = [("mode", st.mode.value, "mode", 0), ("CPL", str(st.cpl), "mode.field", 0),
           ("A20", "on" if st.a20 else "off", "mode.field", 4 if st.a20 else 0),
           ("paging", "on" if st.pg else "off", "mode.field", 0 if st.pg else 3),
           ("activity", act, "mode.field", 5 if act == "active" else 0),
           ("icount", str(c.icount), "mode.field", 0)]
    if extra:
        out += [("VM", str(int(st.vm)), "flag.prominent", 0),
                ("IOPL", str(st.iopl), "flag.prominent", 1),
                ("EIP", f"{st.rip & 0xFFFFFFFF:08x}", "reg.value", 2)]
    return out


def fitted_mode_line(c: "ContextView", width: int, extra: bool = False) -> Text:
    """`mode vm86  CPL 3  A20 on  paging off  activity active  icount 3562` in `width`."""
    fields = _fields(c, extra)

    def size(fs: list[Field]) -> int:
        return sum(len(f[0]) + 1 + len(f[1]) for f in fs) + 2 * (len(fs) - 1)
    for rank in (5, 4, 3, 2, 1):
        if size(fields) <= width:
            break
        fields = [f for f in fields if f[3] != rank]
    t = Text(no_wrap=True, overflow="crop")
    for i, (label, value, style, _) in enumerate(fields):
        t.append(("  " if i else "") + label + " ", style="muted")
        t.append(value, style=style)
    return t
