"""Dense points (rr-like): going back leaves copy-on-write checkpoints near the target, later
reverse steps start from them, and every position is still exact."""
from __future__ import annotations

from pathlib import Path

from debugger.engine.session import Session
from debugger.trace import timetravel
from debugger.trace.timetravel import attach

IMAGES = Path(__file__).resolve().parents[2] / "images"


def fresh_at(icount: int) -> Session:
    s = Session(IMAGES / "bench-real.img")
    while s.icount < icount:
        assert s.machine.run(icount - s.icount).reason == "budget"
    return s


def same(a: Session, b: Session) -> bool:
    ram = [x.machine.mem.read_phys(0, 0x30000) for x in (a, b)]
    return a.state() == b.state() and ram[0] == ram[1] and a.icount == b.icount


def test_reverse_steps_use_dense_points_and_stay_exact(monkeypatch) -> None:
    s = Session(IMAGES / "bench-real.img")
    tt = attach(s, interval=1_000_000)
    s.cont(max_insns=1_900_000)
    end = s.icount
    restores = []
    monkeypatch.setattr(tt.tl, "restore", _counting(tt.tl.restore, restores))
    assert tt.reverse_stepi().kind == "step" and s.icount == end - 1
    assert len(restores) == 1                  # the first step replays from the 1 M point...
    marks = [cp.icount for cp in tt.dense]
    assert marks == [end - 1 - d for d in sorted(timetravel.DENSE_STEPS, reverse=True)
                     if end - 1 - d > 1_000_000 + timetravel.DENSE_MIN]
    assert len(marks) >= 2
    tt.reverse_stepi()
    tt.reverse_stepi(40_000)                   # ...the next ones from dense points
    assert len(restores) == 1 and s.icount == end - 40_002
    assert same(s, fresh_at(end - 40_002))
    tt.goto(end - 300_000)
    assert len(restores) == 1 and same(s, fresh_at(end - 300_000))
    tt.goto(end)                               # forward again, then back: still exact
    tt.reverse_stepi(5)
    assert same(s, fresh_at(end - 5))
    tt.goto(100)                               # far back: a timeline point, dense reset
    assert len(restores) == 2 and len(tt.dense) <= 1 and same(s, fresh_at(100))
    s.set_register("esi", 7)                   # an edit drops dense points after it
    assert all(cp.icount <= 100 for cp in tt.dense)


def _counting(fn, calls):
    def wrapper(*a, **kw):
        calls.append(a)
        return fn(*a, **kw)
    return wrapper
