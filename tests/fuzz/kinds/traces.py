"""Trace files: real recordings of the demo images (plain and --full) truncated, bit-flipped,
chunk-spliced and spliced with each other, then read by `trace dump`, `trace export` (JSON lines
and Tenet), `trace diff` against the original, and `replay --verify`."""
from __future__ import annotations

import os
import random

from tests.fuzz.engine import ROOT, Kind, captured, cli_main, scratch

RECORDINGS = [("hello.img", []), ("hello.img", ["--full"]), ("unreal.img", ["--full"]),
              ("pmode.img", [])]
# Recorded with 4 MiB of RAM: opening a trace (replay, diff, export) copies and compares all of
# guest RAM, ~100 ms at the default 128 MiB -- most of an input's time -- and the files have the
# same structure whatever the size.
RAM = ["--ram", "4"]


class TracesKind(Kind):
    name = "traces"
    limit = 20.0
    expected = (SystemExit,)

    def setup(self) -> None:
        from debugger.cli import main

        self.tmp = scratch("bootdbg-fuzz-trace-")
        self.seeds: list[bytes] = []
        self.originals: list[str] = []
        for i, (img, extra) in enumerate(RECORDINGS):
            out = os.path.join(self.tmp, f"seed{i}.bdt")
            with captured():
                main(["record", str(ROOT / "images" / img), "-o", out, "--max-insns", "5000",
                      *RAM, *extra])
            with open(out, "rb") as f:
                self.seeds.append(f.read())
            self.originals.append(out)
        self.path = os.path.join(self.tmp, "fuzz.bdt")

    def generate(self, rng: random.Random) -> bytes:
        i = rng.randrange(len(self.seeds))
        b = bytearray(self.seeds[i])
        r = rng.random()
        if r < 0.25:
            b = b[:rng.randrange(len(b) + 1)]
        elif r < 0.6:
            for _ in range(rng.randrange(1, 9)):
                j = rng.randrange(len(b))
                b[j] ^= 1 << rng.randrange(8)
        elif r < 0.8:                            # splice two recordings
            other = self.seeds[rng.randrange(len(self.seeds))]
            cut_a, cut_b = rng.randrange(len(b) + 1), rng.randrange(len(other) + 1)
            b = b[:cut_a] + other[cut_b:]
        else:                                    # duplicate or drop a stretch
            a = rng.randrange(len(b))
            n = rng.randrange(1, 4096)
            b = b[:a] + (b[a:a + n] * 2 if rng.random() < 0.5 else b"") + b[a + n:]
        target = rng.choice((0, 0, 1, 1, 2, 3, 4))
        return bytes([target, i]) + bytes(b)

    def run(self, data: bytes) -> str:
        if len(data) < 2:
            return ""
        target, i, body = data[0] % 5, data[1] % len(self.seeds), data[2:]
        with open(self.path, "wb") as f:
            f.write(body)
        argv = [["trace", "dump", self.path],
                ["trace", "export", "--format", "jsonl", self.path, "-o", os.devnull],
                ["trace", "export", "--format", "tenet", self.path, "-o", os.devnull],
                ["trace", "diff", self.originals[i], self.path],
                ["replay", self.path, "--verify"]][target]
        return cli_main(argv)


KIND = TracesKind
