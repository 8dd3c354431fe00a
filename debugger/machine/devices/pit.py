"""The 8254 programmable interval timer (ports 40h-43h) and system control port B (61h).

Counters are not stepped: each channel remembers the virtual time at which it started counting,
and its count element and OUT level are computed from the time elapsed since (input clock
1.193182 MHz, so one PIT tick every ~838 ns of virtual time).  Implemented from the 8254 data
sheet: modes 0-5 (6 and 7 alias 2 and 3), LSB/MSB/LSB-then-MSB access, the counter latch
command, the read-back command with status byte, BCD counting, and the gate input (channels 0
and 1 have theirs tied high on a PC; channel 2's is bit 0 of port 61h).

Simplification: a count takes effect when written (the data sheet loads it on the next clock
edge, one tick later), and in modes 2 and 3 a new count restarts the period at once (the chip
waits for the end of the current one).  Modes 2 and 3 treat a count of 1 as 2.

Channel 0 drives IRQ0: each rising edge of OUT0 (every period in modes 2/3; terminal count in
modes 0/1, one tick after it in modes 4/5; reprogramming a low OUT0 high) pulses IRQ0 on the
IRQ sink.  `next_deadline` is the instruction count of the next rising edge.

Port 61h: bit 0 gate 2, bit 1 speaker data, bits 2-3 stored (parity/channel-check enables),
bit 4 the DRAM refresh toggle (flips every 15.085 us of virtual time), bit 5 OUT2.

`reset()` = the state at the boot sector under qemu-system-i386 + SeaBIOS (read back there):
channel 0 in mode 2, LSB/MSB, count 0 (65536: 18.2 Hz); channels 1 and 2 in mode 3 with a count
of 65536 never written by the BIOS; gate 2 low.
"""
from __future__ import annotations

from typing import Any

from debugger.machine.devices._base import Links, NullIrq, PortDevice

__all__ = ["Pit", "PitChannel", "PIT_HZ", "REFRESH_NS"]

PIT_HZ = 1_193_182
NS_PER_S = 1_000_000_000
REFRESH_NS = 15_085


def _to_bcd(v: int) -> int:
    return int(str(v % 10000), 16)


def _from_bcd(v: int) -> int:
    return ((v >> 12) & 0xF) * 1000 + ((v >> 8) & 0xF) * 100 + ((v >> 4) & 0xF) * 10 + (v & 0xF)


class PitChannel:
    """One counter.  `now` arguments are virtual nanoseconds."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.mode = 3
        self.rw = 3
        self.bcd = False
        self.count = 0             # the count register as written (0 = 65536 / 10000)
        self.loaded = False        # a count is in effect
        self.running = False       # counting (else frozen at `held_ns`)
        self.origin_ns = 0         # virtual time of tick 0 while running
        self.held_ns = 0           # elapsed time when frozen
        self.triggered = False     # modes 1 and 5: a gate edge has started the count
        self.gate = index != 2
        self.null_count = True
        self.latch: list[int] = []
        self.status: int | None = None
        self.read_msb = False      # LSB/MSB reads: next byte is the MSB
        self.write_msb = False     # LSB/MSB writes: next byte is the MSB
        self.write_lsb = 0
        self.signalled = 0         # ticks up to which OUT rising edges were reported

    # -- derived state -----------------------------------------------------------------------------
    @property
    def effective_mode(self) -> int:
        return self.mode - 4 if self.mode >= 6 else self.mode

    def period(self) -> int:
        if self.bcd:
            n = _from_bcd(self.count) or 10000
        else:
            n = self.count or 0x10000
        return max(n, 2) if self.effective_mode in (2, 3) else n

    def elapsed_ns(self, now: int) -> int:
        return now - self.origin_ns if self.running else self.held_ns

    def ticks(self, now: int) -> int:
        return max(self.elapsed_ns(now), 0) * PIT_HZ // NS_PER_S

    def state(self, now: int) -> tuple[int, bool]:
        """(count element, OUT) at virtual time `now`."""
        mode = self.effective_mode
        n = self.period()
        if not self.loaded:
            return 0, mode != 0
        if mode in (1, 5) and not self.triggered:
            return n, True
        t = self.ticks(now)
        if mode in (0, 1):
            return n - t, t >= n
        if mode in (4, 5):
            return n - t, t != n
        if not self.running:                       # modes 2/3 with the gate low: OUT high
            return n - (t % n), True
        p = t % n
        if mode == 2:
            return n - p, p != n - 1
        high = (n + 1) // 2
        if p < high:
            return (n - 2 * p) if n % 2 == 0 else (n - 1 - 2 * p), True
        q = p - high
        return (n - 2 * q) if n % 2 == 0 else (n - 1 - 2 * q), False

    def out(self, now: int) -> bool:
        return self.state(now)[1]

    def counter_value(self, now: int) -> int:
        """The count element as the chip shows it (16-bit binary or 4-digit BCD)."""
        ce, _ = self.state(now)
        return _to_bcd(ce % 10000) if self.bcd else ce % 0x10000

    def status_byte(self, now: int) -> int:
        return ((self.out(now) << 7) | (self.null_count << 6) | (self.rw << 4)
                | (self.mode << 1) | int(self.bcd))

    def next_edge_ns(self) -> int | None:
        """Virtual time of the next OUT rising edge after those already reported, or None."""
        if not self.loaded or not self.running:
            return None
        mode = self.effective_mode
        n = self.period()
        if mode in (2, 3):
            edge = (self.signalled // n + 1) * n
        else:
            if mode in (1, 5) and not self.triggered:
                return None
            edge = n if mode in (0, 1) else n + 1
            if self.signalled >= edge:
                return None
        return self.origin_ns + -(-edge * NS_PER_S // PIT_HZ)

    # -- programming -------------------------------------------------------------------------------
    def control(self, rw: int, mode: int, bcd: bool) -> None:
        self.rw, self.mode, self.bcd = rw, mode, bcd
        self.loaded = self.running = self.triggered = False
        self.held_ns = 0
        self.null_count = True
        self.latch = []
        self.status = None
        self.read_msb = self.write_msb = False

    def start(self, now: int) -> None:
        self.origin_ns = now
        self.running = True
        self.signalled = 0

    def load(self, count: int, now: int) -> None:
        self.count = count & 0xFFFF
        self.loaded = True
        self.null_count = False
        mode = self.effective_mode
        if mode in (1, 5):
            if not self.triggered:
                self.running = False
            return
        self.held_ns = 0
        self.signalled = 0
        if self.gate:
            self.start(now)
        else:
            self.running = False

    def set_gate(self, level: bool, now: int) -> None:
        if level == self.gate:
            return
        self.gate = level
        mode = self.effective_mode
        if not self.loaded:
            return
        if level:
            if mode in (1, 5) or mode in (2, 3):
                self.triggered = True
                self.held_ns = 0
                self.start(now)
            else:                                   # modes 0/4: resume
                self.origin_ns = now - self.held_ns
                self.running = True
        elif mode in (0, 2, 3, 4):
            self.held_ns = self.elapsed_ns(now)
            self.running = False

    def latch_count(self, now: int) -> None:
        if self.latch:
            return
        v = self.counter_value(now)
        self.latch = {1: [v & 0xFF], 2: [v >> 8]}.get(self.rw, [v & 0xFF, v >> 8])

    def read(self, now: int) -> int:
        if self.status is not None:
            v, self.status = self.status, None
            return v
        if self.latch:
            return self.latch.pop(0)
        v = self.counter_value(now)
        if self.rw == 1:
            return v & 0xFF
        if self.rw == 2:
            return v >> 8
        self.read_msb = not self.read_msb          # True: the LSB was just read
        return (v & 0xFF) if self.read_msb else (v >> 8)

    def write(self, value: int, now: int) -> None:
        if self.rw == 1:
            self.load(value, now)
        elif self.rw == 2:
            self.load(value << 8, now)
        elif not self.write_msb:
            self.write_lsb = value
            self.write_msb = True
            if self.effective_mode == 0:           # mode 0: the first byte stops the count
                self.held_ns = self.elapsed_ns(now)
                self.loaded = self.running = False
                self.null_count = True
        else:
            self.write_msb = False
            self.load(self.write_lsb | (value << 8), now)


class Pit(PortDevice):
    name = "pit"
    irq_lines = (0,)
    ports = (range(0x40, 0x44), range(0x61, 0x62))

    def __init__(self, clock: Any, irq: Any = None, events: Any = None) -> None:
        self.links = Links(clock=clock, irq=irq or NullIrq(), events=events)
        self.reset()

    @property
    def irq(self) -> Any:
        return self.links.irq

    @irq.setter
    def irq(self, sink: Any) -> None:
        self.links.irq = sink

    def _now(self) -> int:
        return int(self.links.clock.ns())

    def reset(self) -> None:
        self.channels = [PitChannel(i) for i in range(3)]
        self.port61 = 0x00
        now = self._now()
        for ch in self.channels[1:]:
            ch.rw = 0
            ch.load(0, now)
        self.program_like_bios()

    def program_like_bios(self, mode: int = 2, count: int = 0) -> None:
        """What SeaBIOS does: channel 0 in `mode`, LSB/MSB, binary, `count` (0 = 65536)."""
        self.write8(0x43, (mode & 7) << 1 | 0x30)
        self.write8(0x40, count & 0xFF)
        self.write8(0x40, (count >> 8) & 0xFF)

    # -- time --------------------------------------------------------------------------------------
    def next_deadline(self) -> int | None:
        t = self.channels[0].next_edge_ns()
        return None if t is None else self.links.clock.insns_for_ns(t)

    def tick(self, icount: int) -> None:
        ch = self.channels[0]
        t = ch.next_edge_ns()
        now = self._now()
        if t is not None and t <= now:
            ch.signalled = ch.ticks(now)
            self._pulse()

    def _pulse(self) -> None:
        self.links.irq.raise_irq(0)
        self.links.irq.lower_irq(0)

    def counter(self, index: int) -> int:
        """The current count of channel `index` (for views; does not disturb the read sequence)."""
        return self.channels[index].counter_value(self._now())

    def out(self, index: int) -> bool:
        return self.channels[index].out(self._now())

    # -- ports -------------------------------------------------------------------------------------
    def read8(self, port: int) -> int:
        now = self._now()
        if port == 0x61:
            ch2 = self.channels[2]
            refresh = (now // REFRESH_NS) & 1
            return ((self.port61 & 0x0F) | (refresh << 4) | (ch2.out(now) << 5)) & 0xFF
        if port == 0x43:
            return 0xFF                            # the control word register is write-only
        return self.channels[port - 0x40].read(now)

    def write8(self, port: int, value: int) -> None:
        now = self._now()
        ch0 = self.channels[0]
        before = ch0.out(now)
        if port == 0x61:
            self.port61 = value & 0x0F
            self.channels[2].set_gate(bool(value & 1), now)
        elif port == 0x43:
            self._control(value, now)
        else:
            self.channels[port - 0x40].write(value, now)
        if not before and ch0.out(now):
            self._pulse()
            ch0.signalled = max(ch0.signalled, ch0.ticks(now))

    def _control(self, value: int, now: int) -> None:
        sc = value >> 6
        if sc == 3:                                # read-back
            for i in range(3):
                if value & (2 << i):
                    ch = self.channels[i]
                    if not value & 0x20:
                        ch.latch_count(now)
                    if not value & 0x10 and ch.status is None:
                        ch.status = ch.status_byte(now)
            return
        ch = self.channels[sc]
        rw = (value >> 4) & 3
        if rw == 0:
            ch.latch_count(now)
        else:
            ch.control(rw, (value >> 1) & 7, bool(value & 1))

    @property
    def speaker_on(self) -> bool:
        return (self.port61 & 3) == 3
