"""Ctrl-C during `bootdbg record -x SCRIPT` outside the script's own commands -- while the
script is being set up, or while the recording is being closed -- must still leave a complete
recording (its END written, the summary printed, exit 130).  Found by the random-moment test
(test_record_sigint_random.py): a SIGINT just after "recording to" left a file cut short in a
checkpoint chunk and no summary.  The signal is sent from inside the recorder at those two
places, so the moment is exact."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from debugger.cli import main
from debugger.trace.reader import TraceReader

IMAGES = Path(__file__).resolve().parents[2] / "images"


def _sigint_self() -> None:
    os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("where", ["setup", "close"])
def test_sigint_outside_the_script_keeps_a_complete_recording(where, tmp_path, monkeypatch,
                                                              capsys):
    from debugger.trace import recorder
    from debugger.ui import theme

    if where == "setup":             # (the script's console is made just before it starts)
        real = theme.make_console

        def make_console(*a, **k):
            _sigint_self()
            return real(*a, **k)
        monkeypatch.setattr(theme, "make_console", make_console)
    else:
        real_close = recorder.Recorder.close

        def close(self, *a, **k):
            _sigint_self()
            return real_close(self, *a, **k)
        monkeypatch.setattr(recorder.Recorder, "close", close)
    script = tmp_path / "s.gdb"
    script.write_text("stepi 1000\n")
    out = tmp_path / "x.bdt"
    rc = main(["record", str(IMAGES / "hello.img"), "-o", str(out), "-x", str(script)])
    text = capsys.readouterr()
    assert rc == 130, text
    assert "recorded " in text.out and "Traceback" not in text.err, text
    end = TraceReader(out).end()
    assert end is not None, "the recording has no END"
    if where == "setup":
        assert "stopped: interrupt" in text.out and end["icount"] == 0, text
