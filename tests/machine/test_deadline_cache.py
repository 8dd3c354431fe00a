"""The run loop keeps the next device deadline while no device can have changed (the device
epoch and the mutation count, the key checkpoints share device states by).  A device set up
from outside between runs (a view, a test, a plugin's caller) must be seen by the next run, and
a plugin's device on the bus turns the keeping off."""
from __future__ import annotations

from debugger.machine.bus import Device

TICKS = """
    cli
    xor ax, ax
    mov ds, ax
    mov word [8*4], handler
    mov word [8*4+2], 0
    mov al, 0xFE
    out 0x21, al
    sti
spin: inc ecx
    jmp spin
handler:
    inc word [0x600]
    mov al, 0x20
    out 0x20, al
    iret
"""


def _ticks(m) -> int:
    return m.mem.read_linear_u(0x600, 2)


def test_a_timer_programmed_between_runs_is_seen_by_the_next_run(boot):
    runs = []
    for bump in (False, True):
        m = boot(TICKS)
        m.run(20_000)
        m.devices.pit.program_like_bios(2, 200)     # (no guest I/O: no epoch moved)
        if bump:
            m._device_epoch += 1
        m.run(300_000)
        runs.append((m.icount, m.state(), _ticks(m)))
    assert runs[0] == runs[1]
    assert runs[0][2] >= 10          # (200 counts: a tick every ~17,000 instructions)


class _Plugin(Device):
    name = "plugin"
    ports = (range(0x300, 0x301),)

    def __init__(self) -> None:
        self.when: int | None = None

    def next_deadline(self) -> int | None:
        return self.when

    def tick(self, icount: int) -> None:
        self.when = None


def test_no_deadline_kept_with_a_plugin_device_on_the_bus(boot):
    m = boot(TICKS)
    m.run(1000)
    assert m._next_deadline() == m.bus.next_deadline()
    assert m._deadline_key != (-1, -1)
    dev = _Plugin()
    m.bus.attach(dev)
    m.run(1000)
    assert m._deadline_key == (-1, -1)
    dev.when = m.clock.icount + 50                   # (changed behind the machine's back)
    assert m._next_deadline() == dev.when
    m.bus.detach(dev)
