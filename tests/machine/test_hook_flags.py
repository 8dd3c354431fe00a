"""Memory hooks must not change the guest: Unicorn re-derives the CPU state from the start of the
instruction before calling a memory hook, and with a code hook in place (every counted run) that
resets cc_op to its value before the flags Unicorn computes after each code hook.  When the block
ended after a store that leaves the flags alone (`sub ecx, ebp; rep movsb`, as in SYSLINUX), the
next block computed the flags from that stale cc_op: a plugin's memory tap or `record --full`
cleared AF here, and the full trace then disagreed with single-stepping."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import GDT_PM, GDT_TAIL, assemble

SRC = GDT_PM + """
    cld
    mov esi, 0x7c00
    mov edi, 0x1000
    mov ebp, 3
    mov ecx, 0x11
    sub ecx, ebp                ; 0x0e: AF=1 (a borrow out of bit 3)
    rep movsb                   ; stores, flags left alone; each iteration is a block
    pushfd
    pop edx
    hlt
""" + GDT_TAIL


def _session(tmp_path: Path):
    from debugger.engine.session import Session

    img = tmp_path / "flags.img"
    if not img.exists():
        img.write_bytes(assemble(SRC))
    return Session(img)


def _stepped(tmp_path: Path):
    s = _session(tmp_path)
    for _ in range(500):
        if s.step().final:
            break
    return s


def test_a_memory_tap_leaves_the_flags_alone(tmp_path: Path) -> None:
    """A write hook that never stops the guest (what a plugin's `on_memory` installs)."""
    from unicorn import UC_HOOK_MEM_WRITE

    ref = _stepped(tmp_path)
    assert ref.state().rdx & 0xFFFF == 0x12           # AF, and bit 1
    s = _session(tmp_path)
    seen = []
    s.machine.uc.hook_add(UC_HOOK_MEM_WRITE, lambda uc, a, addr, size, v, ud: seen.append(addr))
    s.machine.uc.ctl_flush_tb()
    assert s.cont(max_insns=10_000).kind == "halted"
    assert len(seen) >= 14                            # (the stack frame, the three bytes, ...)
    assert s.state() == ref.state()


@pytest.mark.parametrize("native", [True, False])
def test_record_full_leaves_the_flags_alone(native: bool, tmp_path: Path) -> None:
    from debugger.trace.ftrecord import native_available
    from debugger.trace.fulltrace import FullTrace
    from debugger.trace.recorder import Recorder

    if native and not native_available():
        pytest.skip("native full-trace hooks not built")
    ref = _stepped(tmp_path)
    s = _session(tmp_path)
    rec = Recorder(s, tmp_path / "run.bdt", full=True, native=native)
    assert s.cont(max_insns=10_000).kind == "halted"
    rec.close()
    assert s.state() == ref.state()
    step = _session(tmp_path)
    for st in FullTrace.open(tmp_path / "run.bdt").steps():
        step.step()
        assert st.cpu_state() == step.state(), st.icount
