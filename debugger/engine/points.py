"""Breakpoints, watchpoints and catchpoints: one numbered table, as in gdb.

Every point has a number, an enabled flag, a hit count, an ignore count, an optional condition
(an expression of `debugger.engine.expr`), optional commands (run by the REPL), and `temporary`
(deleted after its first stop).  Catchpoints marked `fail` make a batch run exit with code 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

__all__ = ["Point", "Breakpoint", "Watchpoint", "IoWatch", "ExprWatch", "Catchpoint",
           "PointTable", "CATCH_KINDS"]

CATCH_KINDS = ("vm86", "mode", "cpl", "vmx-invalid", "vmx-valid", "dtr", "sreg", "cr", "int",
               "exception", "irq", "triple-fault", "hlt", "io", "a20", "bios")


@dataclass
class Point:
    number: int = 0
    enabled: bool = True
    hits: int = 0
    ignore: int = 0
    condition: Any = None          # a parsed expression, or None
    temporary: bool = False
    commands: list[str] = field(default_factory=list)
    silent: bool = False

    kind = "point"

    def describe(self) -> str:
        return self.kind


@dataclass
class Breakpoint(Point):
    linear: int = 0
    physical: bool = False          # match the physical address instead of the linear one
    location: str = ""              # as the user wrote it

    kind = "breakpoint"

    def describe(self) -> str:
        space = "physical" if self.physical else "linear"
        return f"breakpoint at {self.location or hex(self.linear)} ({space} {self.linear:#x})"


@dataclass
class Watchpoint(Point):
    """A memory watchpoint on [address, address+length) in the linear or physical space."""

    address: int = 0
    length: int = 1
    access: str = "write"           # "write" | "read" | "access"
    space: str = "linear"
    location: str = ""

    kind = "watchpoint"

    def describe(self) -> str:
        verb = {"write": "watch", "read": "rwatch", "access": "awatch"}[self.access]
        return (f"{verb} {self.space} {self.address:#x}..{self.address + self.length - 1:#x}"
                + (f" ({self.location})" if self.location else ""))


@dataclass
class IoWatch(Point):
    first: int = 0
    last: int = 0
    direction: str = "both"         # "in" | "out" | "both"
    value: Any = None               # expression over `$value` (and `$port`), or None

    kind = "watchpoint"

    def describe(self) -> str:
        rng = f"{self.first:#x}" if self.first == self.last else f"{self.first:#x}-{self.last:#x}"
        return f"watch io {rng} ({self.direction})"


@dataclass
class ExprWatch(Point):
    """Stop when the value of an expression (register or field) changes."""

    expr: Any = None
    text: str = ""
    last_value: int | None = None

    kind = "watchpoint"

    def describe(self) -> str:
        return f"watch {self.text}"


@dataclass
class Catchpoint(Point):
    catch: str = ""                 # one of CATCH_KINDS
    args: tuple[Any, ...] = ()      # e.g. ("enter",), profiles, vector/AH, register names
    fail: bool = False

    kind = "catchpoint"

    def describe(self) -> str:
        extra = " ".join(str(a) if not isinstance(a, int) else f"{a:#x}" for a in self.args)
        return f"catch {self.catch}{(' ' + extra) if extra else ''}" + (" fail" if self.fail
                                                                          else "")


class PointTable:
    def __init__(self) -> None:
        self._points: dict[int, Point] = {}
        self._next = 1
        self.version = 0            # bumped on every change (the engine re-arms on change)

    def add(self, p: Point) -> Point:
        p.number = self._next
        self._next += 1
        self._points[p.number] = p
        self.version += 1
        return p

    def get(self, number: int) -> Point:
        try:
            return self._points[number]
        except KeyError:
            raise KeyError(f"no breakpoint, watchpoint or catchpoint number {number}") from None

    def delete(self, number: int) -> None:
        self.get(number)
        del self._points[number]
        self.version += 1

    def clear(self) -> None:
        self._points.clear()
        self.version += 1

    def changed(self) -> None:
        self.version += 1

    def __iter__(self) -> Iterator[Point]:
        return iter(list(self._points.values()))

    def __len__(self) -> int:
        return len(self._points)

    def active(self, cls: type | None = None) -> list[Any]:
        return [p for p in self._points.values()
                if p.enabled and (cls is None or isinstance(p, cls))]
