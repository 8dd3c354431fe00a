"""The REPL driven through a pseudo-terminal, as a user would."""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env, demo_or_guest  # noqa: E402
from tests.cli.guests import HELLO, UNREAL, VM86, write_image  # noqa: E402

pexpect = pytest.importorskip("pexpect")
PROMPT = r"\(bootdbg\)"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def spawn(tmp_path: Path, *args: str, **env: str):
    argv = bootdbg_argv() + list(args)
    child = pexpect.spawn(argv[0], argv[1:], dimensions=(40, 120), env=cli_env(tmp_path, **env),
                          encoding="utf-8", timeout=60)
    child.expect(PROMPT)
    return child


def shown(raw: str) -> str:
    """The text a terminal shows for `raw`: cursor-forward moves become spaces, the other
    escapes (colours, cursor on/off, wrap) vanish."""
    raw = re.sub(r"\x1b\[(\d*)C", lambda m: " " * int(m.group(1) or 1), raw)
    return ANSI.sub("", raw)


def wait_shown(child, pattern: str, timeout: float = 60) -> str:
    """Read until what the terminal shows matches `pattern` (a redraw may come in pieces, with
    escapes between them: 'cat', then 'ch' after a TAB)."""
    buf = ""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, shown(buf)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{pattern!r} not shown; the terminal got {buf[-300:]!r}")
        try:
            buf += child.read_nonblocking(4096, timeout=0.5)
        except pexpect.TIMEOUT:
            pass
    return buf


def run(child, line: str) -> str:
    child.sendline(line)
    child.expect("\r\n")          # the line was accepted; its output follows
    child.expect(PROMPT)
    return ANSI.sub("", child.before)


def test_vm86_scenario(tmp_path):
    img = demo_or_guest(tmp_path, "vm86", VM86)
    c = spawn(tmp_path, str(img))
    assert "Catchpoint 1" in run(c, "catch vm86")
    out = run(c, "c")
    m = re.search(r"Stop #\d+ vm86-enter at ([0-9a-f]{4}):([0-9a-f]{4}) \(linear (0x[0-9a-f]+)\)"
                  r" after iretd", out)
    assert m, out
    cs, ip, linear = int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16)
    assert linear == cs * 16 + ip
    out = run(c, "sreg")
    for reg in ("ES", "CS", "SS", "DS", "FS", "GS"):
        row = next(ln for ln in out.splitlines() if ln.strip().startswith(reg + " "))
        cols = row.split()
        sel, base, limit, ar = int(cols[1], 16), int(cols[2], 16), int(cols[3], 16), \
            int(cols[4], 16)
        assert base == sel * 16 and limit == 0xFFFF and ar == 0xF3, row
    out = run(c, "check")
    assert "violation" not in out.lower() or "no violations" in out.lower()
    c.sendline("quit")
    c.expect(pexpect.EOF)


def test_unreal_vmx_invalid_under_kvm(tmp_path):
    img = demo_or_guest(tmp_path, "unreal", UNREAL)
    c = spawn(tmp_path, str(img))
    run(c, "catch vmx-invalid kvm")
    out = run(c, "c")
    assert re.search(r"Stop #\d+ vmx-invalid .* after mov cr0, eax", out), out
    st = run(c, "p cr0.pe")
    assert "= 0" in st
    flat = " ".join(out.split())
    rules = re.search(r"not enterable under kvm: ([A-Z0-9_., ]+)", flat)
    assert rules, flat
    ids = [r.strip() for r in rules.group(1).split(",")]
    assert any(".DS." in r for r in ids) and any(".ES." in r for r in ids), ids
    c.sendline("quit")
    c.expect(pexpect.EOF)


def test_ctrl_c_during_continue_returns_to_the_prompt(tmp_path):
    img = write_image(tmp_path, VM86)        # its vm86 code spins for ever
    c = spawn(tmp_path, str(img))
    run(c, "catch vm86")
    run(c, "c")
    c.sendline("c")            # the vm86 code spins for ever
    time.sleep(1.0)
    c.sendintr()
    c.expect(r"Stop #\d+ interrupt")
    c.expect(PROMPT)
    assert "icount" in run(c, "info mode")
    c.sendline("quit")
    c.expect(pexpect.EOF)


def test_completion_and_history_persist(tmp_path):
    img = write_image(tmp_path, HELLO)
    c = spawn(tmp_path, str(img))
    c.send("cat\t")
    wait_shown(c, "catch")
    c.send(" vm8\t")
    wait_shown(c, "vm86")
    c.sendline("")
    c.expect("Catchpoint 1")
    c.expect(PROMPT)
    c.send("info brea\t")
    wait_shown(c, "breakpoints")
    c.sendline("")
    c.expect("catch vm86")
    c.expect(PROMPT)
    c.sendline("quit")
    c.expect(pexpect.EOF)
    hist = (tmp_path / "history").read_text()
    assert "catch vm86" in hist and "info breakpoints" in hist
    c = spawn(tmp_path, str(img))
    c.send("\x1b[A")            # Up arrow: the previous session's last command
    wait_shown(c, "quit")
    c.send("\x1b[A")
    wait_shown(c, r"info\s+breakpoints")
    c.sendline("")
    c.expect("No breakpoints")
    c.expect(PROMPT)
    c.sendline("quit")
    c.expect(pexpect.EOF)


def test_enter_repeats_stepi_and_errors_are_one_line(tmp_path):
    img = write_image(tmp_path, HELLO)
    c = spawn(tmp_path, str(img))
    assert "Stop #1 step" in run(c, "si")
    assert "Stop #2 step" in run(c, "")
    out = run(c, "frobnicate")
    assert 'undefined command: "frobnicate"' in out and "Traceback" not in out
    out = run(c, "x/4xb nowhere+")
    assert "Traceback" not in out and out.strip()
    out = run(c, "source /nonexistent/file.gdb")
    assert "no such file" in out
    c.sendline("quit")
    c.expect(pexpect.EOF)


def test_block_at_the_prompt_uses_a_continuation_prompt(tmp_path):
    img = write_image(tmp_path, HELLO)
    c = spawn(tmp_path, str(img))
    c.sendline("define two")
    c.expect(">")
    c.sendline("si 2")
    c.expect(">")
    c.sendline("end")
    c.expect(PROMPT)
    out = run(c, "two")
    assert "Stop #1 step at 0000:7c04" in out
    c.sendline("quit")
    c.expect(pexpect.EOF)


def test_unreal_image_name_in_banner(tmp_path):
    img = demo_or_guest(tmp_path, "unreal", UNREAL)
    c = spawn(tmp_path, str(img))
    assert "0000:7c00" in ANSI.sub("", c.before)
    c.sendline("quit")
    c.expect(pexpect.EOF)
