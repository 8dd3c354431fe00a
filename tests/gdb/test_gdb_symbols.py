"""Issue 16.2: symbols travel to gdb through the stub.  When the session's symbols come from an
ELF at its own addresses, qSupported announces qXfer:exec-file:read and the stub answers with the
ELF's path, so a bare `target remote` loads its symbols: names in `bt`, `info symbol`, `x/i`."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import nasm_available  # noqa: E402
from tests.gdb.gdbclient import finish, gdb, server  # noqa: E402
from tests.gdb.rsp import LiveServer  # noqa: E402

SRC = """bits 16
global start
section .text
start:
    xor ax, ax
    mov ds, ax
    call func
spin:
    jmp spin
func:
    push bp
    mov bp, sp
    call inner
    pop bp
    ret
inner:
    nop
    ret
"""


@pytest.fixture(scope="module")
def elf_guest(tmp_path_factory):
    """(boot image, its ELF with symbols and line info): one link, the image is its .text."""
    if not nasm_available() or not shutil.which("ld") or not shutil.which("objcopy"):
        pytest.skip("nasm, ld and objcopy are needed")
    d = tmp_path_factory.mktemp("elf")
    (d / "s.asm").write_text(SRC)
    for argv in (["nasm", "-f", "elf32", "-g", "-o", "s.o", "s.asm"],
                 ["ld", "-m", "elf_i386", "-e", "start", "-Ttext", "0x7c00", "-o", "s.elf",
                  "s.o"],
                 ["objcopy", "-O", "binary", "s.elf", "s.bin"]):
        subprocess.run(argv, cwd=d, check=True, capture_output=True)
    code = (d / "s.bin").read_bytes()
    (d / "s.img").write_bytes(code + bytes(510 - len(code)) + b"\x55\xaa" + bytes(1474560 - 512))
    return d / "s.img", d / "s.elf"


def test_gdb_loads_the_session_elf_and_shows_names(elf_guest):
    img, elf = elf_guest
    proc, port = server(str(img), "--symbol-file", str(elf))
    out = gdb(port, "break inner", "continue", "bt", "info symbol $pc", "x/2i $pc")
    finish(proc)
    assert f"Reading symbols from {elf}" in out, out
    assert "#0  inner ()" in out and "in func ()" in out, out        # bt with names
    assert "inner in section .text" in out, out                       # info symbol
    assert "<inner+1>" in out, out                                     # x/i


def test_exec_file_is_announced_only_for_an_elf_at_its_own_addresses(elf_guest, tmp_path):
    from debugger.engine.session import Session
    from debugger.engine.symbols import load

    img, elf = elf_guest
    s = Session(img)
    srv = LiveServer(s)
    c = srv.client()
    assert b"exec-file" not in c.ask("qSupported:xmlRegisters=i386")   # no symbols
    assert c.ask("qXfer:exec-file:read::0,1000").startswith(b"E")
    nm = tmp_path / "s.nm"
    nm.write_text("7c11 t inner\n")
    s.symbols.add(load(nm)[0], str(nm))                                 # not an ELF
    assert b"exec-file" not in c.ask("qSupported:xmlRegisters=i386")
    s.symbols.add(load(elf)[0], str(elf), 0x100)                       # moved: gdb would lie
    assert b"exec-file" not in c.ask("qSupported:xmlRegisters=i386")
    s.symbols.add(load(elf)[0], str(elf))
    assert b"qXfer:exec-file:read+" in c.ask("qSupported:xmlRegisters=i386")
    whole = c.ask("qXfer:exec-file:read:1:0,1000")
    assert whole == b"l" + str(elf).encode()
    assert c.ask("qXfer:exec-file:read:1:0,4") == b"m" + str(elf).encode()[:4]
    c.close()
    assert srv.alive
