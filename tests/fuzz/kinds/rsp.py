"""Remote-protocol packets against a live `GdbServer` on a loopback port: every packet kind
with edge arguments (negative, huge, non-hex, missing), monitor commands, breakpoints and
watchpoints at the ends of the address space, continues stopped by ^C, raw framing garbage and
dropped connections.  After every batch a real gdb connects and must get the registers."""
from __future__ import annotations

import random
import shutil
import socket
import subprocess

from tests.fuzz.engine import ROOT, Hang, Kind
from tests.fuzz.kinds.scripts import NUMBERS, REGS, WORDS

HEXES = ["0", "1", "7c00", "7c10", "ffff", "10000", "fffffff0", "ffffffff", "100000000",
         "ffffffffffffffff", "10000000000000000", "-1", "", "zz", "0x10", " 1", "1_0", "+1",
         "4", "8", "58", "ff", "1000", "20000000", "9f800"]
TEMPLATES = ["?", "g", "G{d}", "p{h}", "P{h}={d}", "m{h},{h}", "M{h},{h}:{d}", "X{h},{h}:{d}",
             "c", "c{h}", "s", "s{h}", "Z{k},{h},{h}", "z{k},{h},{h}", "Z{k},{h}", "bc", "bs",
             "qSupported:multiprocess+;swbreak+", "qXfer:features:read:target.xml:{h},{h}",
             "qXfer:features:read:other.xml:{h},{h}", "qRcmd,{r}", "Hg{h}", "Hc-1", "T{h}",
             "vCont?", "vCont;c", "vKill", "qC", "qAttached:{h}", "qfThreadInfo",
             "qsThreadInfo", "qSymbol::", "QStartNoAckMode", "qOffsets", "vMustReplyEmpty",
             "D", "k", "!", "i", "R00", "A", "t", "qTStatus", "{x}"]


class RspKind(Kind):
    name = "rsp"
    limit = 15.0
    batch = 500

    def setup(self) -> None:
        from debugger.engine.session import Session
        from debugger.machine import snapshot
        from tests.gdb.rsp import LiveServer

        self.snapshot = snapshot
        self.session = Session(ROOT / "images" / "hello.img")
        self.cp = snapshot.take(self.session.machine)
        self.server = LiveServer(self.session)
        self.client = None
        self.count = 0

    def reset(self) -> None:
        """After a hang or a dropped client: a new server (the old one may be stuck)."""
        self._drop()
        self.setup()

    def _drop(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except OSError:
                pass
        self.client = None

    def _connect(self):
        if self.client is None:
            self.client = self.server.client()
            self.client.sock.settimeout(self.limit)
        return self.client

    def generate(self, rng: random.Random) -> bytes:
        if rng.random() < 0.05:                  # raw bytes on the wire, then a dropped line
            raw = bytearray()
            for _ in range(rng.randrange(1, 6)):
                raw += rng.choice([b"$", b"#", b"}", b"*", b"\x03", b"+", b"-", b"$?#3f",
                                   b"#zz", b"$g#67", rng.randbytes(rng.randrange(1, 20))])
            return b"\x00" + bytes(raw)
        t = rng.choice(TEMPLATES)

        def cmd() -> str:
            n = rng.randrange(1, 4)
            parts = [rng.choice(["info registers", "x/4x", "print", "set", "break", "watch",
                                 "delete", "sreg", "check", "stepi", "printf", "tbreak",
                                 "continue", "until", "catch", "info", "disassemble"])]
            for _ in range(n):
                parts.append(rng.choice(NUMBERS + REGS + WORDS))
            return " ".join(parts).encode().hex()
        out = t.format(h=rng.choice(HEXES), k=rng.choice(["0", "1", "2", "3", "4", "5", "-1",
                                                           "ff", ""]),
                       d=rng.randbytes(rng.randrange(0, 40)).hex()[:rng.randrange(0, 81)],
                       r=cmd(), x=rng.randbytes(rng.randrange(1, 12)).decode("latin-1"))
        return b"\x01" + out.encode("latin-1")

    def run(self, data: bytes) -> str:
        if not data:
            return ""
        self.count += 1
        if self.count % 100 == 0 and getattr(self.session, "timeline", None) is not None:
            self.reset()            # (time travel is on: no restore behind the timeline's back)
        elif self.count % 100 == 0:
            self._drop()
            self.snapshot.restore(self.session.machine, self.cp) if self.snapshot.valid(
                self.session.machine, self.cp) else None
        c = self._connect()
        if data[0] == 0:
            c.send_raw(data[1:])
            self._drop()
            return ""
        pkt = data[1:]
        c.send(pkt)
        if pkt.startswith((b"k", b"D")):           # kill / detach: the server hangs up
            self._drop()
            return ""
        resumes = pkt[:1] in (b"c", b"s") or pkt in (b"bc", b"bs") or \
            pkt.startswith((b"vCont;", b"qRcmd,"))    # (a monitor command may run the guest)
        try:
            if resumes:
                c.sock.settimeout(0.3)
                try:
                    c.reply()
                except socket.timeout:
                    c.send_raw(b"\x03")             # ^C: the continue must stop
                    c.sock.settimeout(self.limit)
                    c.reply()
                c.sock.settimeout(self.limit)
            else:
                c.reply()
        except socket.timeout:
            self._drop()
            raise Hang() from None
        except (ConnectionError, OSError) as exc:
            self._drop()
            if not self.server.alive:
                raise RuntimeError(f"server died: {self.server.error!r}") from None
            raise RuntimeError(f"server dropped the client: {exc}") from None
        return ""

    def batch_check(self) -> str | None:
        """A real gdb connects and reads the registers (the server is alive and sane)."""
        self._drop()
        if not self.server.alive:
            return f"server died: {self.server.error!r}"
        gdb = shutil.which("gdb")
        if gdb is None:
            return None
        r = subprocess.run([gdb, "-nx", "-batch", "-ex", "set architecture i8086",
                            "-ex", f"target remote 127.0.0.1:{self.server.port}",
                            "-ex", "info registers eip", "-ex", "x/1i $pc"],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
        out = r.stdout + r.stderr
        if "eip" not in out:
            return f"gdb could not read the registers:\n{out[-800:]}"
        return None


KIND = RspKind
