"""The machine's event log: what the guest did that a user may want to see (BIOS calls, I/O, faults).

Every event carries the instruction count at which it happened, so the log is deterministic and can
be compared between runs.  The log is bounded; subscribers see every event as it is emitted.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Iterator

__all__ = ["Event", "EventLog", "OncePerIcount"]


@dataclass(frozen=True, slots=True)
class Event:
    kind: str            # e.g. "bios", "io-unknown", "exception", "irq", "a20", "reset"
    icount: int
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"[{self.icount}] {self.kind}: {self.message}"


class EventLog:
    def __init__(self, clock: Callable[[], int], capacity: int = 10000) -> None:
        self._clock = clock
        self._events: Deque[Event] = deque(maxlen=capacity)
        self._subscribers: list[Callable[[Event], None]] = []
        self.total = 0
        self._high_water = 0

    def emit(self, kind: str, message: str, **details: Any) -> Event:
        ev = Event(kind, self._clock(), message, details)
        self._events.append(ev)
        self.total += 1
        if self.total > self._high_water:      # not a re-execution after going back in time
            self._high_water = self.total
            for fn in list(self._subscribers):
                fn(ev)
        return ev

    def truncate(self, total: int) -> None:
        """Forget the events emitted after the first `total` (used when going back in time)."""
        while self.total > total and self._events:
            self._events.pop()
            self.total -= 1
        self.total = min(self.total, total)

    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        """Call `fn` for every new event; returns a function that removes the subscription."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def last(self, n: int) -> list[Event]:
        return list(self._events)[-n:]


class OncePerIcount:
    """Passes each happening once: what is seen again at or below the newest icount (the engine
    re-executing after going back to a checkpoint) is dropped.  Happenings at the same icount are
    told apart by `key`."""

    def __init__(self) -> None:
        self.high = -1
        self.seen: set[Any] = set()

    def first(self, icount: int, key: Any) -> bool:
        if icount > self.high:
            self.high, self.seen = icount, {key}
            return True
        if icount == self.high and key not in self.seen:
            self.seen.add(key)
            return True
        return False

    def forget_after(self, icount: int) -> None:
        """History was rewritten after `icount` (a user edit): pass what comes after it again."""
        if self.high > icount:
            self.high, self.seen = icount, set()
