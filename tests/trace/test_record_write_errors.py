"""A recording whose file cannot be written (the disk is full, a file-size limit) ends with one
line saying so and a non-zero exit, not a traceback -- at the first chunk or in the middle of
the run (issue 14: bad input is one clear line; found by trying `record -o /dev/full`)."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

IMAGES = Path(__file__).resolve().parents[2] / "images"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_record_to_a_full_disk_is_one_line(capsys):
    from debugger.cli import main

    rc = main(["record", str(IMAGES / "hello.img"), "-o", "/dev/full", "--max-insns", "1000"])
    err = capsys.readouterr().err
    assert rc != 0 and "No space left on device" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)    # (a write past the limit fails: EFBIG)


@pytest.mark.parametrize("script", [False, True], ids=["loop", "script"])
@pytest.mark.parametrize("full", [False, True], ids=["plain", "full"])
def test_a_recording_that_outgrows_the_file_size_limit_is_one_line(full, script, tmp_path):
    out = tmp_path / "x.bdt"
    argv = [sys.executable, "-m", "debugger", "record", str(IMAGES / "bench-real.img"), "-o",
            str(out), "--interval", "50000", "--max-insns", "20000000"]
    if script:
        (tmp_path / "s.gdb").write_text("continue\n")
        argv += ["-x", str(tmp_path / "s.gdb")]
    r = subprocess.run(argv + (["--full"] if full else []),
                       capture_output=True, text=True, timeout=600, check=False,
                       preexec_fn=_limit_file_size)
    assert r.returncode not in (0, 130), r.stdout + r.stderr
    assert "File too large" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "internal error" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert out.stat().st_size <= 64 << 10


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("fmt", ["jsonl", "tenet"])
def test_trace_export_to_a_full_disk_is_one_line(fmt, tmp_path, capsys):
    from debugger.cli import main

    rec = tmp_path / "h.bdt"
    assert main(["record", str(IMAGES / "hello.img"), "-o", str(rec), "--ram", "4",
                 "--max-insns", "5000"]) == 0
    capsys.readouterr()
    rc = main(["trace", "export", "--format", fmt, str(rec), "-o", "/dev/full"])
    err = capsys.readouterr().err
    assert rc != 0 and "/dev/full: cannot write (No space left on device)" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
