"""`bootdbg bench real`: the real-workload harness boots Debian-packaged loaders to their prompts
and times QEMU in the same run (a bounded run on two images; figures are printed by the command,
never asserted as timings)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.machine.stock_images import CACHE, syslinux_image


def test_real_bench_boots_to_the_prompt_and_times_qemu():
    from debugger import bench_real

    syslinux_image()                    # (skips when the packages are missing)
    res = bench_real.run_real(("syslinux", "bench-switch"), configs=("no watchers",),
                              limit=600, cache=CACHE)
    by = {r.image: r for r in res}
    sl = by["syslinux"]
    assert not sl.skipped and len(sl.figures) == 1
    f = sl.figures[0]
    assert f.reached, f.note
    assert 10_000_000 < f.instructions < 20_000_000 and f.mips > 0
    if shutil.which("qemu-system-i386"):
        assert sl.qemu_seconds is not None and sl.qemu_seconds > 0, sl.qemu_note
        assert sl.to_dict()["figures"][0]["ratio_to_qemu"] > 0
    sw = by["bench-switch"]
    assert sw.figures[0].reached and sw.figures[0].instructions > 200_000
    assert sw.qemu_seconds is None and "halts" in sw.qemu_note


def test_an_image_whose_package_is_missing_is_skipped_with_the_reason(monkeypatch):
    from debugger import bench_real, stockimages

    def missing(cache=None):
        raise stockimages.Unavailable("/nowhere/memtest missing (Debian package memtest86+)")
    spec = bench_real.RealImage("memtest86+", missing, "x", "screen")
    monkeypatch.setattr(bench_real, "REAL_IMAGES", (spec,))
    (r,) = bench_real.run_real(("memtest86+",), qemu=False)
    assert r.skipped.endswith("(Debian package memtest86+)") and not r.figures


@pytest.mark.parametrize("args,message", [
    (["real", "no-such"], "no real-workload image 'no-such'"),
    (["real", "--configs", "bogus"], "no configuration 'bogus'"),
])
def test_bench_real_rejects_bad_arguments_in_one_line(args, message):
    r = subprocess.run([sys.executable, "-m", "debugger", "bench", *args],
                       capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_a_configuration_over_in_a_blink_is_the_median_of_several_runs(monkeypatch):
    """bench-switch boots in 30 ms: one scheduler hiccup moved its figure by a third, so a
    configuration over in under SHORT seconds is timed REPEATS times and the median shown."""
    from debugger import bench_real as br

    times = iter([0.030, 0.045, 0.029, 0.031, 0.090, 0.028, 0.033, 2.0, 3.0])
    monkeypatch.setattr(br, "run_bootdbg", lambda path, spec, config, **kw: br.RealFigure(
        config, next(times), 290_782, True))
    spec = next(s for s in br.REAL_IMAGES if s.name == "bench-switch")
    f = br._timed(Path("x"), spec, "no watchers", 10.0, Path("."))
    assert f.seconds == 0.031 and f.note == f"median of {br.REPEATS} runs"
    assert br._timed(Path("x"), spec, "no watchers", 10.0, Path(".")).seconds == 2.0  # (once)
