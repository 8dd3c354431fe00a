"""Port 80h (POST codes) and Bochs' port E9h debug console.

Port 80h keeps the last byte written (`post_code`) and logs a "post" event when it changes
(Linux and others also use the port as an I/O delay, writing the same value many times).
Reads of port 80h return FFh, as under QEMU (nothing drives the bus there on a PC).
Port E9h: bytes written are appended to `output` and passed to `on_tx`; a read returns E9h, the
value Bochs and QEMU's debugcon return so that guests can detect the port.
"""
from __future__ import annotations

from typing import Any, Callable

from debugger.machine.devices._base import Links, PortDevice

__all__ = ["DebugPort"]


class DebugPort(PortDevice):
    name = "debugcon"
    ports = (range(0x80, 0x81), range(0xE9, 0xEA))

    def __init__(self, events: Any = None, *,
                 on_tx: Callable[[int], None] | None = None) -> None:
        self.links = Links(events=events, on_tx=on_tx)
        self.tx = bytearray()
        self.reset()

    @property
    def on_tx(self) -> Callable[[int], None] | None:
        return self.links.on_tx

    @on_tx.setter
    def on_tx(self, fn: Callable[[int], None] | None) -> None:
        self.links.on_tx = fn

    @property
    def output(self) -> bytes:
        """Everything written to port E9h (kept across reset)."""
        return bytes(self.tx)

    def reset(self) -> None:
        self.post_code: int | None = None

    def read8(self, port: int) -> int:
        return 0xE9 if port == 0xE9 else 0xFF

    def write8(self, port: int, value: int) -> None:
        if port == 0xE9:
            self.tx.append(value)
            if self.links.on_tx is not None:
                self.links.on_tx(value)
            return
        if value != self.post_code:
            self.post_code = value
            if self.links.events is not None:
                self.links.events.emit("post", f"POST code {value:02X}h", code=value)
