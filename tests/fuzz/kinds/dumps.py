"""VMCS and QEMU register dumps: the fixtures (/work/shared/fixtures, tests/checks/data)
mutated by line and by byte -- deletions, duplications, swapped and renamed fields, values
changed to edge numbers, truncations, bit flips, lines spliced from another dump -- then
judged by `bootdbg check` (text and --json, every profile)."""
from __future__ import annotations

import os
import random
from pathlib import Path

from tests.fuzz.engine import ROOT, Kind, cli_main, scratch

SOURCES = [Path("/work/shared/fixtures"), ROOT / "tests" / "checks" / "data"]
EDGE = ["0", "ffffffff", "ffffffffffffffff", "10000000000000000", "-1", "zz", "", "0x1",
        "80000000", "deadbeef", "1" * 40, "7fffffff", "00000000000000000000000000000001"]


def seeds() -> list[bytes]:
    out = []
    for d in SOURCES:
        if d.is_dir():
            for p in sorted(d.iterdir()):
                if p.suffix == ".txt":
                    out.append(p.read_bytes())
    return out


def mutate_lines(rng: random.Random, data: bytes, others: list[bytes]) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randrange(1, 6)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        r = rng.random()
        if r < 0.15:
            del lines[i]
        elif r < 0.3:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif r < 0.6:                            # change a value
            words = lines[i].split(b"=")
            if len(words) > 1:
                k = rng.randrange(1, len(words))
                rest = words[k].split(b" ", 1)
                rest[0] = rng.choice(EDGE).encode()
                words[k] = b" ".join(rest)
                lines[i] = b"=".join(words)
            else:
                toks = lines[i].split()
                if toks:
                    toks[rng.randrange(len(toks))] = rng.choice(EDGE).encode()
                    lines[i] = b" ".join(toks)
        elif r < 0.7 and others:
            o = rng.choice(others).split(b"\n")
            lines.insert(i, o[rng.randrange(len(o))])
        elif r < 0.8:
            lines[i] = lines[i][:rng.randrange(len(lines[i]) + 1)]
        elif r < 0.9:
            lines[i] = lines[i].replace(b"=", b"= ", 1) if rng.random() < 0.5 else \
                rng.choice([b"DR4=00000000", b"DR5=0", b"EFER=ffffffffffffffff",
                            b"CR4=ffffffff", b"GDT=     00000000 0000ffff",
                            b"ES =0000 00000000 0000ffff 00009300"])
        else:
            lines[i], lines[-1] = lines[-1], lines[i]
    return b"\n".join(lines)


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randrange(1, 8)):
        if not b:
            break
        i = rng.randrange(len(b))
        r = rng.random()
        if r < 0.5:
            b[i] ^= 1 << rng.randrange(8)
        elif r < 0.7:
            del b[i:i + rng.randrange(1, 64)]
        else:
            b[i:i] = rng.randbytes(rng.randrange(1, 8))
    if rng.random() < 0.1:
        b = b[:rng.randrange(len(b) + 1)]
    return bytes(b)


class DumpsKind(Kind):
    name = "dumps"
    limit = 5.0
    expected = (SystemExit,)

    def setup(self) -> None:
        self.seeds = seeds()
        self.path = os.path.join(scratch("bootdbg-fuzz-dump-"), "dump.txt")

    def generate(self, rng: random.Random) -> bytes:
        data = rng.choice(self.seeds)
        data = mutate_lines(rng, data, self.seeds) if rng.random() < 0.75 else \
            mutate_bytes(rng, data)
        return bytes([rng.randrange(4)]) + data

    def run(self, data: bytes) -> str:
        if not data:
            return ""
        mode, body = data[0] % 4, data[1:]
        with open(self.path, "wb") as f:
            f.write(body)
        argv = ["check", self.path] + [[], ["--json"], ["--profile", "kvm"],
                                       ["--profile", "vmx", "--json"]][mode]
        return cli_main(argv)


KIND = DumpsKind
