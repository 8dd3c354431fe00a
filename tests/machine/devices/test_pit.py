"""8254 PIT: counts derived from the instruction count (1.193182 MHz input, 10 ns/instruction)."""
from __future__ import annotations

import math

from debugger.machine.devices.pit import Pit

HZ = 1_193_182


def ticks_between(start: int, end: int) -> int:
    """PIT input clocks between two instruction counts at 10 ns per instruction."""
    return (end - start) * 10 * HZ // 10**9


def mid_tick(start: int, t: int) -> int:
    """An instruction count inside PIT clock `t` after `start`."""
    return start + round((t + 0.5) * 10**9 / HZ / 10)


def read16(pit: Pit, port: int) -> int:
    lo = pit.io_read(port, 1)
    return lo | (pit.io_read(port, 1) << 8)


def latch2(pit: Pit) -> int:
    pit.io_write(0x43, 1, 0x80)
    return read16(pit, 0x42)


def test_bios_channel0_fires_irq0_every_65536_clocks(clock, irq):
    pit = Pit(clock, irq)
    first = math.ceil(65536 / 1.193182e6 * 1e9 / 10)
    assert pit.next_deadline() == first
    clock.icount = first - 1
    pit.tick(clock.icount)
    assert irq.raises(0) == 0
    clock.icount = first
    pit.tick(clock.icount)
    assert irq.log == [("raise", 0), ("lower", 0)]
    assert pit.next_deadline() == math.ceil(2 * 65536 / 1.193182e6 * 1e9 / 10)


def test_channel2_one_shot_counts_down_after_the_gate_opens(clock):
    pit = Pit(clock)
    pit.io_write(0x43, 1, 0xB0)                 # channel 2, LSB then MSB, mode 0
    pit.io_write(0x42, 1, 11932 & 0xFF)
    pit.io_write(0x42, 1, 11932 >> 8)
    clock.icount = 1000
    assert latch2(pit) == 11932                 # gate 2 low: not counting
    pit.io_write(0x61, 1, 0x01)                 # gate on, speaker off
    start = clock.icount
    clock.icount = start + 50_000
    assert latch2(pit) == 11932 - ticks_between(start, clock.icount) == 11932 - 596
    assert not pit.io_read(0x61, 1) & 0x20      # OUT2 low until terminal count
    clock.icount = start + 1_000_015            # 11931.99 clocks
    assert not pit.io_read(0x61, 1) & 0x20
    clock.icount = start + 1_000_016            # 11932 clocks: terminal count
    assert pit.io_read(0x61, 1) & 0x21 == 0x21
    clock.icount = start + 1_000_016 + 100      # counting on past zero (wraps to FFFFh)
    assert latch2(pit) == (11932 - ticks_between(start, clock.icount)) & 0xFFFF


def test_gate_low_pauses_mode0(clock):
    pit = Pit(clock)
    pit.io_write(0x61, 1, 0x01)
    pit.io_write(0x43, 1, 0xB0)
    pit.io_write(0x42, 1, 0x00)
    pit.io_write(0x42, 1, 0x10)
    clock.icount = 8390                         # 100 clocks
    pit.io_write(0x61, 1, 0x00)
    held = latch2(pit)
    assert held == 0x1000 - ticks_between(0, 8390)
    clock.icount = 50_000
    assert latch2(pit) == held
    pit.io_write(0x61, 1, 0x01)
    clock.icount = 50_000 + 8390
    assert latch2(pit) == held - ticks_between(50_000, 58_390)


def test_mode3_square_wave_counts_by_two(clock):
    pit = Pit(clock)
    pit.io_write(0x43, 1, 0xB6)                 # channel 2, mode 3
    pit.io_write(0x42, 1, 10)
    pit.io_write(0x42, 1, 0)
    pit.io_write(0x61, 1, 0x01)
    expect = {0: (10, 1), 1: (8, 1), 4: (2, 1), 5: (10, 0), 9: (2, 0), 10: (10, 1), 13: (4, 1)}
    for t, (count, out) in expect.items():
        clock.icount = mid_tick(0, t)
        assert (latch2(pit), bool(pit.io_read(0x61, 1) & 0x20)) == (count, bool(out)), t
    pit.io_write(0x43, 1, 0xB6)                 # odd count: high 3 clocks, low 2
    start = clock.icount
    pit.io_write(0x42, 1, 5)
    pit.io_write(0x42, 1, 0)
    seen = []
    for t in range(5):
        clock.icount = mid_tick(start, t)
        seen.append((latch2(pit), bool(pit.io_read(0x61, 1) & 0x20)))
    assert seen == [(4, True), (2, True), (0, True), (4, False), (2, False)]


def test_mode2_rate_generator_irq0_and_counter(clock, irq):
    pit = Pit(clock, irq)
    pit.io_write(0x43, 1, 0x34)
    pit.io_write(0x40, 1, 1193 & 0xFF)
    pit.io_write(0x40, 1, 1193 >> 8)
    deadlines = []
    for _ in range(3):
        clock.icount = pit.next_deadline()
        deadlines.append(clock.icount)
        pit.tick(clock.icount)
    assert deadlines == [math.ceil(k * 1193 * 10**9 / HZ / 10) for k in (1, 2, 3)]
    assert irq.raises(0) == 3
    clock.icount = mid_tick(deadlines[-1], 100)
    pit.io_write(0x43, 1, 0x00)                 # latch channel 0
    assert read16(pit, 0x40) == 1193 - 100


def test_mode0_on_channel0_is_one_shot_and_reprogramming_raises_out(clock, irq):
    pit = Pit(clock, irq)
    pit.io_write(0x43, 1, 0x30)                 # mode 0: OUT0 goes low
    pit.io_write(0x40, 1, 100)
    pit.io_write(0x40, 1, 0)
    assert irq.raises(0) == 0
    clock.icount = pit.next_deadline()
    assert clock.icount == math.ceil(100 * 10**9 / HZ / 10)
    pit.tick(clock.icount)
    assert irq.raises(0) == 1 and pit.next_deadline() is None
    pit.io_write(0x43, 1, 0x30)                 # low again
    pit.io_write(0x43, 1, 0x34)                 # mode 2 drives OUT0 high: a rising edge
    assert irq.raises(0) == 2


def test_latch_holds_and_readback_status(clock):
    pit = Pit(clock)
    clock.icount = 10_000
    pit.io_write(0x43, 1, 0x00)
    clock.icount = 90_000
    assert read16(pit, 0x40) == (65536 - ticks_between(0, 10_000)) & 0xFFFF
    pit.io_write(0x43, 1, 0xE2)                 # read-back: status of channel 0 only
    assert pit.io_read(0x40, 1) == 0xB4         # OUT high, LSB/MSB, mode 2, binary
    pit.io_write(0x43, 1, 0xB0)
    pit.io_write(0x43, 1, 0xC8)                 # status and count of channel 2
    assert pit.io_read(0x42, 1) == 0x70         # OUT low (mode 0), null count, LSB/MSB
    read16(pit, 0x42)                           # the count latched with it (none loaded yet)
    pit.io_write(0x42, 1, 0x34)
    pit.io_write(0x42, 1, 0x12)
    pit.io_write(0x43, 1, 0xC8)
    assert pit.io_read(0x42, 1) == 0x30         # count loaded: null count clear
    assert read16(pit, 0x42) == 0x1234          # latched count (gate 2 low)


def test_lsb_only_msb_only_and_bcd(clock):
    pit = Pit(clock)
    pit.io_write(0x61, 1, 0x01)
    pit.io_write(0x43, 1, 0x90)                 # LSB only
    pit.io_write(0x42, 1, 0x50)
    assert pit.io_read(0x42, 1) == 0x50 and pit.io_read(0x42, 1) == 0x50
    pit.io_write(0x43, 1, 0xA0)                 # MSB only
    pit.io_write(0x42, 1, 0x01)
    assert pit.io_read(0x42, 1) == 0x01
    pit.io_write(0x43, 1, 0x80)
    assert pit.io_read(0x42, 1) == 0x01
    start = clock.icount
    pit.io_write(0x43, 1, 0xB1)                 # BCD
    pit.io_write(0x42, 1, 0x00)
    pit.io_write(0x42, 1, 0x10)                 # 1000 decimal
    clock.icount = mid_tick(start, 1)
    assert latch2(pit) == 0x0999
    clock.icount = mid_tick(start, 1001)        # past zero: 9999
    assert latch2(pit) == 0x9999


def test_port61_refresh_toggle_and_speaker_bits(clock):
    pit = Pit(clock)
    assert pit.io_read(0x61, 1) & 0x10 == 0
    clock.icount = 1509                         # 15090 ns
    assert pit.io_read(0x61, 1) & 0x10
    clock.icount = 3017                         # 30170 ns: second flip
    assert pit.io_read(0x61, 1) & 0x10 == 0
    pit.io_write(0x61, 1, 0x03)
    assert pit.speaker_on and pit.io_read(0x61, 1) & 0x0F == 0x03
