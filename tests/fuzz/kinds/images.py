"""Disk images and guest code: random bytes, a boot signature with random code, and random
code run after a prologue that entered protected mode.  A booted machine is reused through
checkpoints (real mode at 0000:7C00 and protected mode after pmode.img's switch); every 32nd
input is a whole new image opened from bytes, as `bootdbg run` would."""
from __future__ import annotations

import random

from tests.fuzz.engine import ROOT, Kind

IMAGES = ROOT / "images"
PROLOGUES = (b"\xfa\x31\xc0\x8e\xd8\x8e\xc0\x8e\xd0\xbc\x00\x7c",      # cli; segments; sp
             b"\x0f\x20\xc0\x66\x83\xc8\x01\x0f\x22\xc0",             # mov eax,cr0; or; mov cr0
             b"\xcd\x13", b"\xcd\x10", b"\xcd\x16", b"\xf4", b"\xcc", b"\xcd\x15",
             b"\x0f\x01\x16", b"\x0f\x00\xd8", b"\x66\xcf", b"\xcf", b"\x9d", b"\x0f\x0b")


class ImagesKind(Kind):
    name = "images"
    limit = 10.0

    def setup(self) -> None:
        from debugger.engine.session import Session, SessionError
        from debugger.machine import snapshot
        from debugger.machine.disk import DiskError

        self.expected = (SessionError, DiskError)
        self.snapshot = snapshot
        self.real = Session(IMAGES / "hello.img")
        self.real_cp = snapshot.take(self.real.machine)
        self.pm = Session(IMAGES / "pmode.img")
        self.pm.catch("mode")
        self.pm.cont(max_insns=200_000)          # real -> pm16 at the mov cr0
        self.pm.delete()
        self.pm.step(2)
        self.pm_pc = self.pm.state().pc
        self.pm_cp = snapshot.take(self.pm.machine)
        self.count = 0

    def generate(self, rng: random.Random) -> bytes:
        mode = rng.randrange(3)                  # 0 random, 1 signature + code, 2 protected mode
        n = rng.choice((16, 64, 512, 512, 1024, 4096))
        code = bytearray()
        while len(code) < n:
            if rng.random() < 0.3:
                code += rng.choice(PROLOGUES)
            else:
                code += rng.randbytes(rng.randrange(1, 16))
        code = code[:n]
        if mode == 1 and len(code) >= 512:
            code[510:512] = b"\x55\xaa"
        if mode != 2 and rng.randrange(32) == 0:
            mode = 3                             # a whole new image, opened from bytes
        return bytes([mode]) + bytes(code)

    def run(self, data: bytes) -> str:
        if not data:
            return ""
        mode, code = data[0] % 4, data[1:]
        if mode == 3:
            return self._whole_image(code)
        s, cp, at = (self.pm, self.pm_cp, self.pm_pc) if mode == 2 else \
            (self.real, self.real_cp, 0x7C00)
        self.snapshot.restore(s.machine, cp)
        if code:
            s.machine.mem.write_phys(at, code)
        ev = s.cont(max_insns=4000)
        st = s.state()
        s.check()
        s.disassemble(count=2)
        s.read_memory(st.pc, 1) if st.pc < 1 << 32 else None
        return ev.summary()

    def _whole_image(self, code: bytes) -> str:
        from debugger.engine.session import Session
        from debugger.machine.disk import disk_from_bytes

        disk = disk_from_bytes(code, "fuzz.img", boot=True)
        s = Session(disks=[disk])
        return s.cont(max_insns=4000).summary()


KIND = ImagesKind
