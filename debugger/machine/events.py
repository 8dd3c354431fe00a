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
        # Events made only when someone looks (`add_lazy`), and what to run before an emit
        # (the machine reads back what its native hooks did in the running slice).
        self._lazy: list[tuple[int, Callable[[int], list[Event]]]] = []
        self.before_emit: Callable[[], None] | None = None

    def emit(self, kind: str, message: str, **details: Any) -> Event:
        return self.emit_at(self._clock(), kind, message, **details)

    def emit_at(self, icount: int, kind: str, message: str, /, **details: Any) -> Event:
        """`emit` for an event that happened at `icount` (read back after a run); the details
        may have any names (a plugin's event has its own `icount`)."""
        if self.before_emit is not None:
            self.before_emit()
        self._settle()
        ev = Event(kind, icount, message, details)
        self._events.append(ev)
        self.total += 1
        if self.total > self._high_water:      # not a re-execution after going back in time
            self._high_water = self.total
            for fn in list(self._subscribers):
                fn(ev)
        return ev

    def add_lazy(self, count: int, make: Callable[[int], list[Event]]) -> None:
        """`count` events emitted (in order, with no subscriber) that are made only when the
        log is read: `make(k)` returns the last k of them."""
        if count:
            self._lazy.append((count, make))
            self.total += count
            self._high_water = max(self._high_water, self.total)

    def _settle(self) -> None:
        if not self._lazy:
            return
        lazy, self._lazy = self._lazy, []
        want = self._events.maxlen or 0
        parts = []
        for count, make in reversed(lazy):      # (only the newest fit in the log)
            if want <= 0:
                break
            k = min(count, want)
            parts.append(make(k))
            want -= k
        for evs in reversed(parts):
            self._events.extend(evs)

    def truncate(self, total: int) -> None:
        """Forget the events emitted after the first `total` (used when going back in time)."""
        self._settle()
        while self.total > total and self._events:
            self._events.pop()
            self.total -= 1
        self.total = min(self.total, total)

    @property
    def subscribed(self) -> bool:
        """Does anyone watch events as they are emitted?"""
        return bool(self._subscribers)

    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        """Call `fn` for every new event; returns a function that removes the subscription."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def __iter__(self) -> Iterator[Event]:
        self._settle()
        return iter(self._events)

    def __len__(self) -> int:
        self._settle()
        return len(self._events)

    def last(self, n: int) -> list[Event]:
        self._settle()
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
