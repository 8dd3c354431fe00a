"""`bt` as a user runs it: frame-pointer chains in 16-, 32- and 64-bit code across an interrupt,
and the demo image's exception frames (real mode, protected mode, vm86 -> ring 0) checked
against what the guest's own handlers read from the frames the CPU pushed."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.commands.bt_guests import CHAIN, GUESTS
from tests.commands.conftest import Driver
from tests.conftest import ROOT, nasm_available

FRAME = re.compile(r"^#(\d+)\s+([0-9a-f]{4}):([0-9a-f]+) \(linear (0x[0-9a-f]+)\)"
                   r"(?: in (\S+))?(.*)$")


def frames(out: str) -> list[tuple[str, str, str]]:
    """(name without +offset, guess marker, the delivery line before it or '')."""
    got, pending = [], ""
    for ln in out.splitlines():
        if ln.strip().startswith("<"):
            pending = ln.strip()
            continue
        m = FRAME.match(ln)
        assert m, ln
        got.append(((m.group(5) or "").split("+")[0], m.group(6).strip(), pending))
        pending = ""
    return got


def with_map(source: str, tmp: Path) -> Path:
    """The nasm map of `source` as tests.conftest.assemble builds it."""
    if not nasm_available():
        pytest.skip("nasm is not installed")
    mp = tmp / "guest.map"
    (tmp / "g.asm").write_text(f"bits 16\norg 0x7c00\n[map all {mp}]\n" + source +
                               "\ntimes 510-($-$$) db 0\ndw 0xaa55\n")
    subprocess.run(["nasm", "-f", "bin", "-o", str(tmp / "g.bin"), str(tmp / "g.asm")],
                   check=True)
    return mp


@pytest.mark.parametrize("bits", sorted(GUESTS))
def test_frame_pointer_chain_across_an_interrupt(bits, tmp_path):
    src = GUESTS[bits]
    d = Driver(src)
    d(f"symbol-file {with_map(src, tmp_path)}")
    d("set context off")
    assert "halted" in d("continue").splitlines()[0]
    got = frames(d("bt"))
    assert [g[0] for g in got] == ["stop"] + CHAIN[1:]     # (stop is a label inside hf)
    assert got[0][1] == "" and got[1][1] == "[guess: frame pointer]"       # hf's caller...
    # ...the interrupted frame is exact, and the delivery is named on the line before it
    assert got[2] == ("f2", "", got[2][2]) and got[2][2].startswith("<INT 0x30 delivered")
    assert all(g[1] == "[guess: frame pointer]" for g in got[3:])
    assert len(frames(d("bt 2"))) == 2
    # the Session API gives the same chain
    from debugger.engine.backtrace import backtrace

    chain = backtrace(d.session)
    assert [d.session.symbols.nearest(f.linear)[0].name for f in chain] == \
        ["stop"] + CHAIN[1:]
    assert chain[2].delivery is not None and chain[2].delivery.vector == 0x30


@pytest.fixture(scope="module")
def exceptions_map(tmp_path_factory) -> Path:
    if not nasm_available():
        pytest.skip("nasm is not installed")
    tmp = tmp_path_factory.mktemp("bt")
    mp = tmp / "exceptions.map"
    subprocess.run(["nasm", "-f", "bin", "--before", f"[map all {mp}]", "-o",
                    str(tmp / "x.bin"), "exceptions.asm"], cwd=ROOT / "images", check=True)
    return mp


def test_exception_frames_match_what_the_handlers_read(exceptions_map):
    """At each report the guest's handler passes (vector, error code, EIP, CS) read from the
    frame the CPU pushed; bt's delivery line and interrupted frame must say the same, in real
    mode (IVT), protected mode (IDT) and from vm86 into ring 0."""
    d = Driver(None, image=ROOT / "images" / "exceptions.img")
    d(f"symbol-file {exceptions_map}")
    d("set context off")
    d("break r_report")
    d("break p_report")
    seen = set()
    while True:
        stop = d("continue").splitlines()[0]
        if "breakpoint" not in stop:
            break
        st = d.session.state()
        vec, err, eip, cs = st.rax & 0xFFFF, st.rbx & 0xFFFFFFFF, st.rcx & 0xFFFFFFFF, \
            st.rdx & 0xFFFF
        out = d("bt")
        lines = out.splitlines()
        i = next(k for k, ln in enumerate(lines) if ln.strip().startswith("<"))
        delivery, interrupted = lines[i].strip(), FRAME.match(lines[i + 1])
        assert re.match(rf"<(exception|INT) {vec:#04x}\b", delivery), out
        if vec not in (8, 10, 11, 12, 13, 14, 17) or d.session.state().rip < 0x8000:
            assert "error code" not in delivery, out         # (the stubs push a 0 or -1)
        else:
            assert f"error code {err:#x} " in delivery, out
        assert int(interrupted.group(2), 16) == cs and int(interrupted.group(3), 16) == eip, out
        assert interrupted.group(6).strip() == ""                  # exact, not a guess
        seen.add("vm86" if int(interrupted.group(4), 16) >= 0x10000 else
                 "real" if len(interrupted.group(3)) == 4 else "pm")
    assert seen == {"real", "pm", "vm86"}
    # after the handlers have returned no stale frame is shown
    assert len(frames(d("bt"))) == 1
