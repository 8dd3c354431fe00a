"""The PS/2 mouse behind the 8042's auxiliary port, as QEMU 7.2 models it (hw/input/ps2.c).

Commands arrive through the controller's D4h command; every reply is queued (16 bytes at most)
for the controller to pass on through its output buffer with the auxiliary flag.  E6h/E7h
scaling, E8h resolution, E9h status (status byte, resolution, sample rate), EAh stream mode,
EBh read data (one packet), EEh/ECh wrap mode (bytes echoed until ECh or FFh), F0h remote mode,
F2h identify (00h; 03h after the IntelliMouse rate sequence 200-100-80, 04h after 200-200-80),
F3h sample rate, F4h/F5h enable/disable reporting, F6h defaults, FFh reset (FAh AAh id).  Other
bytes get no answer (QEMU's behaviour).

Nothing moves the pointer: a packet reports no movement and no button.  Power-on state is
QEMU's (status, resolution and rate 0 until the guest resets the mouse or loads defaults);
SeaBIOS does not touch the mouse before the boot sector.  Plain state, copied by checkpoints.
"""
from __future__ import annotations

from collections import deque

__all__ = ["Ps2Mouse"]

ACK = 0xFA
QUEUE_SIZE = 16
STATUS_REMOTE, STATUS_ENABLED, STATUS_SCALE21 = 0x40, 0x20, 0x10


class Ps2Mouse:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Power-on (QEMU's ps2_mouse_reset)."""
        self.queue: deque[int] = deque()
        self.write_cmd: int | None = None
        self.status = 0
        self.resolution = 0
        self.sample_rate = 0
        self.wrap = False
        self.type = 0
        self.detect = 0

    def _send(self, *data: int) -> None:
        for b in data:
            if len(self.queue) < QUEUE_SIZE:
                self.queue.append(b & 0xFF)

    def _defaults(self) -> None:
        self.sample_rate, self.resolution, self.status = 100, 2, 0

    def packet(self) -> tuple[int, ...]:
        """A packet with no movement and no button (4 bytes for the wheel types)."""
        return (0x08, 0, 0) + ((0,) if self.type in (3, 4) else ())

    def write(self, val: int) -> None:
        val &= 0xFF
        pending, self.write_cmd = self.write_cmd, None
        if pending == 0xF3:
            self.sample_rate = val
            self._detect(val)
            self._send(ACK)
            return
        if pending == 0xE8:
            self.resolution = val
            self._send(ACK)
            return
        if self.wrap:
            if val == 0xEC:
                self.wrap = False
                self._send(ACK)
                return
            if val != 0xFF:
                self._send(val)
                return
        if val in (0xE6, 0xE7):
            self.status = self.status & ~STATUS_SCALE21 | (STATUS_SCALE21 if val == 0xE7 else 0)
            self._send(ACK)
        elif val in (0xEA, 0xF0):
            self.status = self.status & ~STATUS_REMOTE | (STATUS_REMOTE if val == 0xF0 else 0)
            self._send(ACK)
        elif val == 0xEE:
            self.wrap = True
            self._send(ACK)
        elif val == 0xF2:
            self._send(ACK, self.type)
        elif val in (0xE8, 0xF3):
            self.write_cmd = val
            self._send(ACK)
        elif val == 0xE9:
            self._send(ACK, self.status, self.resolution, self.sample_rate)
        elif val == 0xEB:
            self._send(ACK, *self.packet())
        elif val in (0xF4, 0xF5):
            self.status = self.status & ~STATUS_ENABLED | (STATUS_ENABLED if val == 0xF4 else 0)
            self._send(ACK)
        elif val == 0xF6:
            self._defaults()
            self._send(ACK)
        elif val == 0xFF:
            self._defaults()
            self.type = 0
            self.queue.clear()
            self._send(ACK, 0xAA, self.type)

    def _detect(self, rate: int) -> None:
        """IntelliMouse (200, 100, 80) and IntelliMouse Explorer (200, 200, 80) detection."""
        d = self.detect
        if d == 0:
            self.detect = 1 if rate == 200 else 0
        elif d == 1:
            self.detect = 2 if rate == 100 else 3 if rate == 200 else 0
        else:
            if rate == 80:
                self.type = 3 if d == 2 else 4
            self.detect = 0
