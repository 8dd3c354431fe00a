"""A run with an instruction budget of k ends in the state single-stepping reaches after k steps,
whatever happens inside the run (a refused OUT that raises #GP in vm86, an OUT that makes an
IRQ deliverable, BIOS calls): the count of a run never includes the instruction it stopped
before."""
from __future__ import annotations

from pathlib import Path

import pytest

IMAGES = Path(__file__).resolve().parents[2] / "images"
DEMOS = ("hello", "pmode", "unreal", "vm86", "longmode", "exceptions", "int13hook-hd")


def _session(name: str):
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    kind = "hd" if name.endswith("-hd") else None
    return Session(disks=[open_disk(IMAGES / f"{name}.img", kind=kind, boot=True)])


@pytest.mark.parametrize("name", DEMOS)
def test_budgeted_runs_end_where_stepping_does(name):
    ref = _session(name)
    digests = [ref.state().digest()]
    while True:
        ev = ref.step()
        digests.append(ref.state().digest())
        if ev.final:
            break
    end = len(digests) - 1
    whole = _session(name)
    assert whole.cont().icount == ref.icount
    assert whole.state().digest() == digests[-1]
    for k in list(range(1, end, max(1, end // 25))) + [end - 1]:
        s = _session(name)
        ev = s.cont(max_insns=k)
        assert (s.icount, s.state().digest()) == (k, digests[k]), f"budget {k}: {ev.summary()}"
