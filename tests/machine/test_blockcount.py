"""Fast slices (instructions counted per translation block, see machine/blockcount.py) must give
exactly what the count hook gives: the same icount at every stop, the same state, the same
output.  The slice threshold is lowered so that even the short demo images run mostly in fast
slices, with their BIOS calls, I/O, faults and mode switches (each one irregular -> redone)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import IRQ0_TO_TICK, assemble

IMAGES = Path(__file__).resolve().parents[2] / "images"
DEMOS = ("hello", "pmode", "unreal", "vm86", "longmode", "exceptions", "int13hook-hd")


def _session(path: Path, fast: bool, kind: str | None = None):
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    s = Session(disks=[open_disk(path, kind=kind, boot=True)])
    import debugger.machine.slices as slices

    s.machine._fast_backoff = slices.FAST_MIN
    if not fast:
        s.machine._blocks.available = False
    return s


@pytest.fixture
def small_slices(monkeypatch):
    import debugger.machine.slices as slices

    monkeypatch.setattr(slices, "FAST_MIN", 16)


def _native():
    from debugger.machine.blockcount import available

    if not available():
        pytest.skip("the native block counter is not built")


def _image(tmp_path: Path, src: str) -> Path:
    f = tmp_path / "guest.img"
    f.write_bytes(assemble(src))
    return f


def _walk(s, stops: int = 400) -> list[tuple]:
    out = []
    for _ in range(stops):
        ev = s.cont(max_insns=997)       # odd budgets: slices end inside blocks
        out.append((ev.kind, ev.icount, ev.linear, s.state().digest()))
        if ev.final:
            break
    return out


@pytest.mark.parametrize("name", DEMOS)
def test_fast_slices_stop_where_the_count_hook_stops(name, small_slices):
    _native()
    kind = "hd" if name.endswith("-hd") else None
    fast = _session(IMAGES / f"{name}.img", True, kind)
    exact = _session(IMAGES / f"{name}.img", False, kind)
    a, b = _walk(fast), _walk(exact)
    assert a == b
    assert fast.serial == exact.serial
    m = fast.machine
    assert m.fast_slices + m.fast_redone > 0, "no fast slice ran: the test tests nothing"


@pytest.mark.parametrize("name", ("vm86", "exceptions"))
def test_breakpoints_and_catchpoints_agree(name, small_slices):
    _native()
    runs = []
    for fast in (True, False):
        s = _session(IMAGES / f"{name}.img", fast)
        s.catch("mode")
        s.catch("int")
        s.break_at(0x7C00 + 0x40)
        runs.append(_events(s))
    assert runs[0] == runs[1]


def _events(s) -> list[tuple]:
    out = []
    for _ in range(500):
        e = s.cont()
        out.append((e.kind, e.icount, e.linear))
        if e.final:
            break
    return out


def test_long_loop_runs_in_fast_slices_and_ends_exactly(tmp_path):
    _native()
    src = """
        cli
        xor eax, eax
        mov edx, 0x9e3779b9
        mov ecx, 300000
    l:  add eax, edx
        rol edx, 5
        xor edx, eax
        mov [0x6000], eax
        dec ecx
        jnz l
        hlt
    """
    f = _image(tmp_path, src)
    fast, exact = _session(f, True), _session(f, False)
    for s in (fast, exact):
        s.cont(max_insns=70_000)        # a first long slice, then fast ones
        s.cont(max_insns=1_234_567)     # ends inside the 6-instruction block
    assert fast.icount == exact.icount == 70_000 + 1_234_567
    assert fast.state() == exact.state()
    a, b = fast.cont(), exact.cont()
    assert (a.kind, a.icount) == (b.kind, b.icount) == ("halted", 4 + 6 * 300_000 + 1)
    assert fast.state() == exact.state()
    assert fast.machine.fast_slices > 0


def test_version_says_how_instructions_are_counted():
    import os
    import subprocess
    import sys

    from debugger.machine.blockcount import available

    def version(**env):
        r = subprocess.run([sys.executable, "-m", "debugger", "--version"], capture_output=True,
                           text=True, env={**os.environ, **env}, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    expected = "per block" if available() else "count hook"
    assert "instruction counting: " in version() and expected in version()
    assert "instruction counting: Unicorn's count hook on every instruction (disabled by" \
        in version(BOOTDBG_NO_NATIVE="1")


def test_timer_interrupts_held_by_cli_and_taken_after_sti_agree(tmp_path):
    """IRQ0 becomes pending inside a long CLI loop (the interrupt-enable watcher is armed during
    fast slices) and is delivered after STI, then keeps arriving; both ways agree exactly."""
    _native()
    src = IRQ0_TO_TICK + """
        mov ecx, 1500000
    a:  add eax, ecx
        rol eax, 3
        dec ecx
        jnz a
        sti
        mov ecx, 1500000
    b:  add eax, ecx
        rol eax, 3
        dec ecx
        jnz b
        cli
        hlt
    tick:
        inc dword [0x600]
        push ax
        mov al, 0x20
        out 0x20, al
        pop ax
        iret
    """
    f = _image(tmp_path, src)
    results = []
    for fast in (True, False):
        s = _session(f, fast)
        ev = s.cont()
        results.append((ev.kind, ev.icount, s.state(), s.read_memory(0x600, 4)))
        if fast:
            assert s.machine.fast_slices > 0
    assert results[0] == results[1]
    assert int.from_bytes(results[0][3], "little") >= 2      # ticks were taken


@pytest.mark.parametrize("name", ("hello", "pmode", "longmode"))
def test_breakpoint_inside_a_block_stops_at_its_first_execution(name, small_slices):
    """A breakpoint reached in the middle of a translation block: Unicorn's stop there is not an
    instruction (found in fast slices: `cont` reported one instruction too many)."""
    _native()
    ref = _session(IMAGES / f"{name}.img", False)
    first: dict[int, int] = {}
    for _ in range(6000):
        ev = ref.step()
        if ev.final:
            break
        first.setdefault(ev.linear, ev.icount)
    picks = sorted(first.items(), key=lambda kv: kv[1])[3::5][:40]
    assert len(picks) > 5
    for linear, icount in picks:
        s = _session(IMAGES / f"{name}.img", True)
        s.break_at(linear)
        ev = s.cont()
        assert (ev.kind, ev.icount) == ("breakpoint", icount), hex(linear)


def test_polling_a_port_with_interrupts_off_and_an_irq_waiting(tmp_path):
    """A guest polls port 61h with IF=0 while the timer IRQ waits (GRUB's timing loops): the run
    does not stop at every IN, and the IRQ is taken right after STI and the instruction after it."""
    src = IRQ0_TO_TICK + """
        mov al, 0x36                ; PIT channel 0 at 1.19 MHz / 1000: a tick every 84 k insns
        out 0x43, al
        mov ax, 1000
        out 0x40, al
        mov al, ah
        out 0x40, al
        mov ecx, 50000
    p:  in al, 0x61
        dec ecx
        jnz p
    here:
        sti
        nop
        nop
        cli
        hlt
    tick:
        inc dword [0x600]
        mov al, 0x20
        out 0x20, al
        iret
    """
    f = _image(tmp_path, src)
    s = _session(f, True)
    m = s.machine
    seen = []
    m.interrupt_listeners.append(lambda vec, kind, ec, cs, ip: seen.append((vec, kind, m.icount)))
    slices = []
    m.slice_end_checks.append(lambda: slices.append(1))
    s.break_at(0x7C00 + f.read_bytes().index(b"\xfb\x90\x90\xfa\xf4"))     # `here`: sti
    ev = s.cont()
    assert ev.kind == "breakpoint", ev.summary()
    at_sti = ev.icount
    assert at_sti == 12 + 3 * 50_000
    assert len(slices) < 100, "stopped at every IN"
    ev = s.cont()
    assert ev.kind == "halted"
    assert seen and seen[0][:2] == (8, "irq") and seen[0][2] == at_sti + 2   # STI, its shadow
    assert s.read_memory(0x600, 4) == (1).to_bytes(4, "little")


def test_a_slice_irregular_again_at_each_redo_ends_in_the_exact_path(tmp_path):
    """A redone slice that meets something irregular again, earlier each time (a block the
    counter cannot look up after the checkpoint is restored, say), is not redone without end:
    after a few tries the rest runs exactly (it once recursed a thousand deep on a Debian
    kernel and ended the session with a RecursionError)."""
    _native()
    src = """
        cli
        mov ecx, 400000
    l:  dec ecx
        jnz l
        hlt
    """
    f = _image(tmp_path, src)
    fast, exact = _session(f, True), _session(f, False)
    m = fast.machine
    real_stop = m._blocks.stop
    calls = []

    def stop(**kw):
        done, irregular, partial = real_stop(**kw)
        calls.append(done)
        if done > 1000:                     # irregular after most of what ran, every time
            return done - 300, 1, partial
        return done, irregular, partial
    m._blocks.stop = stop
    a, b = fast.cont(), exact.cont()
    assert (a.kind, a.icount) == (b.kind, b.icount) == ("halted", 2 + 2 * 400_000 + 1)
    assert fast.state() == exact.state()
    assert len(calls) < 50
