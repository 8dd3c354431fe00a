"""Debian's gdb against `bootdbg gdbserver` on the demo images: 16-bit code at 0000:7C00,
breakpoints, stepping, registers, watchpoints and monitor commands, in real and protected mode,
and in long mode with the x86-64 description; the session survives a client that disconnects."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading

from tests.gdb.gdbclient import IMAGES, ROOT, finish, gdb, server


def test_real_mode_session():
    proc, port = server("hello.img")
    out = gdb(port, "x/3i $pc", "break *0x7c10", "continue", "stepi", "info registers",
              "monitor sreg", "monitor check kvm", "p/x $pc_offset")
    err = finish(proc)
    # 16-bit disassembly of the boot sector at 0000:7C00
    lines = [ln for ln in out.splitlines() if re.match(r"\s*(=> )?0x7c0", ln)]
    assert lines[0].startswith("=> 0x7c00:"), out
    assert len(lines) >= 3
    from debugger.engine.session import Session

    s = Session(IMAGES / "hello.img")
    want = [i for i in s.disassemble(0x7C00, 3, bits=16)]
    for ln, ins in zip(lines, want):
        assert f"0x{ins.address:x}:" in ln, (ln, ins.text)
    assert "%ax" in out or "%si" in out or "%sp" in out, "16-bit registers in the disassembly"
    assert "Breakpoint 1, 0x00007c10" in out
    # stepi moved on by one instruction from 0x7c10 (real EIP = linear, CS base 0)
    s.break_at("*0x7c10")
    s.cont()
    s.step()
    pc = s.state().pc
    assert re.search(rf"eip\s+0x{pc:x}\s", out), out
    assert re.search(r"cs\s+0x0\s", out) and re.search(r"cs_base\s+0x0\s", out)
    assert re.search(r"cs_limit\s+0xffff\s", out)
    # monitor output is bootdbg's
    assert re.search(r"^CS\s+0000\s+00000000\s+0000ffff", out, re.M), out
    assert "kvm" in out.lower()
    assert f"$1 = 0x{pc:x}" in out
    assert "step at" in err


def test_real_mode_watchpoint_and_nonzero_cs_base():
    """int13hook-hd: a watchpoint on the BDA memory size, then code at 9F80:0000 where the
    linear PC (CS.base + IP) differs from IP."""
    proc, port = server("int13hook-hd.img", "--drive", "hda")
    out = gdb(port, "watch *(unsigned short*)0x413", "continue", "delete",
              "break *0x9f800", "continue", "x/2i $pc", "p/x $pc_offset", "p/x $cs_base",
              "info registers cs")
    finish(proc)
    assert "Hardware watchpoint 1: *(unsigned short*)0x413" in out
    assert "Old value = 639" in out and "New value = 638" in out
    assert "Breakpoint 2, 0x0009f800" in out, out
    assert "$1 = 0x0" in out and "$2 = 0x9f800" in out
    assert re.search(r"cs\s+0x9f80\s", out)
    # gdb disassembled the hook's first instruction (16-bit) at the linear address
    assert re.search(r"=> 0x9f800:\s+\w+", out)


def test_protected_mode_after_the_switch():
    from debugger.engine.session import Session

    s = Session(IMAGES / "pmode.img")
    s.catch("mode")
    s.cont()                                   # real -> pm16 at the mov cr0 (CS still 16-bit)
    jmp = s.disassemble(count=1)[0]
    assert jmp.mnemonic in ("ljmp", "jmp")
    target = s.state().pc + jmp.size           # pm32: follows the far jump
    proc, port = server("pmode.img")
    out = gdb(port, f"break *{target:#x}", "continue", "set architecture i386", "x/3i $pc",
              "watch *(int*)0x12340", "continue", "info registers eip cs cs_base cs_limit cr0",
              "monitor sreg", "stepi", "x/i $pc")
    finish(proc)
    assert f"Breakpoint 1, 0x{target:08x}" in out
    assert re.search(rf"=> 0x{target:x}:\s+mov\s+\$0x10,%ax", out), out
    assert "Hardware watchpoint 2: *(int*)0x12340" in out
    assert "New value = -1985229329" in out            # 0x89abcdef
    assert re.search(r"cs\s+0x8\s", out) and re.search(r"cs_limit\s+0xffffffff\s", out)
    assert re.search(r"cr0\s+0x11\s", out)
    assert re.search(r"^CS\s+0008\s+00000000\s+ffffffff", out, re.M)


def test_disconnect_leaves_session_usable():
    """A client that vanishes mid-session: the server deletes its points and keeps the machine
    where it was; the next client continues from there."""
    from debugger.engine.session import Session
    from debugger.gdb.packets import PacketIO
    from debugger.gdb.server import GdbServer

    s = Session(IMAGES / "hello.img")
    srv = GdbServer(s)
    a, b = socket.socketpair()
    t = threading.Thread(target=lambda: setattr(t, "why", srv.serve_socket(b)), daemon=True)
    t.start()
    cli = PacketIO(a)
    for pkt, want in (("qSupported:swbreak+", "qXfer:features:read+"), ("Z0,7c10,1", "OK"),
                      ("c", "T05swbreak:;thread:1;"), ("bc", ""), ("bs", "")):
        cli.send(pkt)
        got = cli.read(timeout=20)
        assert isinstance(got, bytes)
        assert want in got.decode(), (pkt, got)
    a.close()
    t.join(20)
    assert getattr(t, "why", None) == "disconnected"
    assert len(s.points) == 0 and s.state().pc == 0x7C10
    ev = s.step()
    assert ev.kind == "step" and s.state().pc > 0x7C10


def test_bad_listen_address_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "debugger", "gdbserver", str(IMAGES / "hello.img"),
                        "--listen", "127.0.0.1:notaport"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "bad listen address" in r.stderr


def test_long_mode_with_the_x86_64_description_after_reconnecting():
    """longmode: a first client runs to the 64-bit entry and detaches; the next one gets the
    x86-64 target description (64-bit registers, 64-bit disassembly) without `set architecture`."""
    from debugger.engine.session import Session

    s = Session(IMAGES / "longmode.img")
    s.catch("mode")
    while s.state().bits != 64:
        s.cont()
    entry = s.state().pc
    code = s.disassemble(count=30)
    movabs = next(i for i in code if i.text == "movabs rax, 0x123456789abcdef")
    after = movabs.address + movabs.size
    proc, port = server("longmode.img", once=False)
    try:
        first = gdb(port, f"break *{entry:#x}", "continue")
        out = gdb(port, "show architecture", "x/3i $pc", "info registers rip rsp cs cs_limit efer",
                  f"break *{after:#x}", "continue", "info registers rax", "stepi", "p/x $rip",
                  "x/gx $rsp", "monitor sreg", arch=None)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert f"Breakpoint 1, 0x{entry:08x}" in first
    assert 'currently "i386:x86-64"' in out
    assert re.search(rf"=> 0x{entry:x}:\s+mov\s+\$0x10,%ax", out), out
    assert re.search(rf"rip\s+0x{entry:x}\s", out) and re.search(r"efer\s+0x500\s", out)
    assert re.search(r"cs\s+0x8\s", out) and re.search(r"rsp\s+0x", out)
    assert f"Breakpoint 1, 0x{after:016x}" in out
    assert re.search(r"rax\s+0x123456789abcdef\s", out), out
    # stepi into the call: the return address went onto the 64-bit stack
    call = s.disassemble(after, 1)[0]
    assert call.mnemonic == "call" and f"$1 = {int(call.op_str, 0):#x}" in out
    assert re.search(rf"0x7bf8:\s+0x0*{after + call.size:x}\b", out), out
    assert re.search(r"^CS\s+0008\s+0000000000000000\s+ffffffff\s+0a09a", out, re.M), out
