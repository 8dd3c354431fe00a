"""bootdbg bench's recording figures (a smoke test of that section on a short loop: the figures
are printed by `bootdbg bench`, never asserted as timings)."""
from __future__ import annotations

import pytest

from tests.conftest import assemble, nasm_available

LOOP = """
    jmp 0:s
s:  cli
    xor ax, ax
    mov ds, ax
    mov ecx, 150000
l:  add eax, ecx
    mov [0x600], eax
    dec ecx
    jnz l
    hlt
"""


@pytest.mark.skipif(not nasm_available(), reason="nasm not installed")
def test_recording_figures(tmp_path, monkeypatch):
    from debugger import bench

    monkeypatch.setattr(bench, "RSI_MIN", 100_000)
    img = tmp_path / "loop.img"
    img.write_bytes(assemble(LOOP))
    res = bench.bench_image(img, configs=("no watchers", "record", "record --full",
                                          "reverse-stepi"))
    figs = {f.config: f for f in res.figures}
    assert list(figs) == ["no watchers", "record", "record --full", "reverse-stepi (worst)"]
    assert "x the time of watching" in figs["record"].note
    full = figs["record --full"]
    assert full.instructions == res.measured_instructions > 500_000 and full.mips > 0
    per_insn = float(full.note.split(" bytes/instruction")[0])
    assert 0 < per_insn < 16
    rsi = figs["reverse-stepi (worst)"]
    assert rsi.unit == "ms" and rsi.mips > 0 and "repeated: median" in rsi.note
