"""Trace files cut short, corrupted, of a newer version, or random bytes: one clear message,
never a traceback, and what precedes the damage stays usable."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from debugger.engine.session import Session
from debugger.trace import format as F
from debugger.trace.reader import TraceReader
from debugger.trace.recorder import Recorder

IMAGES = Path(__file__).resolve().parents[2] / "images"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("t") / "hello.bdt"
    s = Session(IMAGES / "hello.img")
    rec = Recorder(s, path, interval=1000)
    ev = s.cont()
    rec.close(ev.kind)
    return path.read_bytes()


def _open(data: bytes, tmp: Path) -> tuple[TraceReader | None, str | None]:
    p = tmp / "x.bdt"
    p.write_bytes(data)
    try:
        r = TraceReader(p)
    except F.TraceError as exc:
        return None, str(exc)
    return r, r.damage


def test_intact_file_is_indexed(good: bytes, tmp_path: Path) -> None:
    r, damage = _open(good, tmp_path)
    assert r is not None and damage is None and r.indexed
    assert r.end() is not None and len(r.of_type(F.CHECKPOINT)) >= 3


def test_truncated_keeps_the_chunks_before(good: bytes, tmp_path: Path) -> None:
    full, _ = _open(good, tmp_path)
    assert full is not None
    cut = full.entries[-3].offset + 10        # inside a late chunk
    r, damage = _open(good[:cut], tmp_path)
    assert r is not None and damage and "cut short" in damage
    assert [e.seq for e in r.entries] == [e.seq for e in full.entries[:-3]]
    for e in r.entries:
        r.read(e)


def test_corrupted_byte_is_found(good: bytes, tmp_path: Path) -> None:
    full, _ = _open(good, tmp_path)
    assert full is not None
    victim = full.entries[4]
    bad = bytearray(good)
    bad[victim.offset + F.CHUNK_HEAD.size + 3] ^= 0x40
    r, damage = _open(bytes(bad), tmp_path)
    assert r is not None and damage and "checksum" in damage and f"chunk {victim.seq}" in damage
    assert len(r.entries) == victim.seq


def test_newer_version_is_refused_with_numbers(good: bytes, tmp_path: Path) -> None:
    bad = F.FILE_HEAD.pack(F.MAGIC, F.VERSION + 7) + good[F.FILE_HEAD.size:]
    r, msg = _open(bad, tmp_path)
    assert r is None and msg and f"version {F.VERSION + 7}" in msg and str(F.VERSION) in msg


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_reader(good: bytes, tmp_path: Path, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["flip", "cut", "splice", "random"]))
    buf = bytearray(good)
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(buf) - 1))
            buf[i] ^= data.draw(st.integers(1, 255))
    elif kind == "cut":
        buf = buf[:data.draw(st.integers(0, len(buf)))]
    elif kind == "splice":
        i = data.draw(st.integers(0, len(buf)))
        buf[i:i] = data.draw(st.binary(max_size=64))
    else:
        buf = bytearray(F.FILE_HEAD.pack(F.MAGIC, 1)) + data.draw(st.binary(max_size=400))
    r, msg = _open(bytes(buf), tmp_path)
    if r is None:
        assert msg and "\n" not in msg
        return
    for e in r.entries:          # everything the reader kept reads back without surprises
        try:
            r.read(e)
        except F.TraceError as exc:
            assert "\n" not in str(exc)
    r.close()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "debugger", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def test_cli_record_replay_dump(tmp_path: Path) -> None:
    out = tmp_path / "r.bdt"
    p = _cli("record", str(IMAGES / "vm86.img"), "-o", str(out), "--interval", "2000",
             cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "bytes/instruction" in p.stdout
    p = _cli("replay", str(out), "--verify", cwd=tmp_path)
    assert p.returncode == 0 and "replay identical" in p.stdout, p.stdout + p.stderr
    p = _cli("trace", "dump", str(out), cwd=tmp_path)
    assert p.returncode == 0 and "format version 1" in p.stdout
    (tmp_path / "cut.bdt").write_bytes(out.read_bytes()[:5000])
    p = _cli("trace", "dump", str(tmp_path / "cut.bdt"), cwd=tmp_path)
    assert p.returncode == 1 and "Traceback" not in p.stderr and "cut short" in p.stdout
    # a cut recording still replays up to the damage, with a warning
    p = _cli("replay", "--verify", str(tmp_path / "cut.bdt"), cwd=tmp_path)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert "cut short" in p.stderr and "no end record" in p.stdout
    (tmp_path / "new.bdt").write_bytes(b"BOOTDBGT\x09\x00\x00\x00" + out.read_bytes()[12:])
    p = _cli("replay", str(tmp_path / "new.bdt"), cwd=tmp_path)
    assert p.returncode == 2 and "version 9 is newer" in p.stderr and "Traceback" not in p.stderr
    p = _cli("replay", "-ex", "goto 100", "-ex", "when", "-ex", "rsi 5", "-ex", "when",
             "--batch", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Current icount: 100" in p.stdout and "Current icount: 95" in p.stdout
