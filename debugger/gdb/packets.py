"""Remote-protocol framing: `$data#cs`, acknowledgements, `}` escapes, and ^C."""
from __future__ import annotations

import select
import socket

__all__ = ["PacketIO", "Disconnected", "BadPacket", "INTERRUPT", "escape", "checksum",
           "parse_hex", "parse_hex_bytes"]

INTERRUPT = object()     # what `read` returns for a ^C (0x03) from the client


class Disconnected(Exception):
    """The client went away."""


class BadPacket(ValueError):
    """A malformed or impossible request: the client gets an `E NN` reply."""

    def __init__(self, message: str, code: int = 0x16) -> None:
        super().__init__(message)
        self.code = code


_HEX = frozenset("0123456789abcdefABCDEF")


def parse_hex(text: str, what: str = "number", limit: int = 1 << 64) -> int:
    """A protocol number: hex digits only (no sign, prefix, blanks or `_`), below `limit`."""
    if not text or len(text) > 32 or not _HEX.issuperset(text):
        raise BadPacket(f"bad {what} {text[:40]!r}")
    value = int(text, 16)
    if value >= limit:
        raise BadPacket(f"{what} {value:#x} out of range")
    return value


def parse_hex_bytes(text: str, what: str = "data") -> bytes:
    """Hex-encoded bytes: an even number of hex digits, nothing else."""
    if len(text) % 2 or not _HEX.issuperset(text):
        raise BadPacket(f"bad hex {what}")
    return bytes.fromhex(text)


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def escape(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b in b"#$}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def _unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            out.append(next(it, 0) ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


class PacketIO:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.log: list[tuple[str, bytes]] = []       # (direction, packet) for debugging

    def _fill(self, timeout: float | None) -> bool:
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            raise Disconnected()
        self.buf += data
        return True

    def poll_interrupt(self, timeout: float) -> bool:
        """True if the client sent ^C (other bytes stay buffered); raises Disconnected."""
        self._fill(timeout)
        if 0x03 in self.buf and (not self.buf.startswith(b"$")):
            i = self.buf.index(0x03)
            del self.buf[i]
            return True
        return False

    def read(self, timeout: float | None = None) -> bytes | object | None:
        """The next packet's payload (acknowledged), INTERRUPT for ^C, None on timeout."""
        while True:
            while self.buf and self.buf[0] in b"+-":
                del self.buf[0]
            if self.buf and self.buf[0] == 0x03:
                del self.buf[0]
                return INTERRUPT
            if self.buf and self.buf[0] != ord("$"):
                i = self.buf.find(b"$")
                del self.buf[:len(self.buf) if i < 0 else i]
                continue
            end = self.buf.find(b"#")
            if end >= 0 and len(self.buf) >= end + 3:
                payload = bytes(self.buf[1:end])
                cs = bytes(self.buf[end + 1:end + 3])
                del self.buf[:end + 3]
                try:
                    ok = int(cs, 16) == checksum(payload)
                except ValueError:
                    ok = False
                self._send_raw(b"+" if ok else b"-")
                if ok:
                    self.log.append(("<", payload))
                    return _unescape(payload)
                continue
            if not self._fill(timeout):
                return None

    def send(self, payload: bytes | str) -> None:
        data = payload.encode("latin-1") if isinstance(payload, str) else payload
        data = escape(data)
        self.log.append((">", data))
        self._send_raw(b"$" + data + b"#" + f"{checksum(data):02x}".encode())

    def _send_raw(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            raise Disconnected() from None
