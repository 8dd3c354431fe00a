"""Reverse execution from gdb: `bootdbg gdbserver --record` serves bs / bc (reverse-stepi,
reverse-continue to breakpoints and watchpoints) and advertises them only when it records."""
from __future__ import annotations

import re
import socket
import threading

from tests.gdb.gdbclient import IMAGES, finish, gdb, server


def _whens(out: str) -> list[int]:
    return [int(x) for x in re.findall(r"Current icount: (\d+)", out)]


def test_reverse_stepi_and_reverse_continue_to_a_breakpoint():
    from debugger.engine.session import Session

    s = Session(IMAGES / "hello.img")
    s.break_at("*0x7c10")
    at_break = s.cont().icount
    pcs = {}
    for _ in range(40):
        s.step()
        pcs[s.icount] = s.state().pc

    proc, port = server("hello.img", "--record")
    out = gdb(port, "break *0x7c10", "continue", "monitor when", "stepi 40", "monitor when",
              "reverse-stepi", "monitor when", "p/x $pc", "reverse-continue", "monitor when",
              "reverse-continue", "monitor when", "p/x $pc", "continue", "monitor when")
    finish(proc)
    assert _whens(out) == [at_break, at_break + 40, at_break + 39, at_break, 0, at_break], out
    assert f"$1 = {pcs[at_break + 39]:#x}" in out
    assert out.count("Breakpoint 1, 0x00007c10") == 3       # forward, reverse, forward again
    assert "No more reverse-execution history." in out
    assert "$2 = 0x7c00" in out


def test_reverse_continue_to_a_watchpoint_stops_before_the_write():
    """As with gdb's own recording: going back, a watchpoint stops at the instruction that
    wrote, before it ran (gdb sees the old value there); stepping forward redoes the write."""
    from debugger.engine.session import Session

    s = Session(IMAGES / "int13hook-hd.img")
    s.watch(0x413, 2, "write")
    ev = s.cont()
    write_icount = ev.icount

    proc, port = server("int13hook-hd.img", "--drive", "hda", "--record")
    out = gdb(port, "watch *(unsigned short*)0x413", "continue", "monitor when", "stepi 5",
              "reverse-continue", "monitor when", "x/i $pc", "p *(unsigned short*)0x413",
              "stepi", "p *(unsigned short*)0x413")
    finish(proc)
    assert _whens(out) == [write_icount, write_icount - 1], out
    assert re.search(r"Old value = 638\s+New value = 639", out), out
    m = re.search(r"=> 0x([0-9a-f]+):\s+mov\s+%ax,0x413", out)
    assert m, out
    assert s.disassemble(int(m.group(1), 16), 1)[0].text == "mov word ptr [0x413], ax"
    assert "$1 = 639" in out and "$2 = 638" in out


def test_reverse_is_advertised_only_when_recording():
    from debugger.engine.session import Session
    from debugger.gdb.packets import PacketIO
    from debugger.gdb.server import GdbServer
    from debugger.trace.timetravel import attach

    s = Session(IMAGES / "hello.img")
    for recording in (False, True):
        if recording:
            attach(s)
        a, b = socket.socketpair()
        srv = GdbServer(s)
        t = threading.Thread(target=srv.serve_socket, args=(b,), daemon=True)
        t.start()
        cli = PacketIO(a)
        replies = []
        for pkt in ("qSupported:swbreak+", "bs", "s", "s", "bs", "bs", "bs"):
            cli.send(pkt)
            got = cli.read(timeout=20)
            assert isinstance(got, bytes)
            replies.append(got.decode())
        a.close()
        t.join(20)
        assert ("ReverseStep+;ReverseContinue+" in replies[0]) is recording
        if not recording:
            assert replies[1] == ""                   # not supported: the empty reply
            continue
        # history starts where time travel was turned on (icount 2, after the first round)
        assert replies[1] == "T05replaylog:begin;thread:1;"
        assert replies[4:6] == ["T05thread:1;"] * 2 and s.icount == 2
        assert replies[6] == "T05replaylog:begin;thread:1;" and s.icount == 2


def test_gdb_without_recording_says_reverse_is_not_supported():
    proc, port = server("hello.img")
    out = gdb(port, "stepi", "reverse-stepi", "p/x $pc")
    finish(proc)
    assert "Target remote does not support this command." in out
    assert "$1 = 0x7c05" in out


def test_gdbserver_command_at_the_prompt_after_record():
    """`record` then `gdbserver` in a batch session: gdb starts where the session stopped, can
    step back, and the session goes on from where gdb left it."""
    import subprocess
    import sys

    from tests.gdb.gdbclient import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-m", "debugger", str(IMAGES / "hello.img"), "--batch",
         "-ex", "break *0x7c10", "-ex", "continue", "-ex", "record",
         "-ex", "gdbserver 127.0.0.1:0", "-ex", "when", "-ex", "x/i $pc"],
        cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timer = threading.Timer(30, proc.kill)
    timer.start()
    try:
        seen = ""
        while "Listening on" not in seen:
            line = proc.stdout.readline()             # type: ignore[union-attr]
            assert line, seen + proc.stderr.read()    # type: ignore[union-attr]
            seen += line
    finally:
        timer.cancel()
    port = int(re.search(r"Listening on 127\.0\.0\.1:(\d+)", seen).group(1))  # type: ignore
    out = gdb(port, "x/i $pc", "stepi 3", "reverse-stepi", "monitor when")
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Time travel on (history from icount 7)" in seen
    assert re.search(r"=> 0x7c10:\s+mov\s+%ax,%ss", out), out
    assert "Current icount: 9" in out
    assert "gdbserver: done; the session goes on here." in rest
    assert "Current icount: 9" in rest and "0000:7c18" in rest
