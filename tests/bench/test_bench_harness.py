"""The benchmark harness measures bare Unicorn and the engine on the same guest (a smoke test of
the harness on a short loop: figures are printed by `bootdbg bench`, never asserted as timings)."""
from __future__ import annotations

from tests.conftest import assemble

LOOP = """
    jmp 0:s
s:  cli
    xor ax, ax
    mov ds, ax
    mov ecx, 200000
l:  add eax, ecx
    mov [0x600], eax
    dec ecx
    jnz l
    hlt
"""


def test_bench_image_reports_ratios_to_bare_unicorn(tmp_path):
    from debugger.bench import bench_image

    img = tmp_path / "loop.img"
    img.write_bytes(assemble(LOOP))
    res = bench_image(img, configs=("no watchers", "all catchpoints", "one breakpoint",
                                    "step 1000000"))
    assert res.measured_instructions > 600_000 and res.bare_mips > 0
    names = [f.config for f in res.figures]
    assert names == ["no watchers", "all catchpoints", "one breakpoint", "step 1000000"]
    for f in res.figures:
        assert f.mips > 0 and f.ratio is not None and f.ratio > 0
    assert res.to_dict()["figures"][0]["config"] == "no watchers"


def test_bench_cli_rejects_unknown_image():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "debugger", "bench", "no-such-image"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no benchmark image" in r.stderr


def test_micro_guests_report_tf_and_catch_mode_figures():
    """`bootdbg bench` ends with two made-up guests: a real-mode loop single-stepped with TF=1
    (every instruction a #DB through the IVT) and a segment-reloading loop under catch mode and
    catch vm86; both must run to their HLT with the right instruction count."""
    from debugger.bench import MICRO, micro_bench

    assert MICRO == ("tf-real", "sreg-catch-mode")
    tf = micro_bench("tf-real", loops=3000, reference=100.0)
    # per iteration: dec, jnz, and the handler's IRET after each of them
    assert tf.measured_instructions >= 4 * 3000
    assert [f.config for f in tf.figures] == ["TF=1, real mode"] and tf.figures[0].mips > 0
    sreg = micro_bench("sreg-catch-mode", loops=20_000)
    assert sreg.measured_instructions >= 5 * 20_000 and sreg.bare_mips > 0
    assert [f.config for f in sreg.figures] == ["catch mode, vm86"]
    assert sreg.figures[0].ratio is not None and sreg.figures[0].ratio > 0
