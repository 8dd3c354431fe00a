"""The in-tree plugins on the demo images, checked against what the images do."""
from __future__ import annotations

import csv
import hashlib
import json
import re
import struct
import xml.dom.minidom
import zlib

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
    assert "unknown format" in d.error(f"screenshot {tmp_path}/s.txt")
    assert "No such file" in d.error(f"screenshot {tmp_path}/nodir/s.png")


def _read_png(data: bytes) -> tuple[int, int, list[list[tuple[int, int, int]]]]:
    """Decode an 8-bit palette PNG (filter 0 or any of the five filters) into RGB rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        chunks[kind] = body
        idat += body if kind == b"IDAT" else b""
        pos += 12 + n
    assert b"IEND" in chunks
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, ctype) == (8, 3)
    plte = chunks[b"PLTE"]
    pal = [tuple(plte[i:i + 3]) for i in range(0, len(plte), 3)]
    raw = zlib.decompress(idat)
    rows, prev = [], bytes(w)
    for y in range(h):
        f, line = raw[y * (w + 1)], bytearray(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
        for x in range(w):
            a, b, c = (line[x - 1] if x else 0), prev[x], (prev[x - 1] if x else 0)
            p = a + b - c
            pred = [0, a, b, (a + b) // 2,
                    min((a, b, c), key=lambda v: (abs(p - v), (a, b, c).index(v)))][f]
            line[x] = (line[x] + pred) & 0xFF
        rows.append([pal[i] for i in line])
        prev = bytes(line)
    return w, h, rows


def test_screenshot_png_draws_cells_in_their_colours(drive, tmp_path):
    """hello: the PNG decodes; the cells of 'Hello' (attribute 07h) and of the AH=13h string
    (1Eh: yellow on blue) have their glyph's pixels in the foreground colour and the rest in the
    background; a line-graphics character fills the 9th column; the cursor is drawn."""
    from debugger.machine.devices.vgafont import glyph

    d = drive("hello.img")
    d("plugin load screenshot")
    d("continue")
    s = d.session
    # ─A in white, then B with attribute CFh: blink + red background while blinking is on
    s.write_memory(0xB8000 + 2 * (24 * 80 + 3), bytes([0xC4, 0x0F, 0x41, 0x0F, 0x42, 0xCF]))
    assert d(f"screenshot {tmp_path}/s.png screen").startswith("Saved screen")
    w, h, px = _read_png((tmp_path / "s.png").read_bytes())
    assert (w, h) == (80 * 9 + 16, 25 * 16 + 16)
    grey, black, yellow, blue, white = ((0xAA, 0xAA, 0xAA), (0, 0, 0), (0xFF, 0xFF, 0x55),
                                        (0, 0, 0xAA), (0xFF, 0xFF, 0xFF))
    screen = s.screen()
    at = screen[5].index("INT 10h AH=13h")

    def cell(row: int, col: int) -> list[list[tuple[int, int, int]]]:
        return [px[8 + row * 16 + y][8 + col * 9:8 + col * 9 + 9] for y in range(16)]

    def check(row: int, col: int, ch: int, fg: tuple, bg: tuple, ninth: bool = False) -> None:
        got = cell(row, col)
        for y, bits in enumerate(glyph(ch)):
            want = [fg if bits >> (7 - x) & 1 else bg for x in range(8)]
            want.append(fg if ninth and bits & 1 else bg)
            assert got[y] == want, (row, col, chr(ch), y)

    for i, ch in enumerate(b"Hello"):
        check(0, i, ch, grey, black)
    for i, ch in enumerate(b"INT 10h"):
        check(5, at + i, ch, yellow, blue)
    check(24, 3, 0xC4, white, black, ninth=True)
    check(24, 4, 0x41, white, black)
    assert any(cell(24, 3)[y][8] == white for y in range(16))       # the 9th column is lit
    check(24, 5, 0x42, white, (0xAA, 0, 0))
    # the cursor sits after the string: scan lines 13-14 of its cell (CRTC 0Ah/0Bh)
    crow, ccol = s.machine.devices.vga.cursor()
    assert (crow, ccol) == (5, at + len("INT 10h AH=13h string"))
    cur = cell(crow, ccol)
    start, end = s.machine.devices.vga.cursor_shape()
    assert all(cur[y] == [grey] * 9 for y in range(start, end + 1))
    assert all(cur[y] == [black] * 9 for y in range(16) if not start <= y <= end)
    # screen and serial: the serial console follows, in its own colours
    d(f"screenshot {tmp_path}/both.png")
    w2, h2, px2 = _read_png((tmp_path / "both.png").read_bytes())
    lines = s.serial.decode().replace("\r", "").split("\n")
    assert w2 == w and h2 == 8 + 400 + 12 + 16 * (len(lines) + 1) + 8
    assert px2[8 + 400 + 12][8] == (0x1E, 0x1E, 0x1E)
    # blinking off (attribute mode control 10h bit 3): attribute bit 7 brightens the background
    bus = s.machine.bus
    bus.read(0x3DA, 1)
    bus.write(0x3C0, 1, 0x30)
    bus.write(0x3C0, 1, 0x04)
    d(f"screenshot {tmp_path}/bright.png screen")
    _, _, px = _read_png((tmp_path / "bright.png").read_bytes())
    check(24, 5, 0x42, white, (0xFF, 0x55, 0x55))


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
        before = s.icount
        ev = s.step()
        if s.icount > before:       # (the step that finds the CPU halted executes nothing)
            if not cache[key]:
                bad -= 1
            count += 1
        if ev.final:
            break
    assert count == total
    assert bad == 0
    plot = d("emucost plot 40")
    assert re.search(r"vmx\s+\|[.#]{40}\|", plot) and "#" in plot.splitlines()[1]
