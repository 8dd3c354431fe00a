"""A write watchpoint fires for the writes bootdbg's machine makes itself -- the frame interrupt
delivery pushes, the buffer a BIOS service fills -- as for the guest's own: after the INT (and
its delivery or service) that caused them, with the value written."""
from __future__ import annotations

import pytest

from tests.conftest import demo_session

INT13_AT = 45            # hello.img: the next instruction is the INT 13h that loads 0000:7E00


@pytest.mark.parametrize("fast", [True, False])
def test_bios_service_write_into_a_watched_buffer(fast):
    disk = demo_session("hello")
    want = disk.machine.disks[min(disk.machine.disks)].read(1, 1)[:2]
    s = demo_session("hello")
    s.machine._fast_on = fast
    s.cont(max_insns=INT13_AT)
    after_int = s.state().pc + 2                       # (CD 13)
    w = s.watch(0x7E00, 2, "write")
    ev = s.cont(max_insns=10_000)
    assert (ev.kind, ev.point) == ("watchpoint", w.number), ev
    assert s.read_memory(0x7E00, 2) == want
    assert want.hex() in ev.message
    # after the service: the stub's IRET ran, back in the guest after its INT 13h
    assert (s.state().pc, s.icount) == (after_int, INT13_AT + 2)


@pytest.mark.parametrize("fast", [True, False])
def test_interrupt_delivery_push_onto_a_watched_stack(fast):
    s = demo_session("hello")
    s.machine._fast_on = fast
    s.cont(max_insns=INT13_AT)
    st = s.state()
    top = st.ss.base + (st.rsp & 0xFFFF)
    w = s.watch(top - 2, 2, "write", space="physical")        # where the INT pushes FLAGS
    ev = s.cont(max_insns=10_000)
    assert (ev.kind, ev.point, ev.icount) == ("watchpoint", w.number, INT13_AT + 1), ev
    assert s.read_memory(top - 2, 2) == (st.rflags & 0xFFFF).to_bytes(2, "little")
