"""Argument helpers shared by the command modules (numbers, counts, on/off, expressions)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.commands import CommandError

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

__all__ = ["number", "count", "on_off", "value", "point_numbers"]


def number(text: str, what: str = "number") -> int:
    t = text.strip().lower().replace("_", "")
    try:
        if t.endswith("h") and len(t) > 1:
            return int(t[:-1], 16)
        return int(t, 0)
    except ValueError:
        raise CommandError(f"{what}: expected a number, not {text.strip()!r}") from None


def count(text: str, default: int = 1, what: str = "count", ctx: "CommandContext | None" = None
          ) -> int:
    if not text.strip():
        return default
    try:
        n = number(text, what)
    except CommandError:
        if ctx is None:
            raise
        n = value(ctx, text)
    if n < 1:
        raise CommandError(f"{what} must be at least 1")
    return n


def value(ctx: "CommandContext", text: str) -> int:
    """Evaluate an expression (SessionError becomes a one-line CommandError)."""
    from debugger.engine.session import SessionError

    if not text.strip():
        raise CommandError("an expression is needed")
    try:
        return ctx.session.eval(text)
    except SessionError as exc:
        raise CommandError(str(exc)) from None


def on_off(text: str, what: str) -> bool:
    t = text.strip().lower()
    if t in ("on", "1", "yes", "true", ""):
        return True
    if t in ("off", "0", "no", "false"):
        return False
    raise CommandError(f"{what}: expected on or off, not {text.strip()!r}")


def point_numbers(ctx: "CommandContext", text: str) -> list[int]:
    """'1 3 5-7' -> [1, 3, 5, 6, 7] (each must exist)."""
    out: list[int] = []
    for part in text.replace(",", " ").split():
        if "-" in part.strip("-"):
            lo, hi = part.split("-", 1)
            a, b = number(lo, "breakpoint number"), number(hi, "breakpoint number")
            if b < a or b - a > 10000:
                raise CommandError(f"bad breakpoint range {part!r}")
            out.extend(range(a, b + 1))
        else:
            out.append(number(part.lstrip("$#"), "breakpoint number"))
    for n in out:
        ctx.session.point(n)          # raises SessionError for an unknown number
    return out
