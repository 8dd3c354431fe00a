"""A fast slice that ends early backs off: the next FAST_MIN instructions (doubling while it goes
on) are counted per instruction.  The counted run took the whole budget instead, so a guest
whose first slice ended at a BIOS call ran counted until its next event: bench-switch ran
234,484 of its 290,782 instructions counted.  Now the counted run ends where fast slices are
tried again; the run's end (state and count) is the same either way."""
from __future__ import annotations

import pytest

from debugger.machine import slices
from tests.conftest import ROOT


def _run(monkeypatch):
    from debugger.machine import pc as PC
    from debugger.machine.disk import open_disk
    from debugger.machine.pc import Machine, MachineConfig

    counted = [0]
    orig = PC.Machine._run_counted

    def run_counted(self, n):
        done = orig(self, n)
        counted[0] += done
        return done
    monkeypatch.setattr(PC.Machine, "_run_counted", run_counted)
    m = Machine([open_disk(ROOT / "images" / "bench-switch.img", boot=True)], MachineConfig())
    if not m._blocks.available:
        pytest.skip("no native block counter")
    r = m.run(50_000_000)
    return r, m, counted[0]


def test_a_back_off_counts_only_until_fast_slices_are_tried_again(monkeypatch):
    r, m, counted = _run(monkeypatch)
    assert r.reason == "halted" and m.icount == 290_782
    assert m.fast_slices >= 2
    assert counted <= 2 * slices.FAST_MIN, counted


def test_the_same_end_without_fast_slices(monkeypatch):
    r, m, _ = _run(monkeypatch)
    want = (r.reason, m.icount, repr(m.state()), bytes(m.serial_out))
    from debugger.machine import pc as PC

    monkeypatch.setattr(PC.Machine, "_fast_allowed", lambda self, n: False)
    monkeypatch.setattr(PC.Machine, "_fast_allowed_later", lambda self, n: False)
    r2, m2, _ = _run(monkeypatch)
    assert m2.fast_slices == 0
    assert (r2.reason, m2.icount, repr(m2.state()), bytes(m2.serial_out)) == want


def test_a_back_off_never_runs_past_the_budget(monkeypatch):
    """The counted run of a back-off ends where fast slices are tried again *or* where the run's
    own budget (or the next device event) ends it, whichever comes first: during a long
    back-off (a guest that kept ending its slices early), runs of 70,000 instructions each run
    exactly 70,000."""
    from debugger.machine.disk import open_disk
    from debugger.machine.pc import Machine, MachineConfig

    m = Machine([open_disk(ROOT / "images" / "bench-switch.img", boot=True)], MachineConfig())
    if not m._blocks.available:
        pytest.skip("no native block counter")
    m.run(50)                           # (the BIOS disk call at 46 ends the first slice early)
    m._fast_resume_at = m.icount + 4 * slices.FAST_MIN * 4      # (as after a few doublings)
    for _ in range(3):
        before = m.icount
        r = m.run(70_000)
        assert r.reason == "budget" and m.icount - before == 70_000, (r, m.icount - before)
