"""The in-tree plugins on the demo images, checked against what the images do."""
from __future__ import annotations

import csv
import hashlib
import json
import re
import xml.dom.minidom

from tests.plugins.conftest import IMAGES


def test_bootkit_on_int13hook(drive):
    d = drive("int13hook-hd.img", "hda")
    d("plugin load bootkit")
    d("continue")
    out = d("bootkit")
    serial = d.session.serial.decode()
    assert "new INT 13h vector 9F80:0000" in serial
    m = re.search(r"INT 13h: F000:E3FE -> 9F80:0000 by 'mov dword ptr \[0x4c\], eax' at "
                  r"(0x[0-9a-f]+) \(icount (\d+)\); chained to the original (\d+) times", out)
    assert m, out
    pc = int(m.group(1), 16)
    # the reported instruction really is the one at that address, and it writes the vector
    assert d.session.disassemble(pc, 1)[0].text == "mov dword ptr [0x4c], eax"
    # the hook intercepts AH=02h twice and AH=42h; AH=41h and AH=08h... go straight through
    assert int(m.group(3)) >= 4
    assert "memory: 639 -> 638 KiB" in out
    assert re.search(r"copied \d+ bytes to 0x9f800-0x9f8[0-9a-f]{2} \(stolen block at 0x9f800\)",
                     out)
    assert "sector 0" not in out                     # the image never writes to the disk


def test_bootkit_catchpoint_and_mbr_write(drive, tmp_path):
    d = drive("int13hook-hd.img", "hda")
    d("plugin load bootkit")
    assert d("pcatch bootkit ivt-hook 0x13").startswith("Catchpoint 1")
    out = d("continue")
    assert "bootkit" in out and "INT 13h hooked" in out
    ev = d.session.last_stop
    assert ev.kind == "bootkit" and ev.point == 1
    assert int.from_bytes(d.session.read_memory(0x4C, 4), "little") == 0x9F800000
    # a sector-0 write through the BIOS, with a changed partition entry
    s = d.session
    mbr = bytearray(s.disks[0].read(0, 1))
    mbr[0x1BE] ^= 0x80
    s.write_memory(0x3000, bytes(mbr))
    from debugger.machine.bios.call import BiosCall

    m = s.machine
    old = s.state()
    m.cpu.set_gpr(0, 0x0301)
    m.cpu.set_gpr(1, 0x0001)
    m.cpu.set_gpr(2, 0x0080)
    m.cpu.set_gpr(3, 0x3000)
    m.load_real_segment("es", 0)
    # the stack needs a FLAGS image for the service's CF
    s.write_memory(old.ss.base + (old.rsp & 0xFFFF), b"\0" * 6)
    m.bios.services[0x13](BiosCall(m, 0x13))
    assert "sector 0 of hda written" in d("bootkit") and "partition table changed" in d("bootkit")


def test_disklog_hashes_match_the_disk(drive, tmp_path):
    d = drive("int13hook-hd.img", "hda")
    d(f"plugin load disklog csv={tmp_path}/log.csv json={tmp_path}/log.json")
    out = d("continue")
    disk = d.session.disks[0]
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    js = json.loads((tmp_path / "log.json").read_text())
    assert len(rows) == len(js) >= 4
    for r in rows:
        assert r["drive"] == "hda" and r["op"] == "read" and r["status"] == "0"
        lba, n = int(r["lba"]), int(r["count"])
        assert r["sha256"] == hashlib.sha256(disk.read(lba, n)).hexdigest()
    chs = [r for r in rows if r["cylinder"]]
    assert all(disk.chs_to_lba(int(r["cylinder"]), int(r["head"]), int(r["sector"])) ==
               int(r["lba"]) for r in chs)
    edd = [r for r in rows if not r["cylinder"]]
    assert edd and edd[0]["buffer"] == "0x2000"                 # the AH=42h read
    assert "disk [" in out and "sha256" in out


def test_screenshot_svg_and_html(drive, tmp_path):
    d = drive("hello.img")
    d("plugin load screenshot")
    d("continue")
    d(f"screenshot {tmp_path}/s.svg")
    d(f"screenshot {tmp_path}/s.html")
    svg = (tmp_path / "s.svg").read_text()
    doc = xml.dom.minidom.parseString(svg)
    texts = ["".join(n.data for n in t.childNodes if n.nodeType == n.TEXT_NODE)
             for t in doc.getElementsByTagName("text")]
    screen = d.session.screen()
    for line in screen:
        if line.strip():
            assert any(line.strip() in t for t in texts), line
    for line in d.session.serial.decode().splitlines():
        assert line in texts
    # the AH=13h string is drawn in its own attribute's colour (not the default grey)
    colours = {t.getAttribute("fill") for t in doc.getElementsByTagName("text")}
    assert len(colours - {"#8ab4f8", "#e0e0e0"}) >= 2
    html = (tmp_path / "s.html").read_text()
    assert "Hello from bootdbg" in html and "DONE" in html and "background:" in html
    assert "PNG needs Pillow" in d.error(f"screenshot {tmp_path}/s.png")
    assert "unknown format" in d.error(f"screenshot {tmp_path}/s.txt")


def test_emucost_matches_an_instruction_by_instruction_count(drive):
    """unreal: count, stepping one instruction at a time, those executed in a state the vmx
    profile cannot enter; emucost's number must be the same."""
    from debugger.checks import evaluate
    from debugger.engine.session import Session

    d = drive("unreal.img")
    d("plugin load emucost profiles=vmx,vmx-ug")
    d("continue")
    out = d("emucost")
    row = {ln.split()[0]: ln.split() for ln in out.splitlines()[1:]}
    total, bad = int(row["vmx"][1]), int(row["vmx"][2])
    assert int(row["vmx-ug"][2]) == 0 and total == d.session.icount

    s = Session(IMAGES / "unreal.img")
    cache: dict[tuple, bool] = {}
    count = 0
    while True:
        st = s.state()
        key = (st.cr0, st.rflags & 0x23000, st.efer, st.cs, st.ss, st.ds, st.es, st.fs, st.gs,
               st.tr, st.ldtr, st.gdtr, st.idtr, st.a20)
        if key not in cache:
            cache[key] = evaluate(st, "vmx").ok
        ev = s.step()
        if not cache[key]:
            bad -= 1
        count += 1
        if ev.final:
            break
    assert count == total
    assert bad == 0
    plot = d("emucost plot 40")
    assert re.search(r"vmx\s+\|[.#]{40}\|", plot) and "#" in plot.splitlines()[1]
