"""Symbols as a user loads and uses them: the demo boot loader's nasm map names its stops,
disassembly, breakpoints and expressions; every file format gives the same names for one
program (nasm map, nasm listing, ELF, nm list, ld map)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.commands.conftest import Driver
from tests.conftest import ROOT, nasm_available

IMAGES = ROOT / "images"


@pytest.fixture(scope="module")
def exceptions_map(tmp_path_factory) -> Path:
    """images/exceptions.asm assembled again with a nasm map: the same bytes as the image."""
    if not nasm_available():
        pytest.skip("nasm is not installed")
    tmp = tmp_path_factory.mktemp("syms")
    out, mp = tmp / "exceptions.bin", tmp / "exceptions.map"
    subprocess.run(["nasm", "-f", "bin", "--before", f"[map all {mp}]", "-o", str(out),
                    "exceptions.asm"], cwd=IMAGES, check=True)
    img = (IMAGES / "exceptions.img").read_bytes()
    assert img[:len(out.read_bytes())] == out.read_bytes()
    return mp


def _map_symbols(path: Path) -> dict[str, int]:
    text = path.read_text().split("-- Symbols", 1)[1]
    out = {}
    for sec in text.split("---- Section ")[1:]:
        for m in re.finditer(r"^\s+([0-9A-F]+)\s+([0-9A-F]+)\s+(\S+)$", sec, re.M):
            out[m.group(3)] = int(m.group(2), 16)
    return out


def test_demo_loader_names_in_stops_disassembly_and_expressions(exceptions_map):
    d = Driver(None, image=IMAGES / "exceptions.img")
    assert re.match(r"\d+ symbols from .*exceptions\.map$", d(f"symbol-file {exceptions_map}"
                                                                ).strip())
    truth = _map_symbols(exceptions_map)
    d("b p_puts")
    stop = d("continue").splitlines()[0]
    assert f"(linear {truth['p_puts']:#x}) <p_puts>" in stop
    assert d.session.state().pc == truth["p_puts"]
    assert d("info symbol $pc").startswith("p_puts at linear")
    assert d("info symbol p_puts+3").startswith("p_puts.next + 1 at")  # p_puts.next = +2
    listing = d("x/8i p_puts")
    assert f"<p_putc>" in listing                       # call p_putc, named at its target
    assert re.search(r"call 0x[0-9a-f]+ <p_putc>", listing)
    # x/i NAME+N starts there, and each line names the address it shows
    first = d("x/1i p_puts+2").strip()
    assert f"{truth['p_puts'] + 2:08x}" in first and "<p_puts.next>" in first
    assert d("p PDIR").strip() == "$1 = 4096 (0x1000)"      # a "No Section" constant
    assert "p_puts" in d("info symbols ^p_puts$")
    # the context's code pane names the current instruction too
    d("set context on")
    assert "<p_puts>" in d("context")


def test_symbols_at_a_seg_off_base_in_real_mode(tmp_path):
    d = Driver(None, image=IMAGES / "hello.img")
    lst = tmp_path / "stage2.sym"
    lst.write_text("; stage 2, linked at 0\n0000 entry\n0010 helper\n")
    assert d("add-symbol-file " + str(lst) + " 07c0:0000").strip() == \
        f"2 symbols from {lst} (offset 0x7c00)"
    assert d("info symbol 0000:7c12").startswith("helper + 2 at linear 0x7c12")
    assert d("ldsym \"" + str(lst) + "\" 0x100").strip().endswith("(offset 0x100)")
    assert d("p/x helper").strip() == "$1 = 0x110"          # the later load replaced it
    assert d("symbol-file").strip() == "2 symbols discarded"
    assert d("info symbols").startswith("No symbols loaded")


def test_bad_symbol_input_is_one_line(tmp_path):
    d = Driver(None, image=IMAGES / "hello.img")
    assert "/nonexistent/x.map: no such file" in d.error("symbol-file /nonexistent/x.map")
    empty = tmp_path / "empty.txt"
    empty.write_text("nothing to see here\n")
    assert "no symbols found" in d.error(f"add-symbol-file {empty}")
    broken = tmp_path / "broken.elf"
    broken.write_bytes(b"\x7fELF\x01\x01\x01" + bytes(20))
    assert "ELF" in d.error(f"symbol-file {broken}")
    assert "unknown name 'nosuch'" in d.error("b nosuch")
    assert "usage" in d.error("add-symbol-file")
    assert "usage: info symbol" in d.error("info symbol")


def test_symbol_files_are_read_bounded_and_named_files_only():
    """A NUL in the name (a script line) or a device that never ends (issue 14 items 6, 8):
    one line each, not an internal error or a read for ever (found by the scripts fuzzer)."""
    d = Driver(None, image=IMAGES / "hello.img")
    assert "not a file name" in d.error('ldsym "\t\x00 ] 0x"')
    assert "not a file name" in d.error("symbol-file a\x00b")
    assert "more than" in d.error("add-symbol-file /dev/zero")
    assert "is a directory" in d.error(f"symbol-file {IMAGES}")


def test_completion_offers_symbol_names(exceptions_map):
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from debugger.ui.completion import CommandCompleter

    d = Driver(None, image=IMAGES / "exceptions.img")
    d(f"symbol-file {exceptions_map}")
    comp = CommandCompleter(d.interp)

    def done(text: str) -> list[str]:
        return [text[:len(text) + c.start_position] + c.text
                for c in comp.get_completions(Document(text), CompleteEvent())]

    assert "b p_puts.next" in done("b p_puts.")
    assert "x/i *p_hexn.digit" in done("x/i *p_hexn.d")
    assert done("info reg") == ["info registers"] or "info registers" in done("info reg")


SMALL = """\
global start
section .text
start:
    xor ax, ax
.loop:
    call func
    jmp .loop
func:
    mov si, msg
    ret
msg: db "hi", 0
"""


def test_every_format_gives_the_same_names(tmp_path):
    """One program, five symbol files (nasm map, nasm listing, ELF .symtab, nm output, ld map):
    every loader finds the same name -> address table."""
    from debugger.engine.symbols import load

    if not nasm_available() or shutil.which("ld") is None or shutil.which("nm") is None:
        pytest.skip("nasm, ld and nm are needed")
    src = tmp_path / "s.asm"
    src.write_text("bits 16\n" + SMALL)
    run = lambda *a: subprocess.run(a, cwd=tmp_path, check=True, capture_output=True,  # noqa
                                    text=True)
    run("nasm", "-f", "elf32", "-g", "-o", "s.o", "s.asm")
    run("ld", "-m", "elf_i386", "-Ttext", "0x7c00", "-Map", "s.ldmap", "-o", "s.elf", "s.o")
    (tmp_path / "s.nm").write_text(run("nm", "s.elf").stdout)
    flat = tmp_path / "flat.asm"
    flat.write_text(f"bits 16\norg 0x7c00\n[map all {tmp_path / 's.map'}]\n" +
                    SMALL.replace("global start\nsection .text\n", ""))
    run("nasm", "-f", "bin", "-l", "s.lst", "-o", "s.bin", "flat.asm")
    want = {"start": 0x7c00, "start.loop": 0x7c02, "func": 0x7c07, "msg": 0x7c0b}

    def table(name: str, offset: int = 0) -> dict[str, int]:
        syms, _ = load(tmp_path / name)
        return {s.name: s.address + offset for s in syms if s.name in want}

    assert table("s.map") == want
    assert table("s.lst", 0x7c00) == want
    assert table("s.elf") == want
    assert table("s.nm") == want
    assert table("s.ldmap") == {"start": 0x7c00}          # ld maps list globals only
    # and the ELF's .text is where ADDRESS puts it
    d = Driver("jmp $")
    d(f"add-symbol-file {tmp_path / 's.elf'} 0x9000")
    assert d("p/x func").strip() == "$1 = 0x9007"


def test_symbols_from_a_batch_script(tmp_path, exceptions_map):
    script = tmp_path / "s.gdb"
    script.write_text(f"symbol-file {exceptions_map}\nbreak p_putc\ncontinue\nx/2i $pc\n")
    r = subprocess.run([sys.executable, "-m", "debugger", "session",
                        str(IMAGES / "exceptions.img"), "--batch", "-x", str(script)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env=dict(os.environ, NO_COLOR="1"))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert re.search(r"Stop #1 breakpoint at \S+ \(linear 0x[0-9a-f]+\) <p_putc>", r.stdout)
    assert "<p_putc+0x1>" in r.stdout


def test_symbols_travel_with_a_recording(tmp_path, exceptions_map):
    """Loaded before `record FILE`, the names are in the recording: `bootdbg replay` shows
    them without loading anything."""
    d = Driver(None, image=IMAGES / "exceptions.img")
    d(f"symbol-file {exceptions_map}")
    bdt = tmp_path / "run.bdt"
    d(f"record {bdt}")
    d("break p_putc")
    d("continue")
    d("record stop")
    r = subprocess.run([sys.executable, "-m", "debugger", "replay", str(bdt), "--batch",
                        "-ex", "break p_puts", "-ex", "continue", "-ex", "info symbol $pc"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env=dict(os.environ, NO_COLOR="1"))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert re.search(r"Stop #1 breakpoint at \S+ \(linear 0x[0-9a-f]+\) <p_puts>", r.stdout)
    assert "p_puts at linear" in r.stdout
