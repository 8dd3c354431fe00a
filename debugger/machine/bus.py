"""Port I/O bus, the virtual clock and the device contract.

Time in the PC is derived from the instruction count only: `Clock.ns()` is `icount * ns_per_insn`.
So every device that depends on time (PIT, RTC, UART pacing, refresh toggle) behaves identically in
two runs of the same image.  Devices that need to act at a future time (a timer interrupt) report
the instruction count at which they next need attention (`next_deadline`); the run loop stops there
and calls `tick`.
"""
from __future__ import annotations

from typing import Callable, Iterable, Protocol

from debugger.machine.events import EventLog

__all__ = ["Clock", "Device", "IoBus", "IrqSink", "NS_PER_INSN"]

NS_PER_INSN = 10  # the virtual CPU retires 100 million instructions per second


class Clock:
    """The machine's notion of time: instructions retired, and virtual nanoseconds derived from it."""

    def __init__(self, ns_per_insn: int = NS_PER_INSN) -> None:
        self.icount = 0
        self.ns_per_insn = ns_per_insn

    def ns(self) -> int:
        return self.icount * self.ns_per_insn

    def insns_for_ns(self, ns: int) -> int:
        """How many instructions make `ns` nanoseconds (at least 1)."""
        return max(1, -(-ns // self.ns_per_insn))


class IrqSink(Protocol):
    """What a device raises interrupt lines on (the 8259 pair)."""

    def raise_irq(self, line: int) -> None: ...
    def lower_irq(self, line: int) -> None: ...


class Device:
    """Base class for port-mapped devices.  Subclasses set `name` and `ports`."""

    name = "device"
    ports: tuple[range, ...] = ()
    # The IRQ lines the device's timed events (`tick`) can raise; None: any line.
    irq_lines: tuple[int, ...] | None = None

    def io_read(self, port: int, size: int) -> int:
        return (1 << (8 * size)) - 1

    def io_write(self, port: int, size: int, value: int) -> None:
        pass

    def next_deadline(self) -> int | None:
        """The icount at which `tick` must be called next, or None."""
        return None

    def tick(self, icount: int) -> None:
        pass

    def reset(self) -> None:
        pass


class IoBus:
    """Dispatches IN/OUT to devices by port; unknown ports read all-ones and are logged once each."""

    def __init__(self, events: EventLog) -> None:
        self._events = events
        self._map: dict[int, Device] = {}
        self.devices: list[Device] = []
        self._unknown_seen: set[int] = set()
        self.watchers: list[Callable[[str, int, int, int], None]] = []
        self.changes = 0            # bumped by every attach and detach
        # Set by a watcher that wants the run to stop after the current I/O instruction.
        self.stop_requested = False

    def attach(self, device: Device) -> Device:
        for r in device.ports:
            for port in r:
                self._map[port] = device
        self.devices.append(device)
        self.changes += 1
        return device

    def detach(self, device: Device) -> None:
        """Remove `device`; each of its ports goes back to the latest other device attached there
        (a plugin's model that took over a port gives it back)."""
        if device not in self.devices:
            return
        self.devices.remove(device)
        self.changes += 1
        freed = {p for r in device.ports for p in r if self._map.get(p) is device}
        for p in freed:
            del self._map[p]
        for d in self.devices:                      # in attach order: the latest wins
            for r in d.ports:
                for port in r:
                    if port in freed:
                        self._map[port] = d

    def device_at(self, port: int) -> Device | None:
        return self._map.get(port)

    def read(self, port: int, size: int) -> int:
        dev = self._map.get(port)
        mask = (1 << (8 * size)) - 1
        if dev is None:
            self._unknown("in", port, size, mask)
            value = mask
        else:
            value = dev.io_read(port, size) & mask
        for w in self.watchers:
            w("in", port, size, value)
        return value

    def write(self, port: int, size: int, value: int) -> None:
        value &= (1 << (8 * size)) - 1
        dev = self._map.get(port)
        if dev is None:
            self._unknown("out", port, size, value)
        else:
            dev.io_write(port, size, value)
        for w in self.watchers:
            w("out", port, size, value)

    def _unknown(self, direction: str, port: int, size: int, value: int) -> None:
        key = port * 2 + (direction == "out")
        if key not in self._unknown_seen:
            self._unknown_seen.add(key)
            self._events.emit("io-unknown", f"{direction} port {port:#06x} (size {size}) "
                              f"value {value:#x}: no device", port=port, direction=direction)

    def next_deadline(self, lines: int | None = None) -> int | None:
        """The earliest device deadline; with `lines` (a mask of IRQ lines 0-15), only of the
        devices whose events can raise one of them."""
        devs = self.devices if lines is None else [
            d for d in self.devices
            if d.irq_lines is None or any(lines >> n & 1 for n in d.irq_lines)]
        times = [t for t in (d.next_deadline() for d in devs) if t is not None]
        return min(times) if times else None

    def tick(self, icount: int) -> None:
        for d in self.devices:
            t = d.next_deadline()
            if t is not None and t <= icount:
                d.tick(icount)

    def reset(self) -> None:
        for d in self.devices:
            d.reset()

    def __iter__(self) -> Iterable[Device]:
        return iter(self.devices)
