"""`display[/FMT] EXPR` (gdb): expressions shown after every stop; `undisplay`, `info display`.
`/FMT` as for print (x d u o t c a: the value) or, with a count or i/s, as for x (memory at the
address: display/i $pc, display/4xw $esp)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text

from debugger.commands import CommandError, command
from debugger.commands.info import sub

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

_FMT = re.compile(r"^/(0x[0-9a-fA-F]+|\d*)([a-z]*)\s*")


@dataclass
class Display:
    number: int
    expr: str
    fmt: str = ""              # "" or the /FMT text without the slash
    enabled: bool = True

    @property
    def examines(self) -> bool:
        """Memory (x) rather than a value (print)."""
        m = _FMT.match("/" + self.fmt)
        return bool(m and (m.group(1) or set(m.group(2)) & set("is")))


def _table(ctx: "CommandContext") -> list[Display]:
    if not hasattr(ctx, "displays"):
        ctx.displays = []  # type: ignore[attr-defined]
        ctx.display_next = 1  # type: ignore[attr-defined]
        ctx.stop_hooks.append(show_displays)
    return ctx.displays  # type: ignore[attr-defined,no-any-return]


def _show_one(ctx: "CommandContext", d: Display) -> Text:
    from debugger.commands.args import value
    from debugger.commands.data import _format
    from debugger.commands.memory import examine

    head = f"{d.number}: "
    try:
        if d.examines:
            saved = ctx.last_x
            try:
                body = examine(ctx, f"/{d.fmt} {d.expr}", "linear")
            finally:
                ctx.last_x = saved
            text = body.plain if isinstance(body, Text) else str(body)
            return Text(f"{head}x/{d.fmt} {d.expr}\n{text}")
        if d.fmt and d.fmt not in "xduotca":
            raise CommandError(f"unknown format {d.fmt!r} (x d u o t c a, or x's with a count)")
        shown = _format(value(ctx, d.expr), d.fmt or None)
        return Text(f"{head}{'/' + d.fmt + ' ' if d.fmt else ''}{d.expr} = {shown}")
    except Exception as exc:                 # a display that cannot be shown now says why
        return Text(f"{head}{d.expr}: <{str(exc).splitlines()[0] if str(exc) else exc}>")


def show_displays(ctx: "CommandContext") -> None:
    """Print every enabled display (called at each stop)."""
    for d in list(_table(ctx)):
        if d.enabled:
            ctx.print(_show_one(ctx, d))


@command("display", category="data", usage="display[/FMT] [EXPR]",
         help="Show EXPR after every stop (and now): display $eax   display/x cr0\n"
              "display/i $pc   display/4xw $esp.  Without EXPR: show them all now.")
def display(ctx: "CommandContext", args: str) -> Any:
    text = args.strip()
    fmt = ""
    m = _FMT.match(text) if text.startswith("/") else None
    if m:
        fmt = (m.group(1) or "") + m.group(2)
        text = text[m.end():].strip()
        bad = set(m.group(2)) - set("xduotacsibhwg")
        if bad:
            raise CommandError(f"unknown format letter {sorted(bad)[0]!r}")
    if not text:
        if fmt:
            raise CommandError("display/FMT needs an expression")
        show_displays(ctx)
        return None
    d = Display(ctx.display_next if hasattr(ctx, "display_next") else 1, text, fmt)
    # check it now: a bad expression is refused, not shown as an error at every stop
    shown = _show_one(ctx, d)
    if shown.plain.endswith(">") and ": <" in shown.plain.splitlines()[0]:
        raise CommandError(shown.plain.split(": <", 1)[1].rstrip(">"))
    _table(ctx).append(d)
    ctx.display_next = d.number + 1  # type: ignore[attr-defined]
    return shown


@command("undisplay", category="data", usage="undisplay [N...]",
         help="Stop showing displays N... (all of them without N).")
def undisplay(ctx: "CommandContext", args: str) -> Any:
    table = _table(ctx)
    if not args.strip():
        table.clear()
        return None
    for w in args.replace(",", " ").split():
        try:
            n = int(w, 0)
        except ValueError:
            raise CommandError(f"bad display number {w!r}") from None
        if not any(d.number == n for d in table):
            raise CommandError(f"no display number {n}")
        table[:] = [d for d in table if d.number != n]
    return None


@sub("display", "the expressions shown at every stop (display)")
def info_display(ctx: "CommandContext", args: str) -> Any:
    table = _table(ctx)
    if not table:
        return "There are no auto-display expressions now."
    lines = ["Auto-display expressions now in effect:", "Num Enb Expression"]
    lines += [f"{d.number:<3} {'y' if d.enabled else 'n'}   "
              f"{'/' + d.fmt + ' ' if d.fmt else ''}{d.expr}" for d in table]
    return Text("\n".join(lines))
