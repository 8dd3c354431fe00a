"""record -> replay -> compare on every demo image (rr's compare test)."""
from __future__ import annotations

from pathlib import Path

import pytest

from debugger.engine.session import Session
from debugger.trace.recorder import Recorder
from debugger.trace.replay import Replay

IMAGES = Path(__file__).resolve().parents[2] / "images"
DEMOS = sorted(p.stem for p in IMAGES.glob("*.img") if not p.stem.startswith("bench-"))


@pytest.mark.parametrize("full", [False, True], ids=["plain", "full"])
@pytest.mark.parametrize("name", DEMOS)
def test_record_replay_compare(name: str, full: bool, tmp_path: Path) -> None:
    """Every demo image, recorded with and without the per-instruction trace, verifies: the
    end of a --full recording (which removes its hooks) holds only what the guest did."""
    s = Session(IMAGES / f"{name}.img")
    rec = Recorder(s, tmp_path / "run.bdt", interval=2000, full=full)
    ev = s.cont(max_insns=3_000_000)
    info = rec.close(ev.kind, ev.message)
    assert info["checkpoints"] >= 3
    rp = Replay(tmp_path / "run.bdt")
    res = rp.verify()
    assert res.ok, res.mismatch
    assert res.matched == res.checkpoints >= 3
    assert rp.session.serial == s.serial and s.serial
    assert rp.session.state() == s.state()


def test_replay_detects_a_different_run(tmp_path: Path) -> None:
    """The comparison can fail: one byte of otherwise unused RAM different at the start (so
    only the RAM digest can tell) is reported at the first checkpoint."""
    s = Session(IMAGES / "hello.img")
    rec = Recorder(s, tmp_path / "run.bdt", interval=1000)
    ev = s.cont()
    rec.close(ev.kind)
    rp = Replay(tmp_path / "run.bdt")
    rp.session.machine.mem.write_phys(0x3F0000, b"\x01")
    res = rp.verify()
    assert not res.ok and "icount 0" in (res.mismatch or "")


def test_edits_are_recorded_and_replayed(tmp_path: Path) -> None:
    s = Session(IMAGES / "hello.img")
    rec = Recorder(s, tmp_path / "run.bdt", interval=1000)
    s.step(50)
    s.write_memory(0x500, b"\x12\x34", space="physical")
    s.set_register("esi", 0x1234)
    ev = s.cont()
    rec.close(ev.kind)
    rp = Replay(tmp_path / "run.bdt")
    res = rp.verify()
    assert res.ok, res.mismatch
    assert rp.session.read_memory(0x500, 2, "physical") == b"\x12\x34"


@pytest.mark.slow
@pytest.mark.parametrize("loader", ["syslinux", "grub"])
def test_record_replay_compare_stock_loaders(loader: str, tmp_path: Path) -> None:
    """The same on SYSLINUX and GRUB boots built at test time from Debian's packages (each waits
    at its prompt, with the timer running, when the budget ends)."""
    from debugger.machine.disk import open_disk
    from tests.machine.stock_images import grub_image, syslinux_image

    img = syslinux_image() if loader == "syslinux" else grub_image()
    s = Session(disks=[open_disk(img, boot=True)])
    rec = Recorder(s, tmp_path / "run.bdt", interval=2_000_000)
    ev = s.cont(max_insns=17_000_000)     # both prompts appear by about 16.5 M
    info = rec.close(ev.kind, ev.message)
    assert info["checkpoints"] >= 5
    assert (b"boot: " if loader == "syslinux" else b"grub rescue> ") in s.serial
    rp = Replay(tmp_path / "run.bdt")
    res = rp.verify()
    assert res.ok, res.mismatch
    assert res.matched == res.checkpoints
    assert rp.session.serial == s.serial
    assert rp.session.state() == s.state()


@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
def test_removing_trace_hooks_leaves_guest_ram_alone(native: bool, tmp_path: Path) -> None:
    """Issue 14 item 13: Unicorn's hook removal walks the guest's page tables for the code the
    hooks saw (setting Accessed bits no instruction set); the full-trace hooks undo that."""
    from debugger.trace.ftrecord import native_available

    if native and not native_available():
        pytest.skip("the native full-trace module is not built")
    plain = Session(IMAGES / "exceptions.img")
    plain.cont(max_insns=3_000_000)
    s = Session(IMAGES / "exceptions.img")
    rec = Recorder(s, tmp_path / "run.bdt", full=True, native=native)
    ev = s.cont(max_insns=3_000_000)
    rec.close(ev.kind, ev.message)
    size = s.machine.mem.ram_size
    assert s.machine.mem.read_phys(0, size) == plain.machine.mem.read_phys(0, size)


def test_cli_record_full_exceptions_verifies(tmp_path: Path) -> None:
    """`bootdbg record images/exceptions.img -o x.bdt --full && bootdbg replay x.bdt --verify`."""
    import subprocess
    import sys

    out = tmp_path / "x.bdt"
    r = subprocess.run([sys.executable, "-m", "debugger", "record", str(IMAGES / "exceptions.img"),
                        "-o", str(out), "--full"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "debugger", "replay", str(out), "--verify"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "replay identical" in r.stdout, r.stdout + r.stderr
