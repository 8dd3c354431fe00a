"""A run with an instruction budget of k ends in the state single-stepping reaches after k steps,
whatever happens inside the run (a refused OUT that raises #GP in vm86, an OUT that makes an
IRQ deliverable, BIOS calls): the count of a run never includes the instruction it stopped
before."""
from __future__ import annotations

import pytest

from tests.conftest import IRQ0_TO_TICK, demo_session

DEMOS = ("hello", "pmode", "unreal", "vm86", "longmode", "exceptions", "int13hook-hd")


@pytest.mark.parametrize("name", DEMOS)
def test_budgeted_runs_end_where_stepping_does(name):
    ref = demo_session(name)
    digests = [ref.state().digest()]
    while True:
        ev = ref.step()
        digests.append(ref.state().digest())
        if ev.final:
            break
    end = len(digests) - 1
    whole = demo_session(name)
    assert whole.cont().icount == ref.icount
    assert whole.state().digest() == digests[-1]
    for k in list(range(1, end, max(1, end // 25))) + [end - 1]:
        s = demo_session(name)
        ev = s.cont(max_insns=k)
        assert (s.icount, s.state().digest()) == (k, digests[k]), f"budget {k}: {ev.summary()}"


def test_a_reprogrammed_timer_ticks_at_the_same_instruction_running_or_stepping(tmp_path):
    """The guest makes the PIT fire every ~84 k instructions and spins with IF=1: a run must take
    each tick where stepping takes it (the OUT that moves the timer's next event ends the slice)."""
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk
    from tests.conftest import assemble

    src = IRQ0_TO_TICK + """
        mov al, 0x36
        out 0x43, al
        mov ax, 1000
        out 0x40, al
        mov al, ah
        out 0x40, al
        sti
        mov ecx, 60000
    spin:
        dec ecx
        jnz spin
        cli
        hlt
    tick:
        inc word [0x600]
        push ax
        mov al, 0x20
        out 0x20, al
        pop ax
        iret
    """
    f = tmp_path / "pit.img"
    f.write_bytes(assemble(src))
    step = Session(disks=[open_disk(f, boot=True)])
    while not step.step().final:
        pass
    for fast in (True, False):
        run = Session(disks=[open_disk(f, boot=True)])
        run.machine._fast_on = fast
        ev = run.cont()
        assert ev.kind == "halted"
        assert run.icount == step.icount, f"fast slices: {fast}"
        assert run.read_memory(0x600, 2) == step.read_memory(0x600, 2) != b"\0\0"
        assert run.state() == step.state()
