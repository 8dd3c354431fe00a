"""Disk images are read on demand (issue 14, item 8): a huge sparse image costs nothing until
the guest reads it, guest writes stay in the copy-on-write overlay, and a disk over a file
answers exactly like a disk over the same bytes in memory."""
from __future__ import annotations

import os
import random
import tracemalloc

import pytest

from tests.conftest import assemble

GiB = 1 << 30

EXT_READ_LAST = r"""
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov si, dap
    mov ah, 0x42
    mov dl, 0x80
    int 0x13
    setc [0x7e00]
    cli
    hlt
    jmp $
align 4
dap: db 16, 0
     dw 1              ; one sector
     dw 0x8000, 0      ; to 0000:8000
     dq LAST
"""


def _sparse(path, size, boot: bytes, tail: bytes = b"") -> None:
    with open(path, "wb") as f:
        f.write(boot)
        f.truncate(size)
        if tail:
            f.seek(size - len(tail))
            f.write(tail)


def test_a_large_sparse_image_is_not_read_whole(tmp_path):
    """200 MiB image: opening it and booting its first instructions allocate far less."""
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    img = tmp_path / "big.img"
    _sparse(img, 200 << 20, assemble("jmp $", pad_to=None))
    tracemalloc.start()
    try:
        disk = open_disk(img, boot=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert disk.kind == "hd" and disk.sectors == (200 << 20) // 512
    assert peak < 16 << 20, f"opening a 200 MiB image allocated {peak >> 20} MiB"
    s = Session(disks=[disk])
    s.step(3)


def test_64_gib_sparse_image_boots_and_the_guest_reads_its_last_sector(tmp_path):
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    size = 64 * GiB
    img = tmp_path / "huge.img"
    marker = b"LAST SECTOR OF 64 GiB".ljust(512, b"!")
    boot = assemble(EXT_READ_LAST.replace("LAST", str(size // 512 - 1)), pad_to=None)
    try:
        _sparse(img, size, boot, marker)
    except OSError as exc:
        pytest.skip(f"no sparse 64 GiB file here: {exc}")
    s = Session(disks=[open_disk(img, boot=True)])
    ev = s.cont(max_insns=100_000)
    assert ev.kind == "halted", ev.summary()
    assert s.read_memory(0x7E00, 1, "physical") == b"\0", "INT 13h AH=42h failed (CF set)"
    assert s.read_memory(0x8000, 512, "physical") == marker


def test_disk_over_a_file_equals_disk_over_bytes_and_never_writes_the_file(tmp_path):
    """Differential: random reads and writes against the in-memory reference disk."""
    from debugger.machine.disk import DiskError, disk_from_bytes, open_disk

    rng = random.Random(14)
    for size in (512, 1440 * 1024, 3 * 1024 * 1024 + 512 * 7, 5000):
        data = bytearray(rng.randbytes(size))
        data[510:512] = b"\x55\xaa"
        img = tmp_path / f"d{size}.img"
        img.write_bytes(bytes(data))
        on_file = open_disk(img, boot=True)
        in_mem = disk_from_bytes(bytes(data), str(img), boot=True)
        assert (on_file.kind, on_file.geometry, on_file.sectors) == \
            (in_mem.kind, in_mem.geometry, in_mem.sectors)
        assert on_file.sha256 == in_mem.sha256
        for _ in range(200):
            lba = rng.randrange(0, on_file.sectors + 2)
            count = rng.randrange(1, 9)
            if rng.random() < 0.3:
                payload = rng.randbytes(512 * count)
                outcomes = []
                for d in (on_file, in_mem):
                    try:
                        d.write(lba, payload)
                        outcomes.append("ok")
                    except DiskError as exc:
                        outcomes.append(str(exc))
                assert outcomes[0] == outcomes[1]
            got = []
            for d in (on_file, in_mem):
                try:
                    got.append(d.read(lba, count))
                except DiskError as exc:
                    got.append(str(exc))
            assert got[0] == got[1], (size, lba, count)
        assert img.read_bytes() == bytes(data), "guest writes reached the user's image"
        out_a, out_b = tmp_path / "a.out", tmp_path / "b.out"
        on_file.save(out_a)
        in_mem.save(out_b)
        assert out_a.read_bytes() == out_b.read_bytes()


def test_saving_over_the_image_the_disk_reads_from(tmp_path):
    from debugger.machine.disk import open_disk

    img = tmp_path / "x.img"
    img.write_bytes(bytes(510) + b"\x55\xaa" + bytes(range(256)) * 2 * 3)
    d = open_disk(img, boot=True)
    d.write(2, b"\xab" * 512)
    d.save(img)
    assert img.read_bytes()[1024:1536] == b"\xab" * 512
    assert img.read_bytes()[512:1024] == bytes(range(256)) * 2


def test_an_image_cut_short_under_the_debugger_reads_as_zeros(tmp_path):
    from debugger.machine.disk import open_disk

    img = tmp_path / "cut.img"
    img.write_bytes(bytes(510) + b"\x55\xaa" + b"\x11" * 512 * 3)
    d = open_disk(img, boot=True)
    os.truncate(img, 1024)
    assert d.read(1, 1) == b"\x11" * 512
    assert d.read(2, 2) == bytes(1024)


def test_a_file_name_with_a_nul_is_one_line():
    """(A script's `source` or a path built by a program can carry a NUL: ValueError before.)"""
    from debugger.machine.disk import DiskError, open_disk
    from debugger.userfile import UserFileError, read_capped

    with pytest.raises(DiskError, match="not a file name"):
        open_disk("a\x00b.img")
    with pytest.raises(UserFileError, match="not a file name"):
        read_capped("a\x00b.bdg", 100)
