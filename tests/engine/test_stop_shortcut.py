"""A transition found at the end of a fast run's block is checked where the machine stands,
without going back to the checkpoint, when only the block's last instruction can have made it
(`fastrun._last_instruction`).  Every stop, with its changes, hit counts and the state it shows,
must be the one that going back and stepping exactly finds (BOOTDBG_NO_STOP_SHORTCUT)."""
from __future__ import annotations

import pytest

from tests.conftest import demo_session

CATCHES = ("vm86", "mode", "cpl", "vmx-invalid", "vmx-valid", "dtr", "sreg", "cr",
           "triple-fault", "a20")


def _stops(name: str, shortcut: bool, limit: int, monkeypatch: pytest.MonkeyPatch
           ) -> tuple[list[tuple], int]:
    from debugger.engine import fastrun

    monkeypatch.setattr(fastrun, "_NO_SHORTCUT", not shortcut)
    taken = 0
    orig = fastrun.FastRun._last_instruction

    def counted(self, *a):
        nonlocal taken
        ev = orig(self, *a)
        taken += ev is not fastrun._LOCALISE
        return ev
    monkeypatch.setattr(fastrun.FastRun, "_last_instruction", counted)
    s = demo_session(name, native=True)
    for kind in CATCHES:
        s.catch(kind)
    # a condition and an ignore count: a stop the shortcut declines must leave the same hits
    sreg = [p for p in s.points.active() if getattr(p, "catch", "") == "sreg"][0]
    s.condition(sreg.number, "ax != 0x1234")
    mode = [p for p in s.points.active() if getattr(p, "catch", "") == "mode"][0]
    s.ignore(mode.number, 3)
    out = []
    for _ in range(limit):
        ev = s.cont(max_insns=2_000_000)
        st = s.state()
        out.append((ev.kind, ev.icount, ev.cs, ev.eip, ev.message, ev.instruction_bytes,
                    ev.instruction_address, ev.bits, tuple(map(str, ev.changes)),
                    repr(ev.details), ev.point, st))
        if ev.final or ev.kind == "budget":
            break
    out.append(tuple((p.number, p.hits, p.ignore) for p in s.points.active()))
    return out, taken


@pytest.mark.parametrize("name,limit", [("bench-switch", 600), ("vm86", 400),
                                        ("pmode", 400), ("longmode", 400), ("hello", 400),
                                        ("timers", 400), ("unreal", 400)])
def test_shortcut_stops_are_the_exact_stops(name, limit, monkeypatch):
    from debugger.engine import runner

    if not runner.native_available():
        pytest.skip("native fast path not built")
    with monkeypatch.context() as mp:
        slow, _ = _stops(name, False, limit, mp)
    with monkeypatch.context() as mp:
        fast, taken = _stops(name, True, limit, mp)
    assert len(fast) == len(slow)
    for i, (a, b) in enumerate(zip(fast, slow)):
        assert a == b, f"stop {i}: {a} != {b}"
    # (bench-switch: two of each trip's three stops; the others: their mode switches, whose
    # blocks read CR0 before writing it, and the real-mode INTs that reload CS)
    assert taken >= {"bench-switch": 40, "hello": 10, "timers": 0}.get(name, 1), taken
