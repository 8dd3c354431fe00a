"""A run that goes round without executing, waiting or delivering anything (an engine bug,
like seed 12's physical-breakpoint loop) ends with one clear line, and the session stays
usable -- never a hang."""
from __future__ import annotations

import pytest

from tests.conftest import demo_session


def test_a_run_that_makes_no_progress_ends_with_one_line(monkeypatch):
    from debugger.engine import runner
    from debugger.engine.session import SessionError
    from debugger.engine.watchers import Watchers

    s = demo_session("hello")
    s.catch("mode")                         # (a fast run with watchers: runner._run's loop)
    monkeypatch.setattr(runner, "IDLE_MAX", 50)
    real = Watchers.run_chunk
    monkeypatch.setattr(Watchers, "run_chunk", lambda self, n: None)     # (a chunk that does nothing)
    with pytest.raises(SessionError, match="no progress"):
        s.cont()
    monkeypatch.setattr(Watchers, "run_chunk", real)
    ev = s.cont(max_insns=100)                                          # (still usable)
    assert ev.icount > 0
