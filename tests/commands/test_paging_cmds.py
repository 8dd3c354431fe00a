"""Paging commands as a user runs them (`info tlb`, `info mem`, `page`, `info translate`, `x` on
an unmapped address), checked against QEMU 7.2's monitor on the same images, and the walk
against the machine's own translation."""
from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.commands.conftest import Driver
from tests.commands.paging_guests import GUESTS
from tests.conftest import ROOT, assemble

# name -> (guest source or demo image, needs qemu-system-x86_64)
CASES = {"pse32": (GUESTS["pse32"], False), "pae": (GUESTS["pae"], False),
         "long": (GUESTS["long"], True), "exceptions": (ROOT / "images" / "exceptions.img", False),
         "longmode": (ROOT / "images" / "longmode.img", True)}
_HALTED: dict[str, Driver] = {}


def halted(name: str) -> Driver:
    """A driver on guest `name`, continued to its final HLT (shared: tests only read it)."""
    if name not in _HALTED:
        src = CASES[name][0]
        d = Driver(None, image=src) if isinstance(src, Path) else Driver(src)
        out = d("continue")
        assert "halted" in out.splitlines()[0], out[:400]
        _HALTED[name] = d
    return _HALTED[name]


def image_file(name: str, tmp: Path) -> Path:
    src = CASES[name][0]
    if isinstance(src, Path):
        return src
    path = tmp / f"{name}.img"
    path.write_bytes(assemble(src))
    return path


def qemu_monitor(img: Path, long_mode: bool, commands: list[str]) -> list[str]:
    """Boot `img` in QEMU until its final line and halt, then run HMP `commands`."""
    from tests.images.qemu_harness import QemuError, _Qmp, final_line_seen, qemu_binary

    qemu = qemu_binary(long_mode)
    if qemu is None:
        pytest.skip("QEMU (Debian package qemu-system-x86) is not installed")
    with tempfile.TemporaryDirectory(prefix="bootdbg-paging-") as tmp:
        serial, sock = Path(tmp) / "serial.txt", str(Path(tmp) / "qmp.sock")
        proc = subprocess.Popen(
            [qemu, "-accel", "tcg", "-m", "128", "-display", "none", "-no-reboot",
             "-serial", f"file:{serial}", "-qmp", f"unix:{sock},server=on,wait=off",
             "-drive", f"file={img},format=raw,if=floppy,snapshot=on", "-boot", "a"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        qmp = None
        try:
            while not (serial.exists() and final_line_seen(serial.read_text("latin-1"))):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise QemuError("QEMU did not reach the final line")
                time.sleep(0.02)
            qmp = _Qmp(sock, deadline)
            while "HLT=1" not in qmp.hmp("info registers"):
                if time.monotonic() > deadline:
                    raise QemuError("QEMU did not halt")
                time.sleep(0.02)
            return [qmp.hmp(c).replace("\r", "") for c in commands]
        finally:
            if qmp is not None:
                qmp.close()
            proc.kill()
            proc.wait()


def body(out: str) -> list[str]:
    """Our `info tlb`/`info mem` without the header line."""
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert re.match(r"(32-bit|PAE|4-level) paging, CR3=", lines[0]), lines[0]
    return lines[1:]


def probes(d: Driver) -> list[int]:
    """Linear addresses worth translating: the start, middle and the byte after every range
    (mapped and unmapped neighbours), the high half and a non-canonical address."""
    out = {0, 0x22000, 0x22fff, 0x7fffffff, 0xfffff000}
    for m in d.session.mappings():
        out |= {m.linear, m.linear + m.size // 2 + 5, m.linear + m.size}
    if d.session.state().lma:
        out |= {0xffffffffffe01234, 0x0000800000000000, 0xffff7fffffffffff}
    return sorted(a & 0xFFFFFFFFFFFFFFFF for a in out)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_tlb_mem_and_walks_match_qemu(name, tmp_path):
    d = halted(name)
    addrs = probes(d)[:48]
    tlb, mem, *g2g = qemu_monitor(image_file(name, tmp_path), CASES[name][1],
                                  ["info tlb", "info mem"] + [f"gva2gpa {a:#x}" for a in addrs])
    assert body(d("info tlb")) == [ln for ln in tlb.splitlines() if ln.strip()]
    assert body(d("info mem")) == [ln for ln in mem.splitlines() if ln.strip()]
    for a, theirs in zip(addrs, g2g):
        w = d.session.translate(a)
        m = re.match(r"gpa: ((?:0x)?[0-9a-f]+)", theirs)
        assert (w.physical if w.ok else None) == (int(m.group(1), 16) if m else None), \
            (hex(a), theirs, w)


@pytest.mark.parametrize("name", sorted(CASES))
def test_walk_agrees_with_the_machine(name):
    """Session.translate gives what the machine's own MMU code gives, for every access kind
    at CPL 0 and 3 (the same physical address, or a #PF with the same error code)."""
    from debugger.machine.memory import PageFault

    d = halted(name)
    mem = d.session.machine.mem
    for a in probes(d):
        for access in ("read", "write"):
            for cpl in (0, 3):
                w = d.session.translate(a, access, cpl)
                try:
                    phys = mem.translate(a, write=access == "write", user=cpl == 3)
                    theirs = ("ok", phys)
                except PageFault as exc:
                    theirs = ("pf", exc.error_code)
                if w.fault.startswith("non-canonical"):   # #GP; the machine says #PF
                    assert theirs[0] == "pf"
                    continue
                ours = ("ok", w.physical) if w.ok else ("pf", w.error_code)
                assert ours == theirs, (hex(a), access, cpl, w)


def test_page_walk_levels_read_from_memory():
    """Each level `page` shows is the entry at the physical address it names (checked with
    xp), the chain leads from CR3 to the page, and the faults carry the SDM's error codes."""
    d = halted("pae")
    out = d("page 0x20010")
    entries = re.findall(r"(PDPTE|PDE|PTE)\s+\[(0x[0-9a-f]+)\] at physical (0x[0-9a-f]+) = "
                         r"(0x[0-9a-f]+)", out)
    assert [e[0] for e in entries] == ["PDPTE", "PDE", "PTE"]
    table = d.session.state().cr3 & ~0x1F
    for name, index, at, value in entries:
        assert int(at, 16) == table + int(index, 16) * 8
        shown = d(f"xp/1xg {at}").split(":")[1].strip()
        assert int(shown, 16) == int(value, 16)
        table = int(value, 16) & 0x000FFFFFFFFFF000
    assert "-> physical 0x20010 (user, read-only, executable)" in out
    assert "CPL 0: read ok, write #PF error code 0x3, fetch ok" in out
    assert "CPL 3: read ok, write #PF error code 0x7, fetch ok" in out
    sup = d("info translate 0x21000")
    assert "CPL 3: read #PF error code 0x5, write #PF error code 0x7" in sup
    absent = d("page 0x22000")
    assert re.search(r"PTE\s+\[0x022\].*not present", absent)
    assert "-> #PF error code 0x0 (not present, read, supervisor): PTE 0x22 is not present" \
        in absent
    big = d("page 0x400123")
    assert "-> page 0x600000 (2 MiB)" in big and "-> physical 0x600123" in big


def test_page_in_long_mode_and_reverse_lookup():
    d = halted("long")
    out = d("page 0xffffffffffe00010")
    assert [m for m in re.findall(r"^\s+(PML4E|PDPTE|PDE|PTE)", out, re.M)] == \
        ["PML4E", "PDPTE", "PDE"]
    assert "-> physical 0x800010 (supervisor, writable" in out
    assert "non-canonical" in d("page 0x0000800000000000")
    gib = d("page 0x40000000")
    assert "-> page 0x40000000 (1 GiB)" in gib
    if d.session.state().efer & (1 << 11):
        assert "fetch #PF error code 0x11" in d("page 0x25000")
    assert d("page -p 0x123456").strip() == "physical 0x123456 is mapped at linear 0x23456, 0x123456"
    assert "not mapped" in d("page -p 0x22000")


def test_x_on_an_unmapped_address_names_the_level():
    d = halted("pse32")
    assert d.error("x/4x 0x22010").endswith("PTE 0x22 is not present")
    assert d.error("x/4x 0x800000").endswith("PDE 0x2 is not present")
    lm = halted("long")
    assert lm.error("x/2xg 0x80000000").endswith("PDPTE 0x2 is not present")


def test_paging_off_and_seg_off_addresses():
    d = Driver(None, image=ROOT / "images" / "exceptions.img")
    assert d("info tlb").startswith("paging is off (real)")
    assert d("info mem").startswith("paging is off")
    assert d("page 07c0:0010").strip() == "paging is off: linear 0x7c10 is physical 0x7c10"
    assert "usage: page ADDRESS" in d.error("page")
    assert d.error("page nonsense_symbol+")


def test_paging_commands_from_a_batch_script(tmp_path):
    """The CLI with a script file: the same walk as through the API."""
    import os
    import sys

    img = image_file("pae", tmp_path)
    script = tmp_path / "walk.gdb"
    script.write_text("continue\npage 0x20010\ninfo mem\n")
    r = subprocess.run([sys.executable, "-m", "debugger", "session", str(img), "--batch",
                        "-x", str(script)], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, NO_COLOR="1"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "-> physical 0x20010 (user, read-only, executable)" in r.stdout
    assert "0000000000400000-0000000000600000 0000000000200000 ur-" in r.stdout
