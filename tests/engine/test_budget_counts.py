"""A run with an instruction budget of k ends in the state single-stepping reaches after k steps,
whatever happens inside the run (a refused OUT that raises #GP in vm86, an OUT that makes an
IRQ deliverable, BIOS calls): the count of a run never includes the instruction it stopped
before."""
from __future__ import annotations

import pytest

from tests.conftest import demo_session

DEMOS = ("hello", "pmode", "unreal", "vm86", "longmode", "exceptions", "int13hook-hd")


@pytest.mark.parametrize("name", DEMOS)
def test_budgeted_runs_end_where_stepping_does(name):
    ref = demo_session(name)
    digests = [ref.state().digest()]
    while True:
        ev = ref.step()
        digests.append(ref.state().digest())
        if ev.final:
            break
    end = len(digests) - 1
    whole = demo_session(name)
    assert whole.cont().icount == ref.icount
    assert whole.state().digest() == digests[-1]
    for k in list(range(1, end, max(1, end // 25))) + [end - 1]:
        s = demo_session(name)
        ev = s.cont(max_insns=k)
        assert (s.icount, s.state().digest()) == (k, digests[k]), f"budget {k}: {ev.summary()}"
