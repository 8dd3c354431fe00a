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


HALT = """
    cli
    xor ax, ax
    mov ds, ax
    mov word [0x20], tick       ; IRQ 0 -> tick
    mov word [0x22], 0
    {before}
    hlt
after:
    nop
    jmp $
tick:
    inc word [0x600]
    mov al, 0x20
    out 0x20, al
    iret
"""


@pytest.mark.parametrize("fast", [True, False])
def test_a_breakpoint_right_after_a_final_hlt_leaves_the_cpu_halted(fast):
    """`cli; hlt` with a breakpoint on the next instruction: the CPU halts for ever there (it
    never executes that instruction).  The exit block's own halt was taken for the exit's: the
    stop said `breakpoint`, the CPU showed as running, and continuing ran past the HLT."""
    m = boot_machine(HALT.format(before=""))
    m._fast_on = fast
    end = boot_machine(HALT.format(before=""))
    end._fast_on = False
    want = end.run(1000)
    assert want.reason == "halted"
    m.extra_exits = {end.state().rip}              # (CS = 0: linear = IP) -- `after:`
    r = m.run(1000)
    assert (r.reason, r.icount) == ("halted", want.icount), r
    assert m.state() == end.state()
    assert m.run(1000).reason == "halted" and m.icount == want.icount


@pytest.mark.parametrize("fast", [True, False])
def test_a_breakpoint_after_a_hlt_is_reached_when_an_interrupt_wakes_the_cpu(fast):
    """`sti; hlt` and the timer: the breakpoint after the HLT stops once IRQ 0's handler has
    returned there -- not before the CPU waited (the tick counter is 1 at the stop)."""
    src = HALT.format(before="sti")
    m = boot_machine(src)
    m._fast_on = fast
    ref = boot_machine(src)
    ref._fast_on = False
    while ref.mem.read_u(0x600, 2) == 0:
        assert ref.run(1).reason in ("budget", "halted", "event"), "no tick"
    while True:                                      # ... on to the IRET's return
        if ref.run(1).reason != "budget" or ref.cpu.linear_pc() == ref.cpu.rip and \
                ref.mem.read_linear(ref.cpu.rip, 1) == b"\x90":
            break
    after = ref.cpu.rip
    m.extra_exits = {after}
    r = m.run(10_000_000)
    assert (r.reason, r.icount) == ("exit", ref.icount), r
    assert m.mem.read_u(0x600, 2) == 1
    assert m.state() == ref.state()
