"""Issue 16.8: `screen` draws the whole text screen (80x25, framed; between two rules when the
terminal is too narrow for the frame), and output to a pipe is not padded with trailing spaces
(`bootdbg check DUMP | ...`, `check` in a batch run), while its text is unchanged."""
from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402


def _env(tmp_path):
    """The terminal's own size, not COLUMNS/LINES (pytest-xdist workers set 80x24)."""
    env = cli_env(tmp_path)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env
from tests.cli.guests import UNREAL, write_image  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# one of each kind: a VMCS dump (Xen), a KVM dump, a QEMU log
DUMPS = [ROOT / "tests/checks/data" / n for n in ("xen-4.6-pointsec.txt", "kvm-pointsec.txt",
                                                  "qemu-unreal-i386-log.txt")]


def bootdbg(tmp_path, *argv, **kw):
    return subprocess.run(bootdbg_argv() + [str(a) for a in argv], capture_output=True,
                          text=True, timeout=120, env=_env(tmp_path),
                          stdin=subprocess.DEVNULL, **kw)


def _demo():
    from debugger.images import image_path

    img = image_path("hello")          # writes to the screen through INT 10h
    if not img.exists():
        pytest.skip("demo image hello is not built")
    return img


def _screen_rows(img):
    from debugger.engine.session import Session

    s = Session(img)
    s.cont(max_insns=100_000)
    return s.screen()


def test_screen_is_the_whole_80x25_screen_in_a_frame(tmp_path):
    img = _demo()
    r = bootdbg(tmp_path, img, "--batch", "-q", "-ex", "continue", "-ex", "screen")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    top = next(i for i, ln in enumerate(lines) if ln.startswith("┌─ screen 80x25 "))
    frame = lines[top:top + 27]
    assert all(len(ln) == 82 for ln in frame), [len(ln) for ln in frame]
    assert frame[-1] == "└" + "─" * 80 + "┘"
    want = [row.ljust(80) for row in _screen_rows(img)]
    assert len(want) == 25 and [ln[1:-1] for ln in frame[1:-1]] == want
    assert any(w.strip() for w in want)


@pytest.mark.parametrize("cols", [120, 60])
def test_screen_at_the_prompt_fits_the_terminal(tmp_path, cols):
    pexpect = pytest.importorskip("pexpect")
    from tests.ui.test_repl_pty import ANSI, PROMPT

    img = _demo()
    argv = bootdbg_argv() + [str(img), "-q", "-ex", "continue"]
    c = pexpect.spawn(argv[0], argv[1:], dimensions=(50, cols), env=_env(tmp_path),
                      encoding="utf-8", timeout=60)
    c.expect(PROMPT)
    c.sendline("screen")
    c.expect("\r\n")
    c.expect(PROMPT)
    lines = ANSI.sub("", c.before).replace("\r", "").split("\n")
    want = _screen_rows(img)
    if cols >= 82:
        rows = [ln[1:-1].rstrip() for ln in lines if ln.startswith("│")]
        assert lines[0].startswith("┌─ screen 80x25 ") and len(lines[0]) == 82
    else:
        assert lines[0].startswith("── screen 80x25 ") and len(lines[0]) <= cols
        rows = [ln.rstrip() for ln in lines[1:26]]
        assert lines[26] == "─" * cols
    assert rows == [w.rstrip() for w in want] and any(want)
    c.sendline("quit")
    c.expect(pexpect.EOF)


@pytest.mark.parametrize("dump", DUMPS, ids=lambda p: p.name)
def test_piped_check_is_not_padded(tmp_path, dump):
    from rich.console import Console

    from debugger.checks import DEFAULT_PROFILE, evaluate, evaluate_guest
    from debugger.checks.diagnosis import diagnose
    from debugger.checks.dumps import parse_dump
    from debugger.ui.check_report import render_verdict
    from debugger.ui.theme import THEME

    r = bootdbg(tmp_path, "check", dump)
    assert r.returncode in (0, 1), r.stderr
    assert not [ln for ln in r.stdout.splitlines() if ln != ln.rstrip()], r.stdout
    # the same text as rich draws it (padded) on a 120-column console, modulo the padding
    d = parse_dump(dump.read_text(errors="replace"))
    v = evaluate_guest(d.guest) if d.guest is not None else evaluate(d.cpu, DEFAULT_PROFILE)
    v.notes = tuple(d.notes) + tuple(v.notes)
    buf = io.StringIO()
    Console(file=buf, width=120, color_system=None, highlight=False, theme=THEME).print(
        render_verdict(v, diagnosis=diagnose(v), source=f"{dump} ({d.format} dump)"))
    assert r.stdout.splitlines() == [ln.rstrip() for ln in buf.getvalue().splitlines()]


def test_check_in_a_piped_batch_run_is_not_padded(tmp_path):
    img = write_image(tmp_path, UNREAL)
    r = bootdbg(tmp_path, img, "--batch", "-q", "-ex", "catch vmx-invalid", "-ex", "continue",
                "-ex", "check", "-ex", "info breakpoints")
    assert r.returncode == 0, r.stderr
    assert re.search(r"NOT enterable", r.stdout), r.stdout
    assert not [ln for ln in r.stdout.splitlines() if ln != ln.rstrip()], r.stdout
