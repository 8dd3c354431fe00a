"""Checkpoints (machine/snapshot.py + pagejournal.py): going back gives exactly the state and RAM
of the moment the checkpoint was taken, whatever was written since (by the guest or the host),
and a checkpoint costs only the pages written after it -- nothing stays behind once it is gone."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import boot_machine

# Six passes over 128 KiB of RAM in 16 KiB pieces (ES = 1000h..8000h), each pass a different pattern.
SRC = """
    cli
    xor ax, ax
    mov ds, ax
    xor bp, bp
round:
    mov bx, 0x1000
chunk:
    mov es, bx
    xor di, di
    mov cx, 0x2000
    mov ax, bp
    add ax, bx
    rep stosw
    add bx, 0x1000
    cmp bx, 0x9000
    jb chunk
    inc bp
    cmp bp, 6
    jb round
    hlt
"""
MARKS = (40_000, 170_000, 300_000)


def _digest(m) -> str:
    h = hashlib.sha256(m.mem.read_phys(0, 0x100000))
    h.update(repr(m.state()).encode())
    h.update(str(m.icount).encode())
    return h.hexdigest()


def _scenario() -> dict:
    """Checkpoints at MARKS, run to the end, go back to each (newest first, then oldest)."""
    m = boot_machine(SRC)
    cps, seen = [], []
    for at in MARKS:
        m.run(at - m.icount)
        cps.append(m.checkpoint())
        seen.append(_digest(m))
    end = m.run()
    final = _digest(m)
    out = {"end": [end.reason, end.icount], "final": final, "seen": seen, "back": []}
    m.restore(cps[2])
    out["back"].append(_digest(m))
    m.restore(cps[1])                   # (an older one stays valid)
    out["back"].append(_digest(m))
    out["valid"] = [m.memsnap.valid(cp.ident) for cp in cps]
    m.run()
    out["again"] = _digest(m)
    m.restore(cps[0])
    out["back"].append(_digest(m))
    return out


def test_going_back_restores_ram_and_state_exactly():
    out = _scenario()
    assert out["end"][0] == "halted"
    assert out["back"] == [out["seen"][2], out["seen"][1], out["seen"][0]]
    assert out["valid"] == [True, True, False]
    assert out["again"] == out["final"]


def test_page_journal_and_unicorn_snapshots_agree():
    """The fallback (the Python page journal, BOOTDBG_NO_NATIVE=1) gives the same."""
    from debugger.machine import pagejournal

    if not pagejournal.available():
        pytest.skip("needs the native page journal")
    code = ("import json; from tests.machine.test_checkpoints import _scenario; "
            "print(json.dumps(_scenario()))")
    env = dict(os.environ, BOOTDBG_NO_NATIVE="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=300, cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                           os.path.abspath(__file__)))))
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.splitlines()[-1]) == _scenario()


def _journal(m):
    if not m.memsnap.native:
        pytest.skip("needs the native page journal")
    return m.memsnap


def test_a_checkpoint_costs_the_pages_written_after_it_and_nothing_once_gone():
    m = boot_machine(SRC, ram_size=32 << 20)
    j = _journal(m)
    cp = m.checkpoint()
    m.mem.write_phys(0x400000, b"\x5a" * (8 << 20))        # 8 MiB from the host
    assert j.saved_pages == 2048 and j.live == 1
    cp2 = m.checkpoint()
    m.mem.write_phys(0x400000, b"\xa5" * 0x3000)           # 3 pages again, for the newer one
    assert j.saved_pages == 2051
    m.restore(cp)
    assert m.mem.read_phys(0x400000, 16) == bytes(16) and not m.memsnap.valid(cp2.ident)
    del cp, cp2
    assert j.live == 0 and j.saved_pages == 0


def test_the_journal_keeps_its_memory_between_checkpoints():
    """Every fast slice ends by dropping its checkpoint; the copies' memory stays resident for
    the next one (up to 64 MiB) instead of a zero-fill page fault on each page saved again
    (memtest86+ saves ~16 MiB a slice)."""
    import resource

    m = boot_machine(SRC, ram_size=32 << 20)
    j = _journal(m)
    flt = []
    data = [bytes([k + 1]) * (8 << 20) for k in range(3)]   # (allocated before counting)
    for k in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        mark = j.mark()
        m.mem.write_phys(0x400000, data[k])
        assert j.saved_pages == 2048
        del mark
        assert j.saved_pages == 0
        flt.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    assert flt[0] >= 2048 and max(flt[1:]) < 512, flt


def test_long_runs_leave_no_checkpoint_layers_behind():
    """Every fast slice takes a checkpoint; none stays live after its slice."""
    m = boot_machine(SRC)
    j = _journal(m)
    m.run()
    assert m.fast_slices > 0
    assert j.live == 0 and j.saved_pages == 0


def test_dropped_checkpoints_between_live_ones_give_their_pages_back():
    m = boot_machine(SRC)
    j = _journal(m)
    first = m.checkpoint()
    want = _digest(m)
    middle = []
    for k in range(40):
        middle.append(m.checkpoint())
        m.mem.write_phys(0x200000, bytes([k]) * 0x10000)   # the same 16 pages each time
    assert j.saved_pages == 16 * 41 - 16
    middle.clear()                                          # (only `first` is live)
    j._compact()
    assert j.saved_pages == 16
    m.restore(first)
    assert _digest(m) == want


def test_a_journal_that_could_not_save_a_page_drops_its_checkpoints_and_goes_on():
    """(As when the kernel refuses one more mapping: the handler makes RAM writable and says so.)"""
    m = boot_machine(SRC)
    j = _journal(m)
    old = m.checkpoint()
    j._j.contents.failed = 1
    cp = m.checkpoint()                                     # no exception: a fresh start
    assert not m.memsnap.valid(old.ident) and m.memsnap.valid(cp.ident)
    with pytest.raises(ValueError, match="no longer valid"):
        m.restore(old)
    m.mem.write_phys(0x200000, b"\x77" * 0x2000)
    m.restore(cp)
    assert m.mem.read_phys(0x200000, 0x2000) == bytes(0x2000)


def test_a_sigsegv_that_is_not_for_guest_ram_still_ends_the_process():
    # The page journal's SIGSEGV handler must pass every other SIGSEGV on as if it were not
    # there: a fault elsewhere, and one sent by kill() (a crashing plugin, a triage worker's
    # watchdog), end the process with SIGSEGV instead of being swallowed.
    import signal
    from pathlib import Path

    from debugger.machine import pagejournal

    if not pagejournal.available():
        pytest.skip("the native page journal is not built")
    code = ("import os, signal\n"
            "from tests.conftest import boot_machine\n"
            "m = boot_machine('hlt')\n"
            "m.checkpoint()\n"
            "os.kill(os.getpid(), signal.SIGSEGV)\n"
            "print('survived')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=str(Path(__file__).resolve().parents[2]), timeout=120)
    assert r.returncode == -signal.SIGSEGV and "survived" not in r.stdout, (r.returncode,
                                                                          r.stderr[-1000:])


_OUTLIVE = """
import gc, weakref
from debugger import Session
s = Session({image!r})
j = s.machine.memsnap
mark = j.mark()
s.step(3000)                                   # (BIOS output: pages saved for the mark)
assert j.saved_pages > 0
{scenario}
"""


@pytest.mark.parametrize("scenario", [
    # the machine goes first, a checkpoint of it later
    "del s\ngc.collect()\ndel mark\ngc.collect()\nprint('ok')",
    # the interpreter exits with a session and its checkpoints alive: the engine's finalizer runs
    # at exit, the checkpoints are dropped after it
    "keep = [s, mark, j]\nprint('ok')",
])
def test_checkpoints_that_outlive_their_machine_do_not_crash(scenario):
    """A checkpoint dropped after its machine's RAM was freed touched freed memory (a
    segmentation fault, also seen as `bootdbg` exiting with status 139)."""
    from debugger.images import image_path

    code = _OUTLIVE.format(image=str(image_path("hello")), scenario=scenario)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


# Code patched after a checkpoint and run in its patched form: going back must run the code as
# it was at the checkpoint (the translated blocks of the restored pages are dropped).
PATCHED = """
    cli
    xor ax, ax
    mov ds, ax
    xor bx, bx
    call patch
    mov byte [patch+1], 7
    call patch                  ; (translated as patched, and nothing drops it after)
    hlt
patch:
    mov al, 1
    add bl, al
    ret
"""


@pytest.mark.parametrize("toggle_a20", [True, False])
def test_going_back_runs_the_code_as_it_was_not_as_it_was_patched(toggle_a20):
    m = boot_machine(PATCHED)
    while m.mem.read_phys(m.cpu.linear_pc(), 1) != b"\xe8":     # (the first call)
        m.run(1)
    if toggle_a20:
        m.cpu.set_a20(not m.cpu.a20)            # (either way round: exact)
    cp = m.checkpoint()
    at, bl = m.icount, m.state().rbx & 0xFF
    for one in (False, True, False):
        if one:                                 # (one instruction at a time, or a run)
            while (end := m.run(1)).reason != "halted":
                pass
        else:
            end = m.run()
        assert end.reason == "halted" and (m.state().rbx & 0xFF) - bl == 1 + 7
        m.restore(cp)
        assert m.icount == at
