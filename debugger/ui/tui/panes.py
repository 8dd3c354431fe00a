"""The TUI's machine panes: pure functions `(TuiView, TuiState, width, height) -> lines`.

Each returns the pane's whole content as lines of prompt_toolkit fragments (the layout scrolls
it); they reuse the REPL's renderers (`debugger.ui.panes.*`) through `styles.to_lines`, so the
TUI and the context print the same thing.  The VGA screen, serial, event timeline and output
panes are in `io_panes`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from rich.console import Group
from rich.text import Text

from debugger.ui.tui.styles import Fragments, to_lines

if TYPE_CHECKING:
    from debugger.cpustate import CpuState
    from debugger.ui.tui.state import TuiState
    from debugger.ui.tui.view import TuiView

__all__ = ["PaneFn", "PANES", "title_of", "render", "plugin_panes", "verdict_line",
           "profile_selector", "code_index", "segment_rows"]

PaneFn = Callable[["TuiView", "TuiState", int, int], list[Fragments]]
PANES: dict[str, PaneFn] = {}
_TITLES: dict[str, Callable[["TuiView", "TuiState"], str]] = {}
_WIDE_TITLES: dict[str, Callable[["TuiView", "TuiState", int], str]] = {}


def width_title(name: str) -> Callable[[Callable[["TuiView", "TuiState", int], str]],
                                       Callable[["TuiView", "TuiState", int], str]]:
    """Register a title that depends on the pane's width too."""
    def deco(fn: Callable[["TuiView", "TuiState", int], str]
             ) -> Callable[["TuiView", "TuiState", int], str]:
        _WIDE_TITLES[name] = fn
        return fn
    return deco


def tui_pane(name: str, title: Callable[["TuiView", "TuiState"], str] | str
             ) -> Callable[[PaneFn], PaneFn]:
    def deco(fn: PaneFn) -> PaneFn:
        PANES[name] = fn
        _TITLES[name] = title if callable(title) else (lambda v, s, t=title: t)
        return fn
    return deco


def title_of(name: str, view: "TuiView", ts: "TuiState", width: int = 0) -> str:
    """The pane's title; `width` (the pane's, when known) lets a pane say what it cannot show."""
    if name in _WIDE_TITLES and width:
        return _WIDE_TITLES[name](view, ts, width)
    if name in _TITLES:
        return _TITLES[name](view, ts)
    entry = _plugin_panes().get(name)
    return entry.title if entry is not None else name


def _plugin_panes() -> dict[str, Any]:
    """The context panes that plugins registered (`api.register_pane`), by name."""
    from debugger.ui import panes

    return {p.name: p for p in panes.all_panes() if p.plugin is not None}


def plugin_panes() -> list[str]:
    """Panes that loaded plugins registered (`api.register_pane`), in their order."""
    reg = _plugin_panes()
    return [n for n in sorted(reg, key=lambda n: reg[n].order) if n not in PANES]


def render(name: str, view: "TuiView", ts: "TuiState", width: int, height: int
           ) -> list[Fragments]:
    """The pane `name`: a TUI pane, or a plugin's `fn(context_view, width)` renderable."""
    fn = PANES.get(name)
    if fn is not None:
        return fn(view, ts, width, height)
    entry = _plugin_panes().get(name)
    if entry is None:
        return [[("", f"(pane {name} is gone: its plugin was unloaded)")]]
    body = entry.fn(view.context, width)
    return to_lines(body if body is not None else "(nothing)", width, ts.theme)


def _crop(text: Text) -> Text:
    text.no_wrap = True
    text.overflow = "crop"
    return text


@tui_pane("regs", "registers")
def regs(view: "TuiView", ts: "TuiState", width: int, height: int) -> list[Fragments]:
    from debugger.ui.panes.control import control_registers
    from debugger.ui.panes.registers import registers
    from debugger.ui.tui.modeline import fitted_mode_line
    from debugger.ui.verdicts import violations_by_register

    c = view.context
    st = c.state
    mode = fitted_mode_line(c, width)         # (VM and IOPL are on the EFLAGS line)
    body = Group(mode, registers(st, c.previous, width),
                 control_registers(st, c.previous, violations_by_register(c.verdict)))
    return to_lines(body, width, ts.theme)


@tui_pane("summary", "summary")
def summary(view: "TuiView", ts: "TuiState", width: int, height: int) -> list[Fragments]:
    """Small terminals: the mode line with VM, IOPL and EIP, and the verdict, above the tabs."""
    from debugger.ui.tui.modeline import fitted_mode_line

    v = verdict_line(view, width)
    v.no_wrap, v.overflow = True, "crop"
    return to_lines(fitted_mode_line(view.context, width, extra=True), width, ts.theme)[
        :max(1, height - 1)] + to_lines(v, width, ts.theme)


def verdict_line(view: "TuiView", width: int = 400) -> Text:
    """`vmx: enterable` / `vmx: not enterable: 3 rules  ID, ID, ID`: as many whole rule IDs as
    fit in `width`, then `, +N` for the rest."""
    c = view.context
    t = Text()
    t.append(f"{c.profile}: ", style="heading")
    v = c.verdict
    if v is None:
        t.append(f"unchecked ({c.verdict_error})" if c.verdict_error else "unchecked",
                 style="warning")
    elif getattr(v, "ok", False):
        t.append("enterable", style="ok")
    else:
        rules = sorted({str(x.rule) for x in getattr(v, "violations", ())})
        n = len(rules)
        t.append(f"not enterable: {n} rule{'s' if n != 1 else ''}", style="bad")
        for i in range(n, -1, -1):
            more = f", +{n - i}" if i < n else ""
            text = ("  " + ", ".join(rules[:i]) if i else "") + more
            if len(t.plain) + len(text) <= width or i == 0:
                t.append(text, style="rule.id")
                break
    return t


def profile_selector(view: "TuiView") -> Text:
    t = Text("profile ", style="muted")
    for p in view.profiles:
        t.append(f" {p} ", style="profile.active" if p == view.context.profile else
                 "profile.other")
    t.append("  (< > to change)", style="muted")
    return t


_SEG_COLS = (("reg", 4), ("sel", 4), ("base", 8), ("limit", 8), ("AR", 5), ("type", 11),
             ("S", 1), ("DPL", 3), ("P", 1), ("D/B", 3), ("G", 1), ("L", 1), ("U", 1))


def segment_rows(st: "CpuState", prev: "CpuState | None",
                 bad: dict[str, list[tuple[str, str]]], width: int = 200) -> Text:
    """The segment caches as a compact table (one space between columns), rejected fields in
    the error style and their rule IDs at the end of the row (on the next lines, indented, when
    they do not fit in `width`)."""
    from debugger.cpustate import Mode
    from debugger.ui.fmt import seg_type
    from debugger.ui.panes.segments import column_of

    wide = st.mode in (Mode.LONG, Mode.COMPAT) or any(s.base >> 32 for _, s in st.segments())
    cols = [(c, 16 if c == "base" and wide else w) for c, w in _SEG_COLS]

    def cells(name: str, seg: Any) -> dict[str, str]:
        return {"reg": name.upper(), "sel": f"{seg.selector:04x}",
                "base": f"{seg.base:0{16 if wide else 8}x}", "limit": f"{seg.limit:08x}",
                "AR": f"{seg.ar:05x}", "type": seg_type(seg), "S": str(seg.s),
                "DPL": str(seg.dpl), "P": str(seg.present), "D/B": str(seg.db), "G": str(seg.g),
                "L": str(seg.l), "U": "u" if seg.unusable else "-"}

    t = Text()
    for c, w in cols:
        t.append(f"{c:<{w}} ", style="muted")
    if sum(w + 1 for _, w in cols) + 5 <= width:     # (else the header is not cut: left out)
        t.append("rules", style="muted")
    for name, seg in st.segments():
        t.append("\n")
        now = cells(name, seg)
        old = cells(name, getattr(prev, name)) if prev is not None else now
        marks: dict[str, list[str]] = {}
        for fld, rule in bad.get(name, []):
            marks.setdefault(column_of(fld), []).append(rule)
        for c, w in cols:
            style = "seg.name" if c == "reg" else (
                "seg.bad" if c in marks else "reg.changed" if now[c] != old[c] else
                "seg.unusable" if seg.unusable else "seg.field")
            t.append(f"{now[c][:w]:<{w}}", style=style)
            t.append(" ")
        rules = sorted({r for rs in marks.values() for r in rs})
        used = sum(w + 1 for _, w in cols)
        for r in rules:
            if used + len(r) > width and used > 5:
                t.append("\n     ")
                used = 5
            t.append(r + " ", style="rule.id")
            used += len(r) + 1
    return t


@tui_pane("segments", lambda v, s: "segments · VM-entry verdict")
def segments(view: "TuiView", ts: "TuiState", width: int, height: int) -> list[Fragments]:
    from debugger.ui.verdicts import violations_by_register
    from debugger.ui.panes.segments import dtr_line

    c = view.context
    bad = violations_by_register(c.verdict)
    body = Group(_crop(verdict_line(view, width)), _crop(profile_selector(view)),
                 _crop(segment_rows(c.state, c.previous, bad, width)), _crop(dtr_line(c.state)))
    return to_lines(body, width, ts.theme)


def code_index(view: "TuiView", address: int | None) -> int:
    """The index of the listing line at `address` (CS:EIP when None); -1 if not listed."""
    target = view.context.state.pc if address is None else address
    for i, ins in enumerate(view.context.code):
        if ins.address == target:
            return i
    return -1


def _code_title(view: "TuiView", ts: "TuiState") -> str:
    return f"code ({view.context.state.bits}-bit)" + (
        "  ? = start guessed" if view.code_guessed else "") + (
        "  F9 toggles a breakpoint" if ts.focus == "code" else "")


def _guessed(line: Fragments) -> Fragments:
    """A listing line whose start is not known to be an instruction boundary: `?` in the
    marker column, in italics."""
    out: Fragments = []
    pos = 0
    for style, text in line:
        if pos <= 1 < pos + len(text):
            text = text[:1 - pos] + "?" + text[2 - pos:]
        pos += len(text)
        out.append(((style + " italic").strip(), text))
    return out


_INSN_ROOM = (28, 44)     # the instruction text gets at least / at most this many columns


def code_columns(view: "TuiView", width: int) -> tuple[int, int]:
    """(bytes shown per instruction, width of the `<name+off>` column) for the code pane: the
    names of the whole listing make one column (so scrolling keeps it); the bytes give way
    first (as in gdb's TUI, which shows none), then the names are cut, until the listing's
    longest instruction (up to 44 columns, at least 28) has room (a branch target's name after
    it may be cut)."""
    from debugger.ui.fmt import seg_off

    c = view.context
    names = [c.symbols.describe(i.address) for i in c.code] if c.symbols else []
    label = max((len(n) + 2 for n in names if n), default=0)
    if not c.code:
        return 8, label

    room = max(_INSN_ROOM[0], min(_INSN_ROOM[1], max(len(i.text) for i in c.code)))
    prefix = 4 + len(seg_off(c.state, c.code[0].address)) + 1 + 8 + 2
    for byte_cols in (8, 6, 4, 3, 0):
        used = 2 * byte_cols + 2 if byte_cols else 0
        if prefix + (label + 1 if label else 0) + used + room <= width:
            return byte_cols, label
    return 0, max(8, width - prefix - room - 1) if label else 0


@tui_pane("code", _code_title)
def code(view: "TuiView", ts: "TuiState", width: int, height: int) -> list[Fragments]:
    from debugger.ui.panes.code import listing

    c = view.context
    if not c.code:
        return to_lines(Text("(no code readable here)", style="muted"), width, ts.theme)
    byte_cols, label_width = code_columns(view, width)
    lines = to_lines(_crop(listing(c.state, c.code, current=c.state.pc,
                                   breakpoints=c.breakpoints, symbols=c.symbols,
                                   byte_cols=byte_cols, label_width=label_width)), width,
                     ts.theme)
    for i, ins in enumerate(c.code):
        if ins.address in view.code_guessed and i < len(lines):
            lines[i] = _guessed(lines[i])
    cur = code_index(view, ts.code_cursor) if ts.focus == "code" else -1
    if 0 <= cur < len(lines):
        lines[cur] = [(s + " reverse" if s else "reverse", t) for s, t in lines[cur]]
    return lines


def _stack_title(view: "TuiView", ts: "TuiState") -> str:
    st = view.state
    return f"stack (SS:{'RSP' if st.bits == 64 else 'ESP' if st.ss.db else 'SP'})"


@tui_pane("stack", _stack_title)
def stack(view: "TuiView", ts: "TuiState", width: int, height: int) -> list[Fragments]:
    from debugger.ui.panes.stack import stack_text

    return to_lines(_crop(stack_text(view.state, view.context.stack)), width, ts.theme)
