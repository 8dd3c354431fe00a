"""CMOS RAM and the MC146818 real-time clock at ports 70h (index; bit 7 = NMI disable) and 71h.

The clock is derived from virtual time: the RTC shows `start` (default 2026-01-01 00:00:00)
plus the virtual seconds elapsed since power-on, so two runs read the same times (a machine
reset keeps the clock and the RAM, as the battery does).  Implemented from
the MC146818 data sheet: time, alarm and date registers 00h-09h and the century byte 32h in BCD
or binary (register B bit 2) and 24- or 12-hour format (bit 1, PM = bit 7 of the hour); register
A's UIP bit, set during the last 244 us before each second boundary; register B's SET bit, which
stops the clock so that the registers can be written, the time running on from the written
values when SET is cleared (a time register written without SET also moves the clock); register
C's PF/AF/UF flags (read clears them) with IRQF and IRQ8 when PIE/AIE/UIE enable them (the
periodic rate from register A's rate-select bits; alarm bytes C0h-FFh are "don't care");
register D's valid-RAM bit.  Not modelled: register A's divider bits (stored; the oscillator
always runs), daylight-saving (register B bit 0, stored), the square-wave output.  The day of
the week is computed from the date (a value written to register 06h is not kept).

The configuration bytes are what qemu-system-i386 + SeaBIOS show (read at the boot sector):
diskette types 10h, hard-disk types 12h/19h/1Ah with the drive parameters at 1Bh/24h, equipment
14h, base memory 15h/16h (640 KiB), extended memory 17h/18h and 30h/31h (KiB above 1 MiB,
capped at FFFFh), 34h/35h (64 KiB blocks above 16 MiB), 5Bh-5Dh (64 KiB blocks above 4 GiB),
boot order 3Dh/38h.  Unlike QEMU, the standard checksum of 10h-2Dh is stored at 2Eh/2Fh, as a
real BIOS keeps it.
"""
from __future__ import annotations

import calendar
import datetime as dt
from typing import Any, Iterable

from debugger.machine.devices._base import Links, NullIrq, PortDevice

__all__ = ["Cmos", "DEFAULT_START"]

DEFAULT_START = dt.datetime(2026, 1, 1, 0, 0, 0)
NS = 1_000_000_000
UIP_NS = 244_000
REG_A, REG_B, REG_C, REG_D = 0x0A, 0x0B, 0x0C, 0x0D
SET, PIE, AIE, UIE, DM_BINARY, HOUR24 = 0x80, 0x40, 0x20, 0x10, 0x04, 0x02
IRQF, PF, AF, UF = 0x80, 0x40, 0x20, 0x10
TIME_REGS = (0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32)
IRQ_LINE = 8


def _bcd(v: int) -> int:
    return ((v // 10) << 4) | (v % 10)


def _unbcd(v: int) -> int:
    return (v >> 4) * 10 + (v & 0xF)


class Cmos(PortDevice):
    name = "cmos"
    irq_lines = (IRQ_LINE,)
    ports = (range(0x70, 0x72),)

    def __init__(self, clock: Any, irq: Any = None, events: Any = None, *,
                 ram_size: int = 64 << 20, disks: Iterable[Any] = (),
                 start: dt.datetime = DEFAULT_START) -> None:
        self.links = Links(clock=clock, irq=irq or NullIrq(), events=events)
        self.ram_size = ram_size
        self.disks = [(getattr(d, "kind", ""), getattr(d, "bios_number", 0), d.geometry)
                      for d in disks]
        self.start = start
        self.power_on()

    @property
    def irq(self) -> Any:
        return self.links.irq

    @irq.setter
    def irq(self, sink: Any) -> None:
        self.links.irq = sink

    def _now(self) -> int:
        return int(self.links.clock.ns())

    # -- reset and configuration bytes -------------------------------------------------------------
    def reset(self) -> None:
        """The RESET pin (a machine reset): the battery-backed RAM and the clock keep going, so a
        guest can pass a shutdown status (0Fh) through a reset; interrupt enables and flags
        clear (MC146818: PIE, AIE, UIE, SQWE in B; IRQF, PF, AF, UF in C)."""
        self._fold(self._now())
        if self.ram[REG_C] & IRQF:
            self.links.irq.lower_irq(IRQ_LINE)
        self.ram[REG_B] &= ~(PIE | AIE | UIE | 0x08)
        self.ram[REG_C] = 0
        self.index = 0x0D
        self.nmi_disabled = False

    def power_on(self) -> None:
        """Fresh CMOS: the clock at `start`, the configuration bytes, registers A-D as a BIOS
        leaves them."""
        self.ram = bytearray(128)
        self.index = 0x0D
        self.nmi_disabled = False
        now = self._now()
        self.base_epoch = calendar.timegm(self.start.timetuple())
        self.base_ns = now
        self.frozen = False
        self.checked_ns = now
        self.ram[REG_A] = 0x26
        self.ram[REG_B] = HOUR24
        self.ram[REG_D] = 0x80
        self._configure()

    def _configure(self) -> None:
        r = self.ram
        floppies = sorted((n, g) for k, n, g in self.disks if k == "floppy")
        hds = sorted((n, g) for k, n, g in self.disks if k == "hd")
        types = [getattr(g, "floppy_type", 4) & 0xF for _, g in floppies[:2]] + [0, 0]
        r[0x10] = (types[0] << 4) | types[1]
        r[0x12] = (0xF0 if len(hds) > 0 else 0) | (0x0F if len(hds) > 1 else 0)
        for (_, g), type_ofs, info in zip(hds[:2], (0x19, 0x1A), (0x1B, 0x24)):
            cyl = min(g.cylinders, 0xFFFF)
            r[type_ofs] = 47                               # user-defined type
            r[info:info + 9] = bytes([cyl & 0xFF, cyl >> 8, g.heads & 0xFF, 0xFF, 0xFF,
                                      0xC0 | ((g.heads > 8) << 3), cyl & 0xFF, cyl >> 8,
                                      g.sectors & 0xFF])
        equipment = 0x06                                   # FPU, PS/2 mouse, VGA
        if floppies:
            equipment |= 0x01 | ((min(len(floppies), 4) - 1) << 6)
        r[0x14] = equipment
        r[0x15:0x17] = (640).to_bytes(2, "little")
        ext = min(max(self.ram_size - (1 << 20), 0) // 1024, 0xFFFF)
        r[0x17:0x19] = r[0x30:0x32] = ext.to_bytes(2, "little")
        above16 = min(max(self.ram_size - (16 << 20), 0) // 0x10000, 0xFFFF)
        r[0x34:0x36] = above16.to_bytes(2, "little")
        above4g = min(max(self.ram_size - (1 << 32), 0) // 0x10000, 0xFFFFFF)
        r[0x5B:0x5E] = above4g.to_bytes(3, "little")
        r[0x3D], r[0x38] = 0x12, 0x30                      # QEMU's default: hd, floppy, cd
        self.update_checksum()

    def update_checksum(self) -> None:
        s = sum(self.ram[0x10:0x2E])
        self.ram[0x2E], self.ram[0x2F] = (s >> 8) & 0xFF, s & 0xFF

    # -- time -------------------------------------------------------------------------------------
    def _seconds(self, now: int) -> int:
        """RTC time (seconds since 1970) at virtual time `now`."""
        return self.base_epoch + (now - self.base_ns) // NS

    def now_datetime(self) -> dt.datetime:
        """The time the clock shows now."""
        if self.frozen:
            return self._parse_registers()
        return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=self._seconds(self._now()))

    def _enc(self, v: int) -> int:
        return v if self.ram[REG_B] & DM_BINARY else _bcd(v)

    def _dec(self, v: int) -> int:
        return v if self.ram[REG_B] & DM_BINARY else _unbcd(v)

    def _enc_hour(self, h: int) -> int:
        if self.ram[REG_B] & HOUR24:
            return self._enc(h)
        return self._enc((h % 12) or 12) | (0x80 if h >= 12 else 0)

    def _dec_hour(self, v: int) -> int:
        if self.ram[REG_B] & HOUR24:
            return self._dec(v & 0x7F)
        return self._dec(v & 0x7F) % 12 + (12 if v & 0x80 else 0)

    def _time_registers(self, when: dt.datetime) -> dict[int, int]:
        return {0x00: self._enc(when.second), 0x02: self._enc(when.minute),
                0x04: self._enc_hour(when.hour), 0x06: self._enc(when.isoweekday() % 7 + 1),
                0x07: self._enc(when.day), 0x08: self._enc(when.month),
                0x09: self._enc(when.year % 100), 0x32: self._enc(when.year // 100)}

    def _materialise(self) -> None:
        for reg, v in self._time_registers(self.now_datetime()).items():
            self.ram[reg] = v

    def _parse_registers(self) -> dt.datetime:
        r = self.ram
        year = min(max(self._dec(r[0x32]) * 100 + self._dec(r[0x09]), 1), 9999)
        month = min(max(self._dec(r[0x08]), 1), 12)
        day = min(max(self._dec(r[0x07]), 1), calendar.monthrange(year, month)[1])
        return dt.datetime(year, month, day, min(self._dec_hour(r[0x04]), 23),
                           min(self._dec(r[0x02]), 59), min(self._dec(r[0x00]), 59))

    def _rebase(self, when: dt.datetime, now: int, keep_fraction: bool = True) -> None:
        """Make the clock show `when` now; keep the position within the second if running."""
        fraction = (now - self.base_ns) % NS if keep_fraction else 0
        self.base_epoch = calendar.timegm(when.timetuple())
        self.base_ns = now - fraction

    def _second_ns(self, second: int) -> int:
        """Virtual time at which the clock reaches RTC second `second`."""
        return self.base_ns + (second - self.base_epoch) * NS

    # -- interrupt flags --------------------------------------------------------------------------
    def _periodic_ns(self) -> tuple[int, int] | None:
        """Periodic interrupt period as (numerator ns, denominator) or None when off."""
        rate = self.ram[REG_A] & 0x0F
        if not rate:
            return None
        units = 1 << (rate - 1) if rate >= 3 else 1 << (rate + 6)      # 1/32768 s units
        return units * NS, 32768

    def _periodic_index(self, t: int) -> int:
        num, den = self._periodic_ns() or (1, 1)
        return (t - self.base_ns) * den // num

    def _alarm_values(self) -> tuple[list[int], list[int], list[int]] | None:
        out = []
        for reg, limit in ((0x05, 24), (0x03, 60), (0x01, 60)):
            v = self.ram[reg]
            if v & 0xC0 == 0xC0:
                out.append(list(range(limit)))
                continue
            n = self._dec_hour(v) if reg == 0x05 else self._dec(v)
            if not 0 <= n < limit:
                return None
            out.append([n])
        return out[0], out[1], out[2]

    def _next_alarm(self, after: int) -> int | None:
        """The first RTC second later than `after` that matches the alarm registers."""
        values = self._alarm_values()
        if values is None:
            return None
        hours, minutes, seconds = values
        start = after + 1
        day0 = start // 86400 * 86400
        for day in (day0, day0 + 86400):
            for h in hours:
                for m in minutes:
                    base = day + h * 3600 + m * 60
                    if base + 59 < start:
                        continue
                    for s in seconds:
                        if base + s >= start:
                            return base + s
        return None

    def _fold(self, now: int) -> None:
        """Set register C's flags for what happened between `checked_ns` and `now`."""
        then = self.checked_ns
        if now <= then:
            return
        flags = 0
        if self._periodic_ns() and self._periodic_index(now) > self._periodic_index(then):
            flags |= PF
        if not self.frozen:
            s0, s1 = self._seconds(then), self._seconds(now)
            if s1 > s0:
                flags |= UF
                nxt = self._next_alarm(s0)
                if nxt is not None and nxt <= s1:
                    flags |= AF
        self.ram[REG_C] |= flags
        self.checked_ns = now
        self._update_irq()

    def _update_irq(self) -> None:
        c = self.ram[REG_C]
        if not c & IRQF and c & self.ram[REG_B] & (PF | AF | UF):
            self.ram[REG_C] = c | IRQF
            self.links.irq.raise_irq(IRQ_LINE)

    def next_deadline(self) -> int | None:
        b = self.ram[REG_B]
        if not b & (PIE | AIE | UIE) or self.ram[REG_C] & IRQF:
            return None
        then = self.checked_ns
        times = []
        if b & PIE and self._periodic_ns():
            num, den = self._periodic_ns()  # type: ignore[misc]
            k = self._periodic_index(then) + 1
            times.append(self.base_ns + -(-k * num // den))
        if not self.frozen and b & (UIE | AIE):
            s0 = self._seconds(then)
            if b & UIE:
                times.append(self._second_ns(s0 + 1))
            if b & AIE:
                nxt = self._next_alarm(s0)
                if nxt is not None:
                    times.append(self._second_ns(nxt))
        if not times:
            return None
        return self.links.clock.insns_for_ns(min(times))

    def tick(self, icount: int) -> None:
        self._fold(self._now())

    # -- ports ------------------------------------------------------------------------------------
    @property
    def nmi_enabled(self) -> bool:
        return not self.nmi_disabled

    def read8(self, port: int) -> int:
        if port == 0x70:
            return 0xFF                          # the index register is write-only
        return self.read_register(self.index)

    def write8(self, port: int, value: int) -> None:
        if port == 0x70:
            self.index = value & 0x7F
            self.nmi_disabled = bool(value & 0x80)
        else:
            self.write_register(self.index, value)

    def read_register(self, reg: int) -> int:
        reg &= 0x7F
        now = self._now()
        if reg in TIME_REGS and not self.frozen:
            return self._time_registers(self.now_datetime())[reg]
        if reg == REG_A:
            uip = not self.frozen and (now - self.base_ns) % NS >= NS - UIP_NS
            return (self.ram[REG_A] & 0x7F) | (0x80 if uip else 0)
        if reg == REG_C:
            self._fold(now)
            v = self.ram[REG_C]
            self.ram[REG_C] = 0
            if v & IRQF:
                self.links.irq.lower_irq(IRQ_LINE)
            return v
        if reg == REG_D:
            return 0x80
        return self.ram[reg]

    def write_register(self, reg: int, value: int) -> None:
        reg &= 0x7F
        value &= 0xFF
        now = self._now()
        if reg in (REG_C, REG_D):
            return                               # read-only
        self._fold(now)
        if reg == REG_A:
            self.ram[REG_A] = value & 0x7F
        elif reg == REG_B:
            self._write_b(value, now)
        elif reg in TIME_REGS:
            if not self.frozen:
                self._materialise()
            self.ram[reg] = value
            if not self.frozen:
                self._rebase(self._parse_registers(), now)
                self._event(f"RTC set to {self.now_datetime()}")
        else:
            self.ram[reg] = value

    def _write_b(self, value: int, now: int) -> None:
        was_set = self.frozen
        if value & SET:
            value &= ~UIE                        # SET clears UIE (data sheet)
            if not was_set:
                self._materialise()
                self.frozen = True
        self.ram[REG_B] = value
        if was_set and not value & SET:
            self._rebase(self._parse_registers(), now, keep_fraction=False)
            self.frozen = False
            self._event(f"RTC set to {self.now_datetime()}")
        self._update_irq()

    def _event(self, message: str) -> None:
        if self.links.events is not None:
            self.links.events.emit("rtc", message)
