"""Session.restart (gdb's `run` again): a restarted session is indistinguishable from a freshly
opened one -- registers with their hidden caches, every byte of RAM, the devices (seen through
the run that follows: the same stops at the same icounts, serial and screen), the disks' writes
forgotten -- while the user's points stay."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import assemble  # noqa: E402


def _ram_digest(s) -> list[tuple[int, str]]:
    """Every MiB of RAM that is not all zeros, by offset and hash."""
    uc, size = s.machine.uc, s.machine.config.ram_size
    zero = bytes(1 << 20)
    out = []
    for off in range(0, size, 1 << 20):
        data = bytes(uc.mem_read(off, min(1 << 20, size - off)))
        if data != zero[:len(data)]:
            out.append((off, hashlib.blake2b(data, digest_size=16).hexdigest()))
    return out


def _run(s, budgets):
    out = []
    for n in budgets:
        ev = s.cont(max_insns=n)
        out.append((ev.kind, ev.icount, repr(s.state())))
        if ev.final:
            break
    return out, s.serial, s.debugcon, s.screen()


@pytest.mark.parametrize("name", ["hello", "longmode", "int13hook-hd"])
def test_restart_is_a_fresh_session(name):
    from debugger.engine.session import Session
    from debugger.images import image_path

    img = image_path(name)
    if not img.exists():
        pytest.skip(f"demo image {name} is not built")
    fresh = Session(img)
    ram0, st0 = _ram_digest(fresh), repr(fresh.state())
    budgets = [1500, 40_000, 400_000]
    want = _run(fresh, budgets)
    s = Session(img)
    s.cont(max_insns=777)                  # stopped part way (devices, RAM, state all changed)
    s.cont(max_insns=500_000)
    ev = s.restart()
    assert (ev.kind, ev.icount, ev.cs, ev.eip) == ("start", 0, 0, 0x7C00)
    assert repr(s.state()) == st0
    assert _ram_digest(s) == ram0
    assert (s.serial, s.debugcon) == (b"", b"")
    assert _run(s, budgets) == want
    s.restart()                           # and again from the end of a second run
    assert _run(s, budgets) == want


# Reads sector 2, writes its first byte to port E9h, adds one to it and writes the sector back:
# every run from power-on prints the byte the image holds ('A'), unless the write survived.
DISK_WRITER = """
    xor ax, ax
    mov es, ax
    mov bx, 0x1000
    mov ax, 0x0201
    mov cx, 0x0002
    xor dh, dh
    int 0x13
    mov al, [0x1000]
    out 0xe9, al
    inc byte [0x1000]
    mov ax, 0x0301
    int 0x13
    cli
    hlt
times 510-($-$$) db 0
dw 0xaa55
db 'A'
"""


def test_restart_forgets_disk_writes_and_keeps_points(tmp_path):
    from debugger.engine.session import Session

    img = tmp_path / "w.img"
    img.write_bytes(assemble(DISK_WRITER))
    s = Session(img)
    bp = s.break_at("0000:7c14")             # the `out`
    w = s.watch_expr("bx")                   # 0 at the hand-off, 0x1000 once loaded
    runs = []
    for _ in range(3):
        kinds = [s.cont(max_insns=100_000).kind for _ in range(3)]
        runs.append(kinds)
        assert s.debugcon == b"A"
        s.restart()
    assert runs == [["watchpoint", "breakpoint", "halted"]] * 3
    assert s.point(bp.number).hits == 3       # gdb keeps hit counts across `run`
    assert w.last_value == s.eval("bx") == 0
    assert img.read_bytes()[512] == ord("A")  # the file itself is never written


def test_restart_ends_time_travel_history_and_refuses_while_recording(tmp_path):
    from debugger.engine.session import Session, SessionError
    from debugger.images import demo_image
    from debugger.trace.recorder import Recorder
    from debugger.trace.timetravel import attach

    s = Session(demo_image())
    attach(s)
    s.cont(max_insns=3000)
    s.restart()
    assert getattr(s, "timeline", None) is None
    s.recorder = Recorder(s, str(tmp_path / "r.bdt"))
    with pytest.raises(SessionError, match="record stop"):
        s.restart()
    assert s.icount == 0 and s.state().rip == 0x7C00
