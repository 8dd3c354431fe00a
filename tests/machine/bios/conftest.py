"""Helpers for the BIOS service tests: boot tiny nasm programs and read back what they stored."""
from __future__ import annotations

import pytest

from tests.conftest import assemble

RESULTS = 0x600          # boot code stores its results here (0000:0600)
HALT = "\ncli\nhlt\njmp $-2\n"


def patterned(image: bytes, first: int = 1) -> bytes:
    """Mark every sector from `first` on with its LBA (u32 at offset 0, and 0xA5 filler)."""
    out = bytearray(image)
    for n in range(first, len(out) // 512):
        out[n * 512:n * 512 + 4] = n.to_bytes(4, "little")
        out[n * 512 + 4:n * 512 + 512] = bytes([n & 0xFF]) * 508
    return bytes(out)


def make_disk(source: str, *, kind: str = "floppy", size: int = 1474560, name: str | None = None,
              pattern: bool = True):
    from debugger.machine.disk import disk_from_bytes

    data = assemble(source, pad_to=size)
    if pattern:
        data = patterned(data)
    return disk_from_bytes(data, "test.img", name, kind, boot=True)


def machine(*disks, **config):
    from debugger.machine.pc import Machine, MachineConfig

    return Machine(list(disks), MachineConfig(**config))


def run_to_halt(m, budget: int = 200_000):
    r = m.run(budget)
    assert r.reason == "halted", (r.reason, r.message)
    return r


def words(m, addr: int, n: int) -> list[int]:
    data = m.mem.read_phys(addr, 2 * n)
    return [int.from_bytes(data[i:i + 2], "little") for i in range(0, 2 * n, 2)]


@pytest.fixture
def disk():
    return make_disk
