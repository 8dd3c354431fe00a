"""A stop at an exit (breakpoint, `until`) right after MOV SS, POP SS or STI shows the
interrupt shadow the CPU is in, as single-stepping there does.

Unicorn ends a run at an exit address with a block that imitates HLT, and its HLT helper clears
QEMU's inhibit-IRQ flag: the stop showed interruptibility 0 after `mov ss, ax` (found by the
differential test: breakpoint after a MOV SS in the paging guest)."""
from __future__ import annotations

import pytest

from debugger.cpustate import INTR_MOVSS, INTR_STI
from tests.conftest import boot_machine

GUEST = """
    cli
    xor ax, ax
    {setter}
target:
    mov sp, 0x7000
    nop
    hlt
"""
SETTERS = {"mov ss, ax": INTR_MOVSS, "push ax\n    pop ss": INTR_MOVSS, "sti": INTR_STI}




@pytest.mark.parametrize("setter", sorted(SETTERS))
@pytest.mark.parametrize("fast", [True, False])
def test_a_stop_at_an_exit_after_a_shadow_setter_keeps_the_shadow(setter, fast):
    src = GUEST.format(setter=setter)
    ref = boot_machine(src)
    ref._fast_on = False
    steps = {"mov ss, ax": 3, "push ax\n    pop ss": 4, "sti": 3}[setter]
    for _ in range(steps):
        assert ref.run(1).reason == "budget"
    want = ref.state()
    assert want.interruptibility == SETTERS[setter]

    m = boot_machine(src)
    m._fast_on = fast
    m.extra_exits = {want.rip}                     # (CS = 0: linear = IP)
    r = m.run(1000)
    assert (r.reason, m.icount) == ("exit", steps), r
    assert m.state() == want
    # and resuming from there executes `mov sp` in the shadow, then goes on
    assert m.run(2).reason == "budget"
    assert m.state().rsp & 0xFFFF == 0x7000
