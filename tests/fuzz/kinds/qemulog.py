"""QEMU logs (-d in_asm,cpu,nochain): the log in tests/checks/data and one made by
qemu-system-i386 when it is installed, mutated by line and byte, then compared with a recording
of the same image by `trace diff` and read record by record."""
from __future__ import annotations

import os
import random

from tests.fuzz.engine import ROOT, Kind, captured, cli_main, scratch
from tests.fuzz.kinds.dumps import mutate_bytes, mutate_lines
from tests.fuzz.kinds.traces import RAM

LOG = ROOT / "tests" / "checks" / "data" / "qemu-unreal-i386-log.txt"


class QemuLogKind(Kind):
    name = "qemulog"
    limit = 10.0
    expected = (SystemExit,)

    def setup(self) -> None:
        from debugger.cli import main

        self.tmp = scratch("bootdbg-fuzz-qlog-")
        self.seeds = [LOG.read_bytes()]
        self.rec = os.path.join(self.tmp, "unreal.bdt")
        with captured():
            main(["record", str(ROOT / "images" / "unreal.img"), "-o", self.rec, *RAM,
                  "--max-insns", "5000"])
        self.path = os.path.join(self.tmp, "fuzz.log")

    def generate(self, rng: random.Random) -> bytes:
        data = self.seeds[0]
        data = mutate_lines(rng, data, self.seeds) if rng.random() < 0.7 else \
            mutate_bytes(rng, data)
        return bytes([rng.choice((0, 0, 0, 1, 2))]) + data

    def run(self, data: bytes) -> str:
        from debugger.trace.qemulog import QemuLog, QemuLogError

        if not data:
            return ""
        mode, body = data[0] % 3, data[1:]
        with open(self.path, "wb") as f:
            f.write(body)
        if mode == 0:
            try:
                for n, rec in enumerate(QemuLog(self.path).records()):
                    rec.state()
                    if n > 2000:
                        break
            except QemuLogError as exc:
                return str(exc)
            return ""
        argv = ["trace", "diff", self.path, self.rec] if mode == 1 else \
            ["trace", "diff", self.rec, self.path]
        return cli_main(argv)


KIND = QemuLogKind
