"""Reverse execution on a Session: restore the nearest earlier point, then replay forward.

    from debugger.trace.timetravel import attach
    tt = attach(session)              # session.timeline; points every 4 M instructions
    session.cont()
    tt.reverse_stepi()                # StopEvent, like any run
    tt.reverse_continue()             # back to the last point (breakpoint, watchpoint, catch)

Positions are instruction counts.  Going to icount N restores the latest point before N and
runs the machine N - point instructions with nothing armed, so N is reached the way a forward
run with a budget reaches it.  Going backwards, that replay also leaves "dense" points (the
engine's copy-on-write checkpoints, cheap to take and to restore) 32 Ki, 128 Ki, 512 Ki and 2 Mi
instructions before the target, like rr: repeated reverse steps then replay at most the gap to
the nearest one instead of the timeline's interval.  Restoring one discards the later ones (the
engine's snapshots are a stack), so at most a few are alive (never more than MAX_DENSE); the
pages the engine copies for them are outside the timeline's budget, and going to a timeline
point gives them back (the oldest is restored first, discarding the rest).

reverse-continue replays the windows between points, newest
first, with the session's points armed and collects every stop in the window; the last stop
before the current position is re-created by replaying to it again (the engine is
deterministic, so the second pass stops at the same place).  Ignore counts, hit counts and
temporary points are left as they were.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from debugger.cpustate import Activity
from debugger.engine.stops import StopEvent
from debugger.machine.halt import wake
from debugger.trace.timeline import DEFAULT_INTERVAL, Point, Timeline

if TYPE_CHECKING:
    from debugger.engine.session import Session

__all__ = ["TimeTravel", "attach", "TimeTravelError"]

# Going back, the replay leaves copy-on-write machine checkpoints (tens of microseconds each)
# this far before the target, so the next reverse steps replay at most the gap to one of them.
DENSE_STEPS = (1 << 15, 1 << 17, 1 << 19, 1 << 21)
DENSE_MIN = 1 << 13
MAX_DENSE = 16
_FINAL = ("halted", "triple-fault", "reset", "unmapped", "unsupported", "boot-failed",
          "interrupt")


class TimeTravelError(Exception):
    """A time-travel request that cannot be carried out (one line)."""


def attach(session: "Session", *, interval: int = DEFAULT_INTERVAL,
           budget: int = 512 << 20) -> "TimeTravel":
    """Turn time travel on for `session` (idempotent); takes a first point right away."""
    tt = getattr(session, "timeline", None)
    if tt is None:
        tt = TimeTravel(session, interval=interval, budget=budget)
        session.timeline = tt       # type: ignore[attr-defined]
        tt.tl.take()
    return tt


class TimeTravel:
    def __init__(self, s: "Session", *, interval: int, budget: int) -> None:
        self.s = s
        self.tl = Timeline(s.machine, interval=interval, budget=budget)
        self.numbers = 0
        self.edits: list[dict[str, Any]] = []
        self.dense: list[Any] = []       # machine checkpoints on the line, in icount order
        self.edit_listeners: list[Callable[[dict[str, Any]], None]] = []

    # -- hooks the engine calls ----------------------------------------------------------------
    def clip(self, chunk: int) -> int:
        """A fast run's chunk size: end the chunk where the next point is due."""
        due = self.tl.last_icount() + self.tl.interval - self.s.machine.icount
        return max(1, min(chunk, due)) if due > 0 else chunk

    def tick(self) -> None:
        """Between chunks of a fast run (the machine at rest after a budget stop)."""
        if self.tl.due():
            self.tl.take()

    def edited(self, kind: str, **details: Any) -> None:
        """The user changed the state: the recorded future no longer holds."""
        self.tl.forget_after(self.s.machine.icount)
        self.dense = [cp for cp in self.dense if cp.icount <= self.s.machine.icount]
        edit = {"icount": self.s.machine.icount, "kind": kind, **details}
        self.edits.append(edit)
        for fn in list(self.edit_listeners):
            fn(edit)

    # -- positions -----------------------------------------------------------------------------
    @property
    def icount(self) -> int:
        return self.s.machine.icount

    def _seek(self, target: int) -> str | None:
        """Put the machine at icount `target` (not later); None or why it stopped earlier."""
        m = self.s.machine
        key = self.tl.before(target, inclusive=True)   # a point at `target` itself will do
        cp = self._dense_before(target)
        base = max(key[0] if key is not None else -1, cp.icount if cp is not None else -1)
        if base < 0:
            raise TimeTravelError("no checkpoint before that point (time travel was turned "
                                  "on later)")
        back = target < m.icount
        # Going forward from the current position is as good as from a point: the position is
        # on the recorded line (a user edit drops the points after it).
        if not base <= m.icount <= target:
            if cp is not None and cp.icount == base:
                self._jump(lambda: m.restore(cp))
                del self.dense[self.dense.index(cp) + 1:]
            else:
                assert key is not None
                self._reset_dense()
                self.tl.restore(key)
        return self._replay_to(target, dense=back)

    def _replay_to(self, target: int, *, dense: bool = False) -> str | None:
        """Run (nothing armed) to icount `target`; with `dense` (going back), leave dense
        points at DENSE_STEPS before the target on the way."""
        m = self.s.machine
        marks = sorted(target - d for d in DENSE_STEPS if target - d > m.icount + DENSE_MIN) \
            if dense else []
        saved_exits, saved_filter = m.extra_exits, m.event_filter
        m.extra_exits, m.event_filter = set(), None
        try:
            while m.icount < target:
                if marks and m.icount >= marks[0]:
                    marks = [x for x in marks if x > m.icount]
                    if len(self.dense) < MAX_DENSE:
                        self.dense.append(m.checkpoint())
                step = target - m.icount
                if marks:
                    step = min(step, marks[0] - m.icount)
                if self.tl.due():
                    self.tl.take()
                step = min(step, self.clip(step))
                r = m.run(step)
                if r.reason != "budget" and m.icount < target:
                    return r.reason
            if m.cpu.activity is Activity.HLT:
                # The position at an icount is after all that comes before the next
                # instruction (a delivered fault, as a run leaves it): waiting in HLT, the wait
                # and the interrupt that ends it too.
                wake(m)
        finally:
            m.extra_exits, m.event_filter = saved_exits, saved_filter
        return None

    # -- dense points near the position (rr-like) --------------------------------------------------
    def _dense_before(self, target: int) -> Any:
        from debugger.machine import snapshot

        m = self.s.machine
        self.dense = [cp for cp in self.dense if snapshot.valid(m, cp)]
        best = None
        for cp in self.dense:
            if cp.icount <= target:
                best = cp
        return best

    def _jump(self, fn: Callable[[], Any]) -> None:
        for listener in list(self.tl.restore_listeners):
            listener()
        fn()

    def _reset_dense(self) -> None:
        """Before a jump to a timeline point: give the engine's copy-on-write layers of the
        dense points back (restoring the oldest discards every later one; the timeline restore
        that follows sets the whole state)."""
        if len(self.dense) > 1:
            first = self.dense[0]
            self._jump(lambda: self.s.machine.restore(first))
            del self.dense[1:]

    def _stop(self, kind: str, message: str = "", **kw: Any) -> StopEvent:
        from debugger.engine.runner import make_stop

        return make_stop(self.s, kind, message, **kw)

    def _run(self, fn: Callable[[], StopEvent]) -> StopEvent:
        from debugger.engine.session import SessionError

        try:
            return self.s._run(fn)
        except TimeTravelError as exc:
            raise SessionError(str(exc)) from None

    # -- commands --------------------------------------------------------------------------------
    def goto(self, icount: int) -> StopEvent:
        if icount < 0:
            raise TimeTravelError("instruction counts start at 0")

        def go() -> StopEvent:
            why = self._seek(icount)
            if why is not None:
                return self._stop("history", f"the run ends at icount {self.icount} ({why}); "
                                  f"{icount} was never reached")
            return self._stop("goto", f"at icount {icount}")
        return self._run(go)

    def reverse_stepi(self, n: int = 1) -> StopEvent:
        if n < 1:
            raise TimeTravelError("step count must be at least 1")
        start = self.tl.keys[0][0] if self.tl.keys else 0      # where the history begins
        target = max(start, self.icount - n)

        def go() -> StopEvent:
            if self.icount <= start:
                return self._stop("history", "no more reverse-execution history")
            self._seek(target)
            return self._stop("step", "" if target > start else
                              "reached the start of the recording")
        return self._run(go)

    def reverse_continue(self) -> StopEvent:
        return self._run(lambda: self._reverse_search(None))

    def reverse_finish(self) -> StopEvent:
        """Back to just before the instruction (or delivery) that entered this frame."""
        st = self.s.state()
        sp0 = st.sp_linear

        def shallower(s: "Session") -> bool:
            return s.state().sp_linear > sp0
        return self._run(lambda: self._reverse_search(shallower, kind="finish"))

    def _reverse_search(self, predicate: Callable[["Session"], bool] | None, *,
                        kind: str = "") -> StopEvent:
        """The latest stop before now: a point firing (predicate None), or the latest
        instruction boundary where `predicate` holds (kind names the stop)."""
        from debugger.engine import runner

        s, m = self.s, self.s.machine
        end = m.icount
        keys = [k for k in self.tl.keys if k[0] < end]
        saved = _save_points(s)
        try:
            hi = end
            for key in reversed(keys):
                if predicate is not None:
                    at = self._scan_back(key, hi, predicate)
                    if at is not None:
                        self._seek(at)
                        return self._stop(kind, f"back to icount {at}, before the frame was "
                                          "entered")
                    hi = key[0]
                    continue
                self.tl.restore(key)
                stops = 0
                while m.icount < hi:
                    ev = runner.run(s, hi - m.icount)
                    if ev.kind in ("budget", "step") or ev.kind in _FINAL or ev.icount >= end:
                        break       # (a stop at the current icount is where we are)
                    stops += 1
                if stops:
                    self.tl.restore(key)
                    for _ in range(stops):
                        ev = runner.run(s, hi - m.icount)
                    return ev
                hi = key[0]
            first = self.tl.keys[0]
            self.tl.restore(first)
            return self._stop("history", "no more reverse-execution history")
        finally:
            _load_points(s, saved)

    def _scan_back(self, key: Any, hi: int, predicate: Callable[["Session"], bool]
                   ) -> int | None:
        """The latest icount in [key, hi) where `predicate` holds, stepping the window's
        last 4 Ki instructions, then the 16 Ki before them, and so on."""
        m = self.s.machine
        piece = 4096
        top = hi
        while top > key[0]:
            low = max(key[0], top - piece)
            self.tl.restore(key)
            if self._replay_to(low) is not None:
                return None
            last = None
            saved_exits, saved_filter = m.extra_exits, m.event_filter
            m.extra_exits, m.event_filter = set(), None
            try:
                while m.icount < top:
                    if predicate(self.s):
                        last = m.icount
                    if m.run(1).reason != "budget":
                        break
            finally:
                m.extra_exits, m.event_filter = saved_exits, saved_filter
            if last is not None:
                return last
            top = low
            piece *= 4
        return None

    def checkpoint(self) -> Point:
        self.numbers += 1
        pt = self.tl.take(number=self.numbers)
        return pt

    def restart(self, number: int) -> StopEvent:
        match = [p for p in self.tl.user_points() if p.number == number]
        if not match:
            raise TimeTravelError(f"no checkpoint {number} (info checkpoints lists them)")
        key = match[0].key

        def go() -> StopEvent:
            self.tl.restore(key)
            return self._stop("goto", f"checkpoint {number} at icount {key[0]}")
        return self._run(go)

    def delete_checkpoint(self, number: int) -> None:
        match = [p for p in self.tl.user_points() if p.number == number]
        if not match:
            raise TimeTravelError(f"no checkpoint {number}")
        match[0].number = None


def _save_points(s: "Session") -> list[tuple[Any, int, int, bool, Any]]:
    out = []
    for p in list(s.points):
        out.append((p, p.hits, p.ignore, p.temporary, getattr(p, "last_value", None)))
        p.temporary = False
    return out


def _load_points(s: "Session", saved: list[tuple[Any, int, int, bool, Any]]) -> None:
    for p, hits, ignore, temporary, last in saved:
        p.hits, p.ignore, p.temporary = hits, ignore, temporary
        if hasattr(p, "last_value"):
            p.last_value = last
