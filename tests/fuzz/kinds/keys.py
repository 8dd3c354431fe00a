"""Key and serial input strings: random text, key names in braces (valid, unknown, unclosed,
with modifiers), control characters and non-ASCII, typed into a guest that echoes INT 16h keys
and COM1 bytes to the serial port (restored from a checkpoint before each input), and 1 input in
64 through `bootdbg run --keys/--serial-input` as a user would."""
from __future__ import annotations

import random

from tests.fuzz.engine import ROOT, Kind, captured

ECHO = r"""
    xor ax, ax
    mov ds, ax
    sti
again:
    mov ah, 1
    int 0x16
    jz serial
    mov ah, 0
    int 0x16
    mov dx, 0x3f8
    out dx, al
serial:
    mov dx, 0x3fd
    in al, dx
    test al, 1
    jz again
    mov dx, 0x3f8
    in al, dx
    out dx, al
    jmp again
"""
NAMES = ["enter", "f1", "f12", "up", "ctrl+alt+delete", "shift+tab", "esc", "space", "nokey",
         "", "ctrl+", "+", "alt+f4", "ctrl+ctrl+a", "F1", "ENTER", "shift+shift", "a", "{",
         "}", "ctrl+alt+shift+win+x", "pause", "printscreen", "é", "0" * 50]


class KeysKind(Kind):
    name = "keys"
    limit = 10.0

    def setup(self) -> None:
        from debugger.engine.session import Session, SessionError
        from debugger.machine import snapshot
        from debugger.machine.disk import disk_from_bytes
        from tests.conftest import assemble

        self.expected = (ValueError, SessionError)       # the typing API's one-line errors
        self.snapshot = snapshot
        self.session = Session(disks=[disk_from_bytes(assemble(ECHO), "echo.img", boot=True)])
        self.cp = snapshot.take(self.session.machine)
        self.count = 0

    def generate(self, rng: random.Random) -> bytes:
        parts = []
        for _ in range(rng.randrange(0, 10)):
            r = rng.random()
            if r < 0.3:
                parts.append("".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(5))))
            elif r < 0.55:
                parts.append("{" + rng.choice(NAMES) + rng.choice(["}", "}", "}", ""]))
            elif r < 0.7:
                parts.append(chr(rng.randrange(0, 32)))
            elif r < 0.8:
                parts.append(chr(rng.randrange(128, 0x2000)))
            else:
                parts.append(rng.choice(["{{", "}}", "\\n", "\r\n", "\t", "\b", "\x7f"]))
        keys = "".join(parts)
        serial = rng.randbytes(rng.randrange(0, 64))
        cli = b"C" if rng.randrange(64) == 0 else b"K"
        return cli + keys.encode("utf-8", "surrogatepass") + b"\x00\x1f" + serial

    def run(self, data: bytes) -> str:
        keys_b, _, serial = data[1:].partition(b"\x00\x1f")
        keys = keys_b.decode("utf-8", "replace")
        if data[:1] == b"C":                     # through the command line
            return self._cli(keys, serial)
        s = self.session
        self.snapshot.restore(s.machine, self.cp)
        s.machine.devices.com1.feed(serial)
        s.machine.devices.kbc.type_keys(keys)
        ev = s.cont(max_insns=800)
        s.serial
        return ev.summary()

    def _cli(self, keys: str, serial: bytes) -> str:
        from debugger.cli import main

        argv = ["run", str(ROOT / "images" / "hello.img"), "--keys", keys, "--serial-input",
                serial.decode("latin-1"), "--max-insns", "2000", "--quiet"]
        with captured() as buf:
            try:
                main(argv)
            except SystemExit:
                pass
            except Exception as exc:             # noqa: BLE001 -- at the CLI, a traceback
                raise RuntimeError(f"bootdbg run --keys: {type(exc).__name__}: {exc}") from exc
        return buf.getvalue()


KIND = KeysKind
