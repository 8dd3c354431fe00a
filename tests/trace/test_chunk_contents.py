"""A chunk rewritten with a valid checksum but bad contents (issue 14 item 7): every decoded
field is validated, so `trace dump`, `trace export --format jsonl` and `replay --verify` answer
with one line naming the chunk and the field -- never a traceback -- whatever field of the
header, a checkpoint, the end record or an input has a wrong type or range."""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from debugger.cli import main
from debugger.engine.session import Session
from debugger.trace import format as F
from debugger.trace.reader import TraceReader
from debugger.trace.recorder import Recorder
from debugger.trace.writer import TraceWriter

IMAGES = Path(__file__).resolve().parents[2] / "images"
BAD_VALUES = ["x", -1, None, [1], 1 << 70, 7]


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chunks") / "run.bdt"
    s = Session(IMAGES / "hello.img")
    rec = Recorder(s, out, interval=1000)
    s.step(50)
    s.write_memory(0x500, b"\x12\x34", space="physical")
    s.set_register("esi", 0x1234)
    ev = s.cont()
    rec.close(ev.kind, ev.message)
    return out


def rewrite(src: Path, dst: Path, ctype: int, edit) -> None:
    """Copy `src` chunk by chunk (valid checksums), passing the JSON of the first chunk of
    `ctype` (a checkpoint: its metadata) through `edit`."""
    done = False
    with TraceReader(src) as r:
        w = TraceWriter(dst)
        for e in r.entries:
            if e.ctype == F.INDEX:
                continue
            data = r.read(e)
            if e.ctype == ctype and not done:
                done = True
                if ctype == F.CHECKPOINT:
                    n = int.from_bytes(data[:4], "little")
                    meta = edit(json.loads(data[4:4 + n]))
                    mj = json.dumps(meta).encode()
                    data = struct.pack("<I", len(mj)) + mj + data[4 + n:]
                else:
                    data = json.dumps(edit(json.loads(data))).encode()
            w.chunk(e.ctype, data, e.icount)
        w.close()
    assert done


def _set(path: tuple, value):
    def edit(obj):
        o = obj[0] if isinstance(obj, list) else obj
        for k in path[:-1]:
            o = o[k]
        o[path[-1]] = value
        return obj
    return edit


CASES = [
    (F.HEADER, ("config", "ram_size")), (F.HEADER, ("config", "serial_input")),
    (F.HEADER, ("config", "keys")), (F.HEADER, ("disks",)), (F.HEADER, ("interval",)),
    (F.HEADER, ("disks", 0, "size")), (F.HEADER, ("config",)),
    (F.CHECKPOINT, ("activity",)), (F.CHECKPOINT, ("icount",)), (F.CHECKPOINT, ("state",)),
    (F.CHECKPOINT, ("state", "rax")), (F.CHECKPOINT, ("state", "cs")),
    (F.CHECKPOINT, ("state", "activity")), (F.CHECKPOINT, ("pages",)),
    (F.CHECKPOINT, ("state_hash",)), (F.CHECKPOINT, ("seq",)),
    (F.END, ("icount",)), (F.END, ("serial",)), (F.END, ("state_hash",)),
    (F.INPUT, ("icount",)), (F.INPUT, ("kind",)), (F.INPUT, ("data",)),
    (F.INPUT, ("state",)), (F.INPUT, ("address",)),
]
COMMANDS = [["trace", "dump", "{f}", "--chunks"], ["trace", "export", "{f}", "--format", "jsonl",
                                                    "-o", "{o}"], ["replay", "{f}", "--verify"]]


@pytest.mark.parametrize("ctype,path", CASES, ids=[f"{F.TYPE_NAMES[c]}-{'.'.join(map(str, p))}"
                                                    for c, p in CASES])
def test_wrong_field_is_one_line(recording: Path, tmp_path: Path, capsys, ctype, path) -> None:
    """Default run: two wrong values per field (a bounded budget); the slow run: all of them."""
    k = CASES.index((ctype, path))
    _check(recording, tmp_path, capsys, ctype, path,
           [BAD_VALUES[k % len(BAD_VALUES)], BAD_VALUES[(k + 2) % len(BAD_VALUES)]])


@pytest.mark.skipif(not os.environ.get("BOOTDBG_ALL_VALUES"),
                    reason="every wrong value: BOOTDBG_ALL_VALUES=1 pytest "
                           "tests/trace/test_chunk_contents.py")
@pytest.mark.parametrize("ctype,path", CASES, ids=[f"{F.TYPE_NAMES[c]}-{'.'.join(map(str, p))}"
                                                    for c, p in CASES])
def test_wrong_field_every_value(recording: Path, tmp_path: Path, capsys, ctype, path) -> None:
    _check(recording, tmp_path, capsys, ctype, path, BAD_VALUES)


def _check(recording: Path, tmp_path: Path, capsys, ctype, path, values) -> None:
    for i, value in enumerate(values):
        bad = tmp_path / f"bad{i}.bdt"
        rewrite(recording, bad, ctype, _set(path, value))
        for argv in COMMANDS:
            argv = [a.format(f=bad, o=tmp_path / "out.jsonl") for a in argv]
            code = main(argv)           # an exception here is the defect
            _out, err = capsys.readouterr()
            assert code in (0, 1, 2), (argv, value, code)
            assert "Traceback" not in err and "internal error" not in err, (argv, value, err)
            if code == 2:
                assert err.count("\n") == 1, (argv, value, err)


def test_the_copy_itself_is_sound(recording: Path, tmp_path: Path, capsys) -> None:
    """(The rewriting keeps a recording that verifies when nothing is changed.)"""
    good = tmp_path / "same.bdt"
    rewrite(recording, good, F.END, lambda o: o)
    assert main(["replay", str(good), "--verify"]) == 0
