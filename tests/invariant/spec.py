"""What a differential example arms and runs, independent of how it is carried out.

A `Spec` is one armed point (breakpoint, memory/register/I-O watchpoint or catchpoint, with an
optional condition and ignore count); `Cmd` is one run command.  `arm_session` sets the points on
a `debugger.Session` the way a user does through the API; the reference stepper
(`reference.py`) reads the same specs and evaluates them itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Spec", "Cmd", "arm_session", "run_session"]


@dataclass(frozen=True)
class Spec:
    what: str                      # "break" | "watch" | "regwatch" | "io" | "catch"
    args: tuple[Any, ...] = ()
    condition: str | None = None
    ignore: int = 0

    def text(self) -> str:
        extra = (f" if {self.condition}" if self.condition else "") + (
            f" ignore {self.ignore}" if self.ignore else "")
        return f"{self.what} {' '.join(map(str, self.args))}{extra}"


@dataclass(frozen=True)
class Cmd:
    name: str                      # "stepi" | "nexti" | "continue" | "until" | "finish" |
    #                                "reverse-stepi" | "reverse-continue" | "reverse-finish"
    arg: Any = None

    def text(self) -> str:
        return self.name + ("" if self.arg is None else f" {self.arg}")


def arm_session(s: Any, specs: list[Spec]) -> None:
    """Arm `specs` on a Session, in order (point numbers 1, 2, ...)."""
    for sp in specs:
        a = sp.args
        if sp.what == "break":                 # (location text, space)
            loc, space = a
            p = s.break_at(loc, physical=space == "physical")
        elif sp.what == "watch":               # (linear or physical address, length, access, space)
            addr, length, access, space = a
            p = s.watch(addr, length, access, space=space)
        elif sp.what == "regwatch":
            p = s.watch_expr(a[0])
        elif sp.what == "io":                  # (first, last, direction, value expression)
            first, last, direction, value = a
            p = s.watch_io(first, last, direction, value)
        elif sp.what == "catch":
            p = s.catch(a[0], *a[1:])
        else:
            raise ValueError(sp.what)
        if sp.condition:
            s.condition(p.number, sp.condition)
        if sp.ignore:
            s.ignore(p.number, sp.ignore)


def run_session(s: Any, cmd: Cmd) -> Any:
    """Carry out `cmd` on a Session; the StopEvent."""
    if cmd.name == "stepi":
        return s.step(cmd.arg)
    if cmd.name == "nexti":
        return s.next()
    if cmd.name == "continue":
        return s.cont(max_insns=cmd.arg)
    if cmd.name == "until":
        return s.until(cmd.arg)
    if cmd.name == "finish":
        return s.finish()
    if cmd.name == "reverse-stepi":
        return s.timeline.reverse_stepi(cmd.arg)
    if cmd.name == "reverse-continue":
        return s.timeline.reverse_continue()
    if cmd.name == "reverse-finish":
        return s.timeline.reverse_finish()
    raise ValueError(cmd.name)
