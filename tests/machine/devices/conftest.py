"""Fixtures for the device tests: the machine's own Clock (advanced by setting `icount`), an
event log on it, and an IRQ sink that records line changes."""
from __future__ import annotations

import pytest

from debugger.machine.bus import Clock
from debugger.machine.events import EventLog


class IrqRecorder:
    """An IrqSink that remembers every raise/lower and the current level of each line."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.levels: set[int] = set()

    def raise_irq(self, line: int) -> None:
        self.log.append(("raise", line))
        self.levels.add(line)

    def lower_irq(self, line: int) -> None:
        self.log.append(("lower", line))
        self.levels.discard(line)

    def raises(self, line: int) -> int:
        return sum(1 for kind, n in self.log if kind == "raise" and n == line)


@pytest.fixture
def clock() -> Clock:
    return Clock(10)


@pytest.fixture
def events(clock: Clock) -> EventLog:
    return EventLog(lambda: clock.icount)


@pytest.fixture
def irq() -> IrqRecorder:
    return IrqRecorder()
