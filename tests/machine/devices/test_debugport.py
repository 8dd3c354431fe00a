"""Port 80h/E9h, the TSC, and the standard device set on an IoBus (wiring, checkpoints)."""
from __future__ import annotations

import copy

from debugger.machine.bus import IoBus
from debugger.machine.devices import standard_devices
from debugger.machine.devices.debugport import DebugPort
from debugger.machine.devices.tsc import tsc_value


def test_post_codes_logged_on_change_and_e9_console(events):
    seen = []
    d = DebugPort(events, on_tx=seen.append)
    for code in (0x11, 0x11, 0x11, 0x22):
        d.io_write(0x80, 1, code)
    assert d.post_code == 0x22
    assert [e.details["code"] for e in events if e.kind == "post"] == [0x11, 0x22]
    for ch in b"dbg":
        d.io_write(0xE9, 1, ch)
    assert d.output == b"dbg" and seen == list(b"dbg")
    assert d.io_read(0xE9, 1) == 0xE9 and d.io_read(0x80, 1) == 0xFF


def test_tsc_is_two_ticks_per_virtual_ns(clock):
    assert tsc_value(clock) == 0
    clock.icount = 123_456
    assert tsc_value(clock) == 123_456 * 10 * 2


def make(clock, events, **kw):
    a20, resets = [], []
    devs = standard_devices(clock, events, lambda a, n: bytes(n), a20.append,
                            lambda: resets.append(1), 32 << 20, [], **kw)
    bus = IoBus(events)
    for d in devs.all():
        bus.attach(d)
    return devs, bus, a20, resets


def test_standard_devices_on_the_bus(clock, events):
    devs, bus, a20, resets = make(clock, events)
    names = [d.name for d in devs.all()]
    assert len(set(names)) == len(names)
    assert bus.read(0x21, 1) == 0xB8 and bus.read(0x64, 1) == 0x1C
    assert bus.read(0x3FD, 1) == 0x60 and bus.read(0xE9, 1) == 0xE9
    assert bus.read(0x2F8, 1) == 0xFF             # no COM2: unknown port, logged
    assert [e.kind for e in events].count("io-unknown") == 1
    bus.write(0x92, 1, 0x00)
    bus.write(0x64, 1, 0xFE)
    assert a20 == [False] and resets == [1]
    devs.com1.feed(b"x")
    bus.write(0x3F9, 1, 0x01)                     # COM1 RX interrupt -> IRQ4 (unmasked here)
    bus.write(0x21, 1, 0xA8)
    assert devs.pic.pending_vector() == 0x0C
    clock.icount = bus.next_deadline()            # the PIT's first IRQ0
    bus.tick(clock.icount)
    assert devs.pic.pending_vector() == 0x08
    bus.write(0x70, 1, 0x17)
    low = bus.read(0x71, 1)
    bus.write(0x70, 1, 0x18)
    assert low | bus.read(0x71, 1) << 8 == 31 * 1024      # extended memory in KiB


def test_checkpoint_copy_keeps_links_and_restores_state(clock, events):
    devs, bus, _, _ = make(clock, events)
    saved = {d.name: copy.deepcopy(dict(vars(d))) for d in devs.all()}
    assert saved["pit"]["links"] is devs.pit.links and saved["kbc"]["links"].irq is devs.pic
    bus.write(0x43, 1, 0x30)                      # reprogram channel 0, mask everything
    bus.write(0x21, 1, 0xFF)
    for d in devs.all():
        for k, v in copy.deepcopy(saved[d.name]).items():
            setattr(d, k, v)
    assert bus.read(0x21, 1) == 0xB8 and devs.pit.channels[0].mode == 2
    clock.icount = bus.next_deadline()
    bus.tick(clock.icount)
    assert devs.pic.pending_vector() == 0x08      # the restored PIT still drives the same PIC
