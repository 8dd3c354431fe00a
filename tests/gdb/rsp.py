"""A raw remote-protocol client for driving a `GdbServer` with arbitrary (hostile) packets,
and an in-process server on a loopback port that outlives any one client."""
from __future__ import annotations

import socket
import threading
from typing import Any

from debugger.gdb.packets import checksum, escape


class RawClient:
    """Sends `$payload#cs` packets and returns the server's reply payload (acks handled)."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, payload: bytes | str) -> None:
        data = escape(payload.encode("latin-1") if isinstance(payload, str) else payload)
        self.sock.sendall(b"$" + data + b"#" + f"{checksum(data):02x}".encode())

    def reply(self) -> bytes:
        """The next packet from the server, skipping acks and console (`O...`) output."""
        while True:
            while self.buf[:1] in (b"+", b"-"):
                del self.buf[0]
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start + 1) if start >= 0 else -1
            if start >= 0 and end >= 0 and len(self.buf) >= end + 3:
                payload = bytes(self.buf[start + 1:end])
                del self.buf[:end + 3]
                self.sock.sendall(b"+")
                if payload.startswith(b"O") and payload != b"OK":
                    continue
                return payload
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.buf += data

    def ask(self, payload: bytes | str) -> bytes:
        self.send(payload)
        return self.reply()


class LiveServer:
    """`debugger.gdb.serve` for `session` in a daemon thread on a free loopback port."""

    def __init__(self, session: Any) -> None:
        from debugger.gdb.server import serve

        self.session = session
        self.port = 0
        self.error: BaseException | None = None
        ready = threading.Event()

        def on_listen(host: str, port: int) -> None:
            self.port = port
            ready.set()

        def main() -> None:
            try:
                serve(session, "127.0.0.1", 0, on_listen=on_listen)
            except BaseException as exc:         # the server died: the test reports it
                self.error = exc
                ready.set()

        self.thread = threading.Thread(target=main, name="rsp-live-server", daemon=True)
        self.thread.start()
        ready.wait(30)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive() and self.error is None

    def client(self) -> RawClient:
        return RawClient(self.port)
