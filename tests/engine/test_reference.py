"""Reference test: single-step every demo image with the full CPU state compared after each
instruction, and check that the fast path (native and pure Python) stops at exactly the same
instructions for every transition catchpoint."""
from __future__ import annotations

from pathlib import Path

import pytest

from debugger.engine.transitions import diff_states

IMAGES = Path(__file__).resolve().parents[2] / "images"
DEMOS = ("pmode", "unreal", "vm86", "longmode", "exceptions", "int13hook-hd", "hello")
KINDS = ("vm86", "mode", "cpl", "dtr", "sreg", "cr", "a20")
PROFILES = ("vmx", "kvm")


def _session(name: str, native: bool):
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    kind = "hd" if name.endswith("-hd") else None
    return Session(disks=[open_disk(IMAGES / f"{name}.img", kind=kind, boot=True)],
                   native=native)


def reference_stops(name: str) -> list[tuple[int, set[str]]]:
    """Instruction by instruction (and delivery by delivery) with full-state comparison."""
    s = _session(name, native=False)
    m = s.machine
    m.event_filter = lambda kind, details: True       # a delivery is its own step
    before = m.state()
    ok = {p: s.check(p, before).ok for p in PROFILES}
    out: list[tuple[int, set[str]]] = []
    for _ in range(2_000_000):
        r = m.run(1)
        after = m.state()
        kinds = {t.kind for t in diff_states(before, after)}
        kinds = {"vm86" if k.startswith("vm86") else k for k in kinds}
        for p in PROFILES:
            now = s.check(p, after).ok
            if ok[p] and not now:
                kinds.add("vmx-invalid")
            if not ok[p] and now:
                kinds.add("vmx-valid")
            ok[p] = now
        if kinds:
            out.append((m.icount, kinds))
        before = after
        if r.reason not in ("budget", "event"):
            break
    return out


def fast_stops(name: str, native: bool) -> list[tuple[int, str]]:
    s = _session(name, native)
    for k in KINDS:
        s.catch(k)
    s.catch("vmx-invalid", *PROFILES)
    s.catch("vmx-valid", *PROFILES)
    out = []
    for _ in range(100_000):
        ev = s.cont()
        if ev.final:
            break
        out.append((ev.icount, "vm86" if ev.kind.startswith("vm86") else ev.kind))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", DEMOS)
def test_fast_path_finds_the_reference_stops(name):
    from debugger.engine import runner

    ref = reference_stops(name)
    assert ref, "the image makes no transition at all?"
    variants = [False] + ([True] if runner.native_available() else [])
    for native in variants:
        got = fast_stops(name, native)
        assert [ic for ic, _ in got] == [ic for ic, _ in ref], f"native={native}"
        for (ic, kind), (_, kinds) in zip(got, ref):
            assert kind in kinds, f"{kind} at {ic} not in {kinds} (native={native})"
