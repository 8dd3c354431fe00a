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


def test_single_stepping_gets_past_a_store_into_its_own_block(tmp_path):
    _native()
    s = _session(tmp_path)
    for _ in range(200):
        ev = s.step()
        if ev.final:
            break
    assert (ev.kind, ev.icount) == ("halted", TOTAL)
    assert s.state().rbx & 0xFF == 15          # every pass saw the patched immediate


def test_a_run_counts_what_stepping_counts(tmp_path, monkeypatch):
    _native()
    import debugger.machine.slices as slices

    monkeypatch.setattr(slices, "FAST_MIN", 1 << 40)     # no checkpoints: see the next test
    s = _session(tmp_path)
    ev = s.cont()
    assert (ev.kind, ev.icount, s.state().rbx & 0xFF) == ("halted", TOTAL, 15)


def test_store_into_the_running_block_after_a_checkpoint(tmp_path):
    """(With Unicorn's copy-on-write snapshots -- no page journal -- QEMU's self-modifying-code
    check misses the running block: README, Differences.)"""
    _native()
    from debugger.machine import pagejournal

    if not pagejournal.available():
        pytest.skip("needs the native page journal")
    s = _session(tmp_path)
    s.machine.checkpoint()
    ev = s.cont()
    assert (ev.kind, ev.icount, s.state().rbx & 0xFF) == ("halted", TOTAL, 15)
