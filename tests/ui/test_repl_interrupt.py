"""Ctrl-C at the REPL (issue 14, responsiveness): `continue` on a guest that loops, floods the
serial port or triple-faults for ever is stopped by Ctrl-C, the prompt comes back, and the
state commands work on the state the CPU is in.  Driven through a pseudo-terminal."""
from __future__ import annotations

import re
import time

import pytest

from tests.cli.guests import write_image
from tests.ui.test_repl_pty import ANSI, PROMPT, run, spawn

pexpect = pytest.importorskip("pexpect")

GUESTS = {
    "loop": "cli\nspin: inc ax\njmp spin\n",
    "serial-flood": "mov dx, 0x3f8\nmov al, 'A'\nflood: out dx, al\njmp flood\n",
    # no IDT: the first exception is a triple fault; the machine resets and boots it again
    "triple-fault": "lidt [cs:zero]\nint3\nzero: dw 0\ndd 0\n",
}


@pytest.mark.parametrize("guest", sorted(GUESTS))
def test_ctrl_c_during_continue(tmp_path, guest):
    img = write_image(tmp_path, GUESTS[guest], f"{guest}.img")
    c = spawn(tmp_path, str(img))
    c.sendline("continue")
    c.expect("\r\n")
    time.sleep(0.5)
    c.sendintr()
    c.expect(PROMPT, timeout=30)              # generous: a loaded CI machine, not a latency test
    stop = ANSI.sub("", c.before)
    assert "Traceback" not in stop
    assert re.search(r"Stop #\d+ (interrupt|triple-fault|reset|halted)", stop) or \
        "interrupt" in stop.lower(), stop[-1500:]
    c.sendline("echo sync-point\\n")       # past any second prompt the Ctrl-C left behind
    c.expect("sync-point\r\n")
    c.expect(PROMPT)
    regs = run(c, "info registers")
    m = re.search(r"eip\s*[=:]?\s*(0x)?([0-9a-f]{4,8})", regs, re.I)
    assert m, regs
    out = run(c, "stepi")
    assert "Traceback" not in out and "internal error" not in out
    assert "icount" in run(c, "info mode")
    c.sendline("quit")
    c.expect(pexpect.EOF)
