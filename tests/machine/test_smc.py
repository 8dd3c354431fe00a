"""Self-modifying code: a store into the block that is running.  QEMU re-runs the storing
instruction alone; single-stepping must get past it (it used to repeat it for ever) and count it
once, and a run counts what stepping counts."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import assemble

SRC = """
    cli
    xor ax, ax
    mov ds, ax
    mov cx, 3
again:
    mov byte [patch+1], 5       ; rewrites the immediate of an instruction of this block
    nop
patch:
    mov al, 0
    add bl, al
    dec cx
    jnz again
    hlt
"""
# 4 set-up instructions, 3 x 6 in the loop, HLT
TOTAL = 4 + 3 * 6 + 1


def _session(tmp_path: Path):
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    f = tmp_path / "smc.img"
    f.write_bytes(assemble(SRC))
    return Session(disks=[open_disk(f, boot=True)])


def _native():
    from debugger.machine.blockcount import available

    if not available():
        pytest.skip("needs the native block counter (debugger/machine/_blockcount.c)")


def _stepped(tmp_path: Path) -> tuple:
    s = _session(tmp_path)
    for _ in range(200):
        ev = s.step()
        if ev.final:
            break
    return ev.kind, ev.icount, s.state().rbx & 0xFF


def _run(tmp_path: Path, checkpoint: bool) -> tuple:
    import debugger.machine.slices as slices

    saved = slices.FAST_MIN
    if not checkpoint:
        slices.FAST_MIN = 1 << 40       # no checkpoints (fast slices take one each)
    try:
        s = _session(tmp_path)
        if checkpoint:
            s.machine.checkpoint()
        ev = s.cont()
        return ev.kind, ev.icount, s.state().rbx & 0xFF
    finally:
        slices.FAST_MIN = saved


def _scenarios(tmp_path: Path) -> dict:
    return {"step": _stepped(tmp_path), "run": _run(tmp_path, False),
            "checkpoint": _run(tmp_path, True)}


def test_single_stepping_gets_past_a_store_into_its_own_block(tmp_path):
    _native()
    assert _stepped(tmp_path) == ("halted", TOTAL, 15)     # every pass saw the patched immediate


def test_a_run_counts_what_stepping_counts(tmp_path):
    _native()
    assert _run(tmp_path, False) == ("halted", TOTAL, 15)


def test_store_into_the_running_block_after_a_checkpoint(tmp_path):
    """After a checkpoint, stores into running code are caught as without one: the checkpoint
    journals the pages written, it does not move them (Unicorn's copy-on-write snapshots did,
    and QEMU's self-modifying-code check then missed the running block)."""
    _native()
    from debugger.machine import pagejournal

    if not pagejournal.available():
        pytest.skip("needs the native page journal")
    assert _run(tmp_path, True) == ("halted", TOTAL, 15)


def test_the_python_fallback_gives_the_same_answers(tmp_path):
    """BOOTDBG_NO_NATIVE=1 (no native block hook, no native page journal): the same stops,
    counts and results for stepping, a run, and a run after a checkpoint."""
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    code = ("import json, pathlib, sys; from tests.machine.test_smc import _scenarios; "
            "print(json.dumps(_scenarios(pathlib.Path(sys.argv[1]))))")
    (tmp_path / "py").mkdir()
    env = dict(os.environ, BOOTDBG_NO_NATIVE="1")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "py")], capture_output=True,
                       text=True, env=env, timeout=300, cwd=root)
    assert r.returncode == 0, r.stderr[-2000:]
    got = {k: tuple(v) for k, v in json.loads(r.stdout.splitlines()[-1]).items()}
    want = ("halted", TOTAL, 15)
    assert got == {"step": want, "run": want, "checkpoint": want}
