"""find / dump / writemem / restore / loadmem as a user types them, checked against the bytes
the guest holds (read back through the API and through the dumped files)."""
from __future__ import annotations

import re

import pytest

from tests.commands.conftest import Driver
from tests.commands.paging_guests import GUESTS
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def paged() -> Driver:
    """The 32-bit paging guest at its final HLT: page 0x22000 is not mapped."""
    d = Driver(GUESTS["pse32"])
    d("continue")
    return d


def _hits(out: str) -> list[int]:
    return [int(m, 16) for m in re.findall(r"^(0x[0-9a-f]+)", out, re.M)]


def test_find_agrees_with_a_search_of_the_dumped_bytes(tmp_path):
    d = Driver(None, image=ROOT / "images" / "exceptions.img")
    d("continue")
    dump = tmp_path / "low.bin"
    assert d(f"dump binary memory {dump} 0x7c00 0xa000").startswith("9216 bytes")
    data = dump.read_bytes()
    assert data == d.session.read_memory(0x7c00, 0xa000 - 0x7c00)
    for args, pattern in (("/b 0x7c00, 0x9fff, 0x66, 0x60", b"\x66\x60"),
                          ('0x7c00, +0x2400, "DONE"', b"DONE"),
                          ("/h 0x7c00, +0x2400, 0x10", b"\x10\x00"),
                          ("/w 0x7c00, +0x2400, 0x8000", (0x8000).to_bytes(4, "little")),
                          ('/b 0x7c00, +0x2400, 0xe8, "\\x00"', b"\xe8\x00")):
        want = [0x7c00 + m.start() for m in re.finditer(b"(?=" + re.escape(pattern) + b")",
                                                          data)]
        out = d(f"find {args}")
        assert _hits(out) == want, args
        assert (f"{len(want)} pattern" in out) if want else out.strip() == "Pattern not found."
        if want:
            assert d("p/x $_").strip().endswith(f"= {want[-1]:#x}")
            assert d("p/d $numfound").strip().endswith(f"= {len(want)}")
    assert len(_hits(d("find /b3 0x7c00, +0x2400, 0x00"))) == 3


def test_find_skips_unmapped_pages_and_takes_physical_addresses(paged):
    d = paged
    assert "0x22000" in d.error("set dword[0x21ffe] = 0x5a5aa5a5")   # into the absent page
    d("set dword[0x21ffc] = 0x5a5aa5a5")
    d("set dword[0x23ff0] = 0x5a5aa5a5")          # linear 0x23000 maps physical 0x123000
    out = d("find /w 0x20000, 0x24fff, 0x5a5aa5a5")
    assert _hits(out) == [0x21ffc, 0x23ff0]
    assert _hits(d("find /w -p 0x123000, +0x1000, 0x5a5aa5a5")) == [0x123ff0]
    assert d.error("x/4x 0x22000").endswith("PTE 0x22 is not present")


def test_dump_restore_round_trip_and_faults_leave_memory_alone(paged, tmp_path):
    d = paged
    blob = bytes(range(256)) * 2
    src = tmp_path / "blob.bin"
    src.write_bytes(blob)
    assert d(f"restore {src} binary 0x30000").startswith("512 bytes from")
    assert d.session.read_memory(0x30000, 512) == blob
    assert d(f"restore {src} 0x31000 16 32").startswith("16 bytes")
    assert d.session.read_memory(0x31000, 16) == blob[16:32]
    assert d(f'loadmem "{src}" 0x32000').startswith("512 bytes")
    out = tmp_path / "out.bin"
    d(f'writemem "{out}" 0x32000 512')
    assert out.read_bytes() == blob
    d(f"dump memory -p {out} 0x123000 +16")
    assert out.read_bytes() == d.session.read_memory(0x23000, 16)
    # a load crossing into the unmapped page faults before writing anything
    before = d.session.read_memory(0x21f00, 0x100)
    msg = d.error(f"restore {src} 0x21f00")
    assert "0x22000" in msg
    assert d.session.read_memory(0x21f00, 0x100) == before


def test_bad_input_is_one_line(paged, tmp_path):
    d = paged
    assert d.error("find 0x7c00").startswith("usage: find")
    assert "end must be after" in d.error("find 0x7c00, 0x7000, 1")
    assert "does not fit in 1 byte" in d.error("find /b 0, +10, 0x1234")
    assert "cannot write" in d.error("dump memory /nonexistent/dir/x 0 10")
    assert "cannot read" in d.error("restore /nonexistent 0")
    assert "only binary" in d.error("dump ihex memory x 0 1")
    assert "bad modifier" in d.error("find /q 0, 1, 2")
    assert "usage" in d.error("writemem x.bin")
