"""Ctrl-C during `bootdbg record` at pseudo-random moments (issue 14, "Done when": recordings
cut by SIGINT at 20 random moments all pass `replay --verify`).

Each moment is drawn by a seeded RNG from the guest's progress, never from the wall clock:
a long-running demo image (bench-real, bench-pm32, and bench-switch assembled with 10^6 mode
round trips instead of 5000), plain or `--full`, continued
by the recorder's own loop or by a script's `continue` (there Ctrl-C interrupts the run inside
the engine, not between slices), a checkpoint interval, and a size the recording file must
reach before SIGINT is sent.  The file's size is the guest's progress as the recorder sees it;
the test only waits for it (polling is not a measurement, and nothing is asserted about time).
Then the recorder must exit 130 without a traceback and `replay --verify` must pass.

The default run tries 5 moments; the campaign the issue asks for (README, Testing):

    BOOTDBG_SIGINT_MOMENTS=20 python -m pytest tests/trace/test_record_sigint_random.py -q
    BOOTDBG_SIGINT_SEED=7 ...     # other moments (the default seed is 14)
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

IMAGES = Path(__file__).resolve().parents[2] / "images"
MOMENTS = int(os.environ.get("BOOTDBG_SIGINT_MOMENTS", "5"))
SEED = int(os.environ.get("BOOTDBG_SIGINT_SEED", "14"))
# Long-running demo images and the file sizes a moment is drawn below, plain and --full: about
# 1-3 M instructions of each (a plain file grows ~0.05 bytes an instruction, a full one ~5;
# bench-switch runs ~0.1 M instructions/s, through the mode switches), so that the recording is
# still running at any moment drawn and the replay that verifies it stays short.
LONG = {"bench-real.img": (150_000, 6_000_000), "bench-pm32.img": (150_000, 6_000_000),
        "bench-switch.img": (20_000, 600_000)}


@dataclass(frozen=True)
class Moment:
    image: str
    full: bool
    script: bool              # `record -x SCRIPT` with `continue` (else the recorder's loop)
    interval: int             # --interval (where the checkpoint grid lies)
    at_bytes: int             # SIGINT once the file has reached this size

    @property
    def id(self) -> str:
        return (f"{self.image[:-4]}-{'full' if self.full else 'plain'}"
                f"{'-x' if self.script else ''}-i{self.interval}-at{self.at_bytes}")


def moment(i: int, seed: int = SEED) -> Moment:
    rng = random.Random(f"record-sigint:{seed}:{i}")
    full = rng.random() < 0.5
    image = rng.choice(sorted(LONG))
    # The recorder's own loop sees Ctrl-C at the end of its slice (record.SLICE, 4 M
    # instructions): bench-switch (~0.1 M instructions/s) only under a script, whose `continue`
    # stops at once, and checkpoints at least 50,000 instructions apart there (each costs a
    # RAM scan)
    script = image == "bench-switch.img" or rng.random() < 0.4
    return Moment(image=image, full=full, script=script,
                  interval=rng.choice((7919, 50_000, 100_000, 333_333) if script else
                                      (50_000, 100_000, 333_333)),
                  at_bytes=int(rng.random() ** 2 * LONG[image][full]))


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {name: IMAGES / name for name in LONG}
    nasm = shutil.which("nasm")
    if nasm is None:
        del out["bench-switch.img"]                  # (its moments skip)
        return out
    img = tmp_path_factory.mktemp("long") / "bench-switch.img"
    subprocess.run([nasm, "-f", "bin", "-DTRIPS=1000000", "-I", f"{IMAGES}/", "-o", str(img),
                    str(IMAGES / "bench-switch.asm")], check=True, capture_output=True)
    out["bench-switch.img"] = img
    return out


def record_and_interrupt(m: Moment, image: Path, out: Path, tmp: Path) -> tuple[int, str]:
    argv = [sys.executable, "-m", "debugger", "record", str(image), "-o", str(out),
            "--interval", str(m.interval)] + (["--full"] if m.full else [])
    if m.script:
        script = tmp / "cont.gdb"
        script.write_text("continue\ninfo registers\n")
        argv += ["-x", str(script)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()                 # the handler is installed, the run starts
        assert first.startswith("recording to"), first + p.stderr.read()
        deadline = time.monotonic() + 300           # (a guard against a stuck recorder only)
        while (not out.exists() or out.stat().st_size < m.at_bytes) and p.poll() is None:
            assert time.monotonic() < deadline, f"the recording did not reach {m.at_bytes} bytes"
            time.sleep(0.002)
        assert p.poll() is None, "the recording ended before the moment to interrupt it"
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, first + stdout + stderr


def check_moment(m: Moment, image: Path, tmp: Path) -> None:
    out = tmp / "cut.bdt"
    rc, text = record_and_interrupt(m, image, out, tmp)
    assert "Traceback" not in text, f"{m}\n{text}"
    stopped = rc == 130 and "stopped: interrupt" in text       # the recording stopped there
    if m.script:
        # Ctrl-C interrupts the script's `continue` inside the engine (a stop at any
        # instruction, not at a slice's end) and the script goes on to its end -- or, sent
        # before the `continue` began, it stops the script.
        assert stopped or ("Stop #1 interrupt" in text and "stopped: script" in text), \
            f"{m}\n{text}"
    else:
        assert stopped, f"{m}\n{text}"
    v = subprocess.run([sys.executable, "-m", "debugger", "replay", str(out), "--verify"],
                       capture_output=True, text=True, timeout=600, check=False)
    assert v.returncode == 0 and "replay identical" in v.stdout, \
        f"{m}\nrecord:\n{text}\nreplay --verify:\n{v.stdout}{v.stderr}"


@pytest.mark.parametrize("i", range(MOMENTS), ids=lambda i: f"{i}-{moment(i).id}")
def test_sigint_at_a_random_moment_leaves_a_recording_that_verifies(
        i: int, images: dict[str, Path], tmp_path: Path) -> None:
    m = moment(i)
    if m.image not in images:
        pytest.skip("nasm is not installed (the long bench-switch is assembled here)")
    check_moment(m, images[m.image], tmp_path)


def test_moments_cover_both_recorders_and_both_drivers() -> None:
    """The 20-moment campaign tries plain and --full, the recorder's loop and a script."""
    ms = [moment(i) for i in range(20)]
    assert {m.full for m in ms} == {False, True}
    assert {m.script for m in ms} == {False, True}
    assert len({m.image for m in ms}) == len(LONG)
    assert len({m.at_bytes for m in ms}) == 20
