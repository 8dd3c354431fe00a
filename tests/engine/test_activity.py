"""The activity log (the TUI's event timeline): transitions found in a fast run are exactly the
ones a single-stepping reference sees, with their icount and CS:EIP; the per-run budget leaves
one honest gap entry; I/O and BIOS entries match the catchpoint stops; re-execution (stop
localisation, time travel) logs nothing twice and a user edit drops the future."""
from __future__ import annotations

import functools
from pathlib import Path

import pytest

from debugger.engine.activity import attach

IMAGES = Path(__file__).resolve().parents[2] / "images"
DEMOS = ("pmode", "unreal", "vm86", "longmode", "exceptions")


def _session(name: str, native: bool | None = None, profile: str = "vmx"):
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    kind = "hd" if name.endswith("-hd") else None
    return Session(disks=[open_disk(IMAGES / f"{name}.img", kind=kind, boot=True)],
                   native=native, profile=profile)


@functools.lru_cache(maxsize=None)
def reference(name: str, profile: str) -> frozenset[tuple[int, int, int, str]]:
    """(icount, CS, EIP, what) of every mode/CPL/verdict change, one instruction or delivery
    at a time with the full state compared."""
    s = _session(name, native=False, profile=profile)
    m = s.machine
    m.event_filter = lambda kind, details: True
    before = m.state()
    ok = s.check(profile, before).ok
    out = set()
    for _ in range(2_000_000):
        r = m.run(1)
        after = m.state()
        at = (m.icount, after.cs.selector, after.rip)
        if after.mode != before.mode:
            out.add(at + ("mode",))
        if after.cpl != before.cpl:
            out.add(at + ("cpl",))
        now = s.check(profile, after).ok
        if now != ok:
            out.add(at + ("vmx-valid" if now else "vmx-invalid",))
        ok, before = now, after
        if r.reason not in ("budget", "event"):
            break
    return frozenset(out)


def logged(log) -> set[tuple[int, int, int, str]]:
    mode = {"mode", "vm86-enter", "vm86-leave"}
    return {(a.icount, a.cs, a.eip, "mode" if a.kind in mode else a.kind)
            for a in log.entries if a.source == "transition"}


@pytest.mark.parametrize("name", DEMOS)
def test_fast_run_logs_every_transition_exactly(name):
    from debugger.engine import runner

    profile = "kvm" if name == "unreal" else "vmx"
    ref = reference(name, profile)
    assert ref
    for native in [False] + ([True] if runner.native_available() else []):
        s = _session(name, native, profile)
        log = attach(s, budget=None)
        while not s.cont().final:
            pass
        assert logged(log) == ref, f"native={native}"
        assert not [a for a in log.entries if a.kind == "gap"]
        for a in log.entries:          # every transition names the instruction or delivery
            if a.source == "transition":
                assert a.details.get("instruction") or a.details.get("delivery"), a


def test_stepping_logs_the_same_transitions():
    ref = reference("vm86", "vmx")
    last = max(ic for ic, *_ in ref)
    s = _session("vm86")
    log = attach(s, budget=0)          # no fast-run localisation at all: stepping only
    while s.icount <= last:
        assert not s.step().final
    assert logged(log) == ref


def test_budget_ends_in_one_gap_entry_and_invents_nothing():
    ref = sorted(reference("vm86", "vmx"))
    s = _session("vm86")
    log = attach(s, budget=3)
    ev = s.cont()
    assert ev.final
    gaps = [a for a in log.entries if a.kind == "gap"]
    assert len(gaps) == 1
    g = gaps[0]
    assert g.details["to"] == s.icount and g.details["from"] == g.icount
    got = sorted(logged(log))
    assert got and set(got) <= set(ref)
    assert all(ic <= g.icount for ic, *_ in got)            # nothing logged inside the gap
    assert got == [r for r in ref if r[0] <= g.icount]      # and nothing missed before it
    assert g.details["mode_after"] == s.state().mode.value


def test_io_and_bios_entries_match_catchpoint_stops():
    s = _session("pmode")
    log = attach(s)
    s.cont()
    io = [a for a in log.entries if a.kind == "io"][:6]
    r = _session("pmode")
    r.catch("io")
    for a in io:
        ev = r.cont()
        assert (ev.icount, ev.details["port"], ev.details["direction"]) == \
            (a.icount, a.details["port"], a.details["direction"])
        st = r.state()
        linear = (st.cs.base + a.eip) & 0xFFFFFFFF
        assert ev.instruction_address == linear and st.cs.selector == a.cs
        assert ev.instruction.split()[0] in ("in", "out")

    h = _session("hello")
    log = attach(h)
    h.cont()
    tty = [a for a in log.entries if a.kind == "bios" and a.details["vector"] == 0x10
           and a.details["ax"] >> 8 == 0x0E]
    printed = "".join(chr(a.details["ax"] & 0xFF) for a in tty)
    assert "Hello from bootdbg" in printed
    r = _session("hello")
    r.catch("bios", 0x10)
    bios10 = [a for a in log.entries if a.kind == "bios" and a.details["vector"] == 0x10]
    for a in bios10[:5]:
        ev = r.cont()
        assert ev.kind == "bios" and ev.icount == a.icount


def test_reexecution_logs_nothing_twice_and_an_edit_drops_the_future():
    from debugger.trace.timetravel import attach as time_travel

    s = _session("vm86")
    log = attach(s)
    time_travel(s, interval=2000)
    s.catch("io")              # every I/O stop is localised: re-execution from checkpoints
    for _ in range(40):
        s.cont()
    s.delete()
    s.cont()
    first = [a.key for a in log.entries]
    assert len(first) == len(set(first))
    s.timeline.goto(3000)
    s.cont()                   # forwards again over what was logged
    assert [a.key for a in log.entries] == first
    s.timeline.goto(3000)
    s.set_register("eax", 0x1234)      # the recorded future no longer holds
    assert max(a.icount for a in log.entries) <= 3000
    s.cont()
    assert any(a.icount > 3000 for a in log.entries)


def test_interrupt_is_not_lost_while_stops_are_localised():
    """Every transition of the mode-switching image is localised (re-execution from a
    checkpoint, engine stretch after stretch); an interrupt arriving between two stretches
    used to be cleared by the next one."""
    import threading
    import time

    for delay in (0.2, 0.27, 0.33, 0.41, 0.5):
        s = _session("bench-switch")
        attach(s, budget=None)
        got = {}
        t = threading.Thread(target=lambda: got.setdefault("ev", s.cont()))
        t.start()
        time.sleep(delay)
        s.interrupt()
        t.join(5)
        if t.is_alive():
            while t.is_alive():
                s.interrupt()
                t.join(0.5)
            pytest.fail(f"the interrupt after {delay}s was lost")
        assert got["ev"].kind == "interrupt"
    s.cont(max_insns=10)                 # the next run is not interrupted by the old request
    assert s.last_stop.kind == "budget"
