"""MC146818 RTC and CMOS bytes: time from the instruction count, formats, SET, flags, IRQ8."""
from __future__ import annotations

import datetime as dt

from debugger.machine.devices.cmos import Cmos
from debugger.machine.disk import FLOPPY_GEOMETRIES, Geometry

SECOND = 100_000_000                 # instructions per virtual second at 10 ns each


class FakeDisk:
    def __init__(self, kind: str, number: int, geometry: Geometry) -> None:
        self.kind, self.bios_number, self.geometry = kind, number, geometry


def rd(cmos: Cmos, reg: int) -> int:
    cmos.io_write(0x70, 1, reg)
    return cmos.io_read(0x71, 1)


def wr(cmos: Cmos, reg: int, value: int) -> None:
    cmos.io_write(0x70, 1, reg)
    cmos.io_write(0x71, 1, value)


def test_time_runs_from_the_start_date_in_bcd(clock):
    cmos = Cmos(clock)
    assert [rd(cmos, r) for r in (0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32)] == \
        [0x00, 0x00, 0x00, 0x05, 0x01, 0x01, 0x26, 0x20]          # Thursday 2026-01-01
    assert rd(cmos, 0x0A) == 0x26 and rd(cmos, 0x0B) == 0x02 and rd(cmos, 0x0D) == 0x80
    clock.icount = (13 * 3600 + 59 * 60 + 58) * SECOND + 5
    assert [rd(cmos, r) for r in (0x04, 0x02, 0x00)] == [0x13, 0x59, 0x58]
    clock.icount = 86400 * 31 * SECOND                               # 2026-02-01, a Sunday
    assert [rd(cmos, r) for r in (0x06, 0x07, 0x08)] == [0x01, 0x01, 0x02]


def test_binary_and_12_hour_formats(clock):
    cmos = Cmos(clock, start=dt.datetime(1999, 12, 31, 23, 59, 45))
    wr(cmos, 0x0B, 0x06)                       # binary, 24 h
    assert [rd(cmos, r) for r in (0x04, 0x02, 0x00, 0x09, 0x32)] == [23, 59, 45, 99, 19]
    wr(cmos, 0x0B, 0x00)                       # BCD, 12 h
    assert rd(cmos, 0x04) == 0x80 | 0x11       # 11 PM
    clock.icount = 20 * SECOND                 # rolls over to 2000-01-01 00:00:05
    assert [rd(cmos, r) for r in (0x04, 0x00, 0x09, 0x32)] == [0x12, 0x05, 0x00, 0x20]


def test_set_bit_freezes_and_written_time_runs_on(clock, events):
    cmos = Cmos(clock, events=events)
    clock.icount = 5 * SECOND
    wr(cmos, 0x0B, 0x82)                       # SET
    for reg, v in ((0x04, 0x08), (0x02, 0x30), (0x00, 0x00), (0x07, 0x15), (0x08, 0x06)):
        wr(cmos, reg, v)
    clock.icount = 50 * SECOND
    assert rd(cmos, 0x00) == 0x00              # stopped while SET
    assert not rd(cmos, 0x0A) & 0x80
    wr(cmos, 0x0B, 0x02)
    clock.icount = 52 * SECOND
    assert [rd(cmos, r) for r in (0x04, 0x02, 0x00, 0x07, 0x08)] == [0x08, 0x30, 0x02, 0x15, 0x06]
    assert cmos.now_datetime() == dt.datetime(2026, 6, 15, 8, 30, 2)
    assert any(e.kind == "rtc" for e in events)


def test_uip_in_the_last_244_us_of_each_second(clock):
    cmos = Cmos(clock)
    clock.icount = 3 * SECOND - 24_400 - 1     # 244.01 us before the update
    assert not rd(cmos, 0x0A) & 0x80
    clock.icount = 3 * SECOND - 24_400
    assert rd(cmos, 0x0A) & 0x80
    assert rd(cmos, 0x00) == 0x02
    clock.icount = 3 * SECOND
    assert not rd(cmos, 0x0A) & 0x80 and rd(cmos, 0x00) == 0x03


def test_register_c_flags_and_update_interrupt(clock, irq):
    cmos = Cmos(clock, irq)
    assert rd(cmos, 0x0C) == 0x00
    clock.icount = SECOND + 1
    assert rd(cmos, 0x0C) == 0x10 | 0x40       # UF, and PF (periodic flag runs at 1024 Hz)
    assert rd(cmos, 0x0C) == 0x00              # read clears
    assert cmos.next_deadline() is None
    wr(cmos, 0x0B, 0x12)                       # UIE
    assert cmos.next_deadline() == 2 * SECOND
    clock.icount = 2 * SECOND
    cmos.tick(clock.icount)
    assert irq.levels == {8} and cmos.next_deadline() is None
    assert rd(cmos, 0x0C) & 0x90 == 0x90       # IRQF | UF
    assert irq.levels == set()


def test_periodic_interrupt_rate(clock, irq):
    cmos = Cmos(clock, irq)
    wr(cmos, 0x0B, 0x42)                       # PIE, rate 6 = 1024 Hz
    assert cmos.next_deadline() == 97657       # 976562.5 ns
    wr(cmos, 0x0A, 0x2F)                       # rate 15 = 2 Hz
    assert cmos.next_deadline() == SECOND // 2
    clock.icount = SECOND // 2
    cmos.tick(clock.icount)
    assert irq.raises(8) == 1


def test_alarm_with_dont_care_bytes(clock, irq):
    cmos = Cmos(clock, irq)
    wr(cmos, 0x05, 0xFF)                       # any hour
    wr(cmos, 0x03, 0x00)
    wr(cmos, 0x01, 0x07)
    wr(cmos, 0x0B, 0x22)                       # AIE
    assert cmos.next_deadline() == 7 * SECOND
    clock.icount = 7 * SECOND
    cmos.tick(clock.icount)
    assert rd(cmos, 0x0C) & 0xA0 == 0xA0
    assert cmos.next_deadline() == 3607 * SECOND


def test_nmi_bit_and_write_only_index(clock):
    cmos = Cmos(clock)
    cmos.io_write(0x70, 1, 0x80 | 0x15)
    assert cmos.nmi_disabled and cmos.io_read(0x71, 1) == 0x80
    assert cmos.io_read(0x70, 1) == 0xFF
    cmos.io_write(0x70, 1, 0x0F)
    assert cmos.nmi_enabled
    cmos.io_write(0x71, 1, 0x0A)               # shutdown status byte is plain RAM
    assert cmos.io_read(0x71, 1) == 0x0A
    wr(cmos, 0x0D, 0x00)
    assert rd(cmos, 0x0D) == 0x80


def test_memory_and_drive_bytes(clock):
    hd = Geometry(520, 16, 63)
    disks = [FakeDisk("floppy", 0, FLOPPY_GEOMETRIES[1440 * 1024]), FakeDisk("hd", 0x80, hd)]
    cmos = Cmos(clock, ram_size=64 << 20, disks=disks)
    assert (rd(cmos, 0x15), rd(cmos, 0x16)) == (0x80, 0x02)             # 640 KiB
    assert (rd(cmos, 0x17), rd(cmos, 0x18)) == (0x00, 0xFC)             # 63 MiB in KiB
    assert (rd(cmos, 0x30), rd(cmos, 0x31)) == (0x00, 0xFC)
    assert (rd(cmos, 0x34), rd(cmos, 0x35)) == (0x00, 0x03)             # 48 MiB / 64 KiB
    assert rd(cmos, 0x10) == 0x40 and rd(cmos, 0x14) == 0x07
    assert rd(cmos, 0x12) == 0xF0 and rd(cmos, 0x19) == 47
    assert [rd(cmos, 0x1B + i) for i in range(9)] == \
        [0x08, 0x02, 16, 0xFF, 0xFF, 0xC8, 0x08, 0x02, 63]
    total = sum(rd(cmos, r) for r in range(0x10, 0x2E))
    assert (rd(cmos, 0x2E) << 8) | rd(cmos, 0x2F) == total
    big = Cmos(clock, ram_size=3 << 30)
    assert (rd(big, 0x17), rd(big, 0x18)) == (0xFF, 0xFF)               # capped
    assert (rd(big, 0x34) | rd(big, 0x35) << 8) == ((3 << 30) - (16 << 20)) >> 16
    none = Cmos(clock, ram_size=1 << 20)
    assert rd(none, 0x10) == 0 and rd(none, 0x14) == 0x06 and rd(none, 0x17) == 0


def test_machine_reset_keeps_ram_and_clock_but_clears_interrupts(clock, irq):
    cmos = Cmos(clock, irq)
    wr(cmos, 0x0F, 0x0A)                       # shutdown status: "jump via 40:67"
    wr(cmos, 0x0B, 0x12)
    clock.icount = 3 * SECOND
    cmos.tick(clock.icount)
    assert irq.levels == {8}
    cmos.reset()
    assert irq.levels == set() and rd(cmos, 0x0B) == 0x02 and rd(cmos, 0x0C) == 0
    assert rd(cmos, 0x0F) == 0x0A and rd(cmos, 0x00) == 0x03
    cmos.power_on()
    assert rd(cmos, 0x0F) == 0x00 and rd(cmos, 0x00) == 0x00
