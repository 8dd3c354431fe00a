"""The per-instruction trace (record --full): exact states at every instruction, native == Python,
the recorded line across edits and rewinds, the CLI and REPL, damaged chunks."""
from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from debugger.engine.session import Session
from debugger.trace import format as F
from debugger.trace.fulltrace import FullTrace, decode_chunk
from debugger.trace.reader import TraceReader
from debugger.trace.recorder import Recorder
from tests.conftest import GDT_PM, GDT_TAIL, PAGING_ON, PAGING_TABLES, stepped_along

IMAGES = Path(__file__).resolve().parents[2] / "images"
DEMOS = sorted(p.stem for p in IMAGES.glob("*.img") if not p.stem.startswith("bench-"))
# Page-table accessed/dirty bits are set by the MMU, not by a store: not in the write records.
PAGING = {"exceptions", "longmode"}


def _native() -> bool:
    from debugger.trace.ftrecord import native_available

    return native_available()


def _record_guest(tmp_path: Path, source: str, *, native: bool | None = None
                  ) -> tuple[Path, Session]:
    """Assemble `source`, record it with --full to run.bdt until it halts."""
    from tests.conftest import assemble

    img = tmp_path / "guest.img"
    img.write_bytes(assemble(source))
    s = Session(img)
    rec = Recorder(s, tmp_path / "run.bdt", full=True, native=native)
    assert s.cont(max_insns=100_000).kind == "halted"
    rec.close()
    return img, s


def _record(path: Path, name: str, *, full_native: bool | None = None,
            max_insns: int = 300_000) -> Session:
    s = Session(IMAGES / f"{name}.img")
    rec = Recorder(s, path, full=True, native=full_native)
    ev = s.cont(max_insns=max_insns)
    info = rec.close(ev.kind, ev.message)
    assert info["full"]["lost"] == 0 and info["full"]["gaps"] == 0
    return s


@pytest.mark.parametrize("name", DEMOS)
def test_trace_rebuilds_single_stepping_state_at_every_instruction(name: str,
                                                                  tmp_path: Path) -> None:
    """Apply the deltas from the keyframe: the CpuState after every instruction is what
    Session.step shows there (delivery, BIOS services, HLT included), and every recorded write
    holds the bytes memory has after that step."""
    end = _record(tmp_path / "run.bdt", name)
    ft = FullTrace.open(tmp_path / "run.bdt")
    assert (ft.first, ft.last) == (0, end.icount)
    s = Session(IMAGES / f"{name}.img")
    assert ft.state_at(0) == s.state()
    n = writes = 0
    for step in ft.steps():
        pc = s.state().pc
        s.step()
        assert s.icount == step.icount
        assert step.pc == pc
        assert step.cpu_state() == s.state(), f"{name}: state differs after icount {step.icount}"
        last: dict[int, int] = {}        # (a BIOS service may write a byte twice)
        for addr, data in step.writes:
            last.update((addr + i, b) for i, b in enumerate(data))
            writes += 1
        if last and name not in PAGING:
            lo, hi = min(last), max(last)
            mem = s.read_memory(lo, hi - lo + 1, "physical")
            assert all(mem[a - lo] == b for a, b in last.items()), step.icount
        n += 1
    assert n == end.icount and writes > 100
    assert ft.state_at(end.icount) == end.state()


@pytest.mark.skipif(not _native(), reason="native full-trace hooks not built")
@pytest.mark.parametrize("name", ["hello", "vm86"])
def test_native_and_python_write_identical_records(name: str, tmp_path: Path) -> None:
    """Same bytes from the C hooks and the Python encoder; small chunks and a small native
    buffer, so chunk cuts and the engine stops that drain the buffer are exercised."""
    from debugger.trace.ftrecord import FullRecorder
    from debugger.trace.writer import TraceWriter

    stats = {}
    for native in (True, False):
        s = Session(IMAGES / f"{name}.img")
        w = TraceWriter(tmp_path / f"{native}.bdt")
        w.json_chunk(F.HEADER, {"full": True})
        fr = FullRecorder(s.machine, w, native=native, chunk_insns=1000, buf_size=4096,
                          compress=True)
        s.cont(max_insns=300_000)
        stats[native] = (fr.close(), getattr(fr.enc, "stops", None))
        w.close()
    assert stats[True][0]["chunks"] > 4 and stats[True][1] > 2
    assert stats[True][0]["lost"] == stats[False][0]["lost"] == 0
    data = [(tmp_path / f"{n}.bdt").read_bytes() for n in (True, False)]
    assert data[0] == data[1]
    ft = FullTrace.open(tmp_path / "True.bdt")
    assert len(ft.line) == stats[True][0]["chunks"] and ft.last == stats[True][0]["instructions"]


def test_line_follows_edits_and_rewinds(tmp_path: Path) -> None:
    """Going back (rsi, a watchpoint's localisation re-executes too) records nothing twice; an
    edit starts a new chunk from the edited state, and the records after it replace the old
    future."""
    s = Session(IMAGES / "vm86.img")
    rec = Recorder(s, tmp_path / "run.bdt", full=True, interval=1000)
    s.step(3000)
    s.timeline.reverse_stepi(700)
    s.step(200)
    s.set_register("esi", 0x5151)
    s.step(40)
    s.timeline.goto(1500)
    s.step(100)
    rec.close("done")
    ft = FullTrace.open(tmp_path / "run.bdt")
    assert (ft.first, ft.last) == (0, 2540)
    # The same line by plain stepping: 2500 instructions, the edit, 40 more.
    ref = Session(IMAGES / "vm86.img")
    for step in ft.steps():
        if step.icount == 2501:
            ref.set_register("esi", 0x5151)
        ref.step()
        assert step.cpu_state() == ref.state(), step.icount
    assert ft.state_at(2500).rsi != 0x5151 and ft.state_at(2540).rsi & 0xFFFF != 0


def test_steps_range_and_state_at(tmp_path: Path) -> None:
    _record(tmp_path / "run.bdt", "pmode")
    ft = FullTrace.open(tmp_path / "run.bdt")
    got = [st.icount for st in ft.steps(100, 110)]
    assert got == list(range(101, 111))
    whole = {st.icount: st for st in ft.steps(95, 120)}
    assert whole[105].after == next(iter(ft.steps(104, 105))).after
    assert ft.state_at(110) == whole[110].cpu_state()
    assert whole[106].before == whole[105].after
    with pytest.raises(F.TraceError, match="not in the trace"):
        ft.state_at(ft.last + 1)


def test_file_without_trace_and_damaged_chunk(tmp_path: Path) -> None:
    s = Session(IMAGES / "hello.img")
    rec = Recorder(s, tmp_path / "plain.bdt")
    s.step(10)
    rec.close()
    with pytest.raises(F.TraceError, match="no per-instruction trace.*--full"):
        FullTrace.open(tmp_path / "plain.bdt")
    _record(tmp_path / "run.bdt", "hello")
    r = TraceReader(tmp_path / "run.bdt")
    payload = bytearray(r.read(r.of_type(F.TRACE)[0]))
    with pytest.raises(F.TraceError, match="malformed"):
        list(decode_chunk(bytes(payload[:len(payload) // 2])))
    with pytest.raises(F.TraceError, match="too short"):
        list(decode_chunk(bytes(payload[:100])))
    assert zlib.crc32(payload)      # (the undamaged chunk decodes: the test above)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "debugger", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_cli_record_full_and_repl_record_command(tmp_path: Path) -> None:
    r = _cli("record", str(IMAGES / "unreal.img"), "-o", "run.bdt", "--full", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "per-instruction trace: " in r.stdout and "Traceback" not in r.stderr
    ft = FullTrace.open(tmp_path / "run.bdt")
    assert ft.first == 0 and ft.last > 5000
    assert TraceReader(tmp_path / "run.bdt").header["full"] is True
    script = tmp_path / "s.bdbg"
    script.write_text("stepi 100\nrecord part.bdt --full\nstepi 250\nrecord stop\n"
                      "record x.bdt --bogus\n")
    r = _cli("session", str(IMAGES / "unreal.img"), "-x", str(script), "--batch", cwd=tmp_path)
    out = " ".join((r.stdout + r.stderr).split())
    assert "every instruction (250)" in out, out
    assert "usage: record" in out and "Traceback" not in out
    part = FullTrace.open(tmp_path / "part.bdt")
    assert (part.first, part.last) == (100, 350)


def test_trace_chunks_are_compressed_only_when_asked(tmp_path: Path) -> None:
    """record --full writes the per-instruction trace as it is (fast); --compress zlibs it
    (CLI and REPL); both read back the same; --compress alone is refused in one line."""
    sizes = {}
    for extra in ([], ["--compress"]):
        out = tmp_path / f"run{len(extra)}.bdt"
        r = _cli("record", str(IMAGES / "vm86.img"), "-o", str(out), "--full", *extra,
                 cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        chunks = TraceReader(out).of_type(F.TRACE)
        assert all(bool(c.flags & F.FLAG_ZLIB) == bool(extra) for c in chunks)
        sizes[bool(extra)] = sum(c.length for c in chunks)
    assert sizes[True] * 3 < sizes[False]
    a, b = (list(FullTrace.open(tmp_path / f"run{n}.bdt").steps()) for n in (0, 1))
    assert [x.changes for x in a] == [x.changes for x in b]
    r = _cli("record", str(IMAGES / "vm86.img"), "-o", "x.bdt", "--compress", cwd=tmp_path)
    assert r.returncode == 2 and "--compress goes with --full" in r.stderr
    assert "Traceback" not in r.stderr
    script = tmp_path / "s.bdbg"
    script.write_text("record part.bdt --full --compress\nstepi 250\nrecord stop\n"
                      "record y.bdt --compress\n")
    r = _cli("session", str(IMAGES / "vm86.img"), "-x", str(script), "--batch", cwd=tmp_path)
    out = " ".join((r.stdout + r.stderr).split())
    assert "every instruction (250)" in out and "usage: record" in out, out
    assert all(c.flags & F.FLAG_ZLIB
               for c in TraceReader(tmp_path / "part.bdt").of_type(F.TRACE))


SMC = """
    jmp 0:s
s:  cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov cx, 3
again:
    call target
    mov word [es:patch], 0xDB8E ; (another block: QEMU re-translates `target`)
    xor dx, dx
    mov ds, dx
    loop again
    hlt
target:
    mov bx, 0x1234
patch:
    nop                         ; becomes mov ds, bx (8E DB) after the first pass
    nop
    mov ax, ds
    ret
"""


def test_self_modifying_code_is_recorded_at_the_right_instruction(tmp_path: Path) -> None:
    """A block first seen without a segment load, then rewritten in place to hold one (same
    address and size): the segment change is in the record of the instruction that made it."""
    img, _ = _record_guest(tmp_path, SMC)
    ref = Session(img)
    loads = sum(step.changes.get("ds.selector") == 0x1234
                for step in stepped_along(FullTrace.open(tmp_path / "run.bdt").steps(), ref))
    assert loads == 2


def test_stops_found_by_going_back_keep_the_trace_exact(tmp_path: Path) -> None:
    """A watchpoint and a catchpoint in a fast run are localised by restoring the chunk's
    checkpoint and re-executing: the trace neither loses nor repeats an instruction."""
    s = Session(IMAGES / "vm86.img")
    rec = Recorder(s, tmp_path / "run.bdt", full=True)
    s.watch("0x67a8", 2, space="physical")      # (vm86's #GP handler frame)
    s.catch("vm86", "enter")
    kinds = []
    for _ in range(400):
        ev = s.cont(max_insns=100_000)
        kinds.append(ev.kind)
        if ev.final:
            break
    info = rec.close()
    assert kinds.count("vm86-enter") == 3 and kinds.count("watchpoint") > 100, kinds
    assert info["full"]["lost"] == 0 and info["full"]["gaps"] == 0
    ft = FullTrace.open(tmp_path / "run.bdt")
    assert (ft.first, ft.last) == (0, s.icount)
    for _ in stepped_along(ft.steps(), Session(IMAGES / "vm86.img")):
        pass


REP = """
    jmp 0:s
s:  cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    cld
    mov si, 0x7c00
    mov di, 0x1000
    mov cx, 7
    rep movsb                   ; one count per iteration plus the final check
    mov ax, 0xA5A5
    mov cx, 3
    rep stosw
    mov si, 0x7c00
    mov di, 0x1000
    mov cx, 9
    repe cmpsb                  ; stops early at the first difference
    mov cx, 0
    rep movsb                   ; zero iterations
    std
    mov cx, 2
    rep stosb
    hlt
"""


def test_rep_string_instructions_count_like_the_engine(tmp_path: Path) -> None:
    img, s = _record_guest(tmp_path, REP)
    ref = Session(img)
    steps = list(FullTrace.open(tmp_path / "run.bdt").steps())
    assert steps[-1].icount == s.icount
    for _ in stepped_along(steps, ref):
        pass
    # rep movsb: 7 iterations, one byte written by each, and its final check writes nothing.
    copies = [st for st in steps if len(st.writes) == 1 and 0x1000 <= st.writes[0][0] < 0x1007]
    assert len(copies) == 7 and all(len(st.writes[0][1]) == 1 for st in copies)


def test_cut_short_recording_keeps_the_complete_chunks(tmp_path: Path) -> None:
    """A recorder killed mid-way (no index) and a file cut inside a chunk: the chunks before the
    damage are read, with the reader's one-line account of the damage."""
    from debugger.trace.ftrecord import FullRecorder
    from debugger.trace.writer import TraceWriter

    s = Session(IMAGES / "hello.img")
    w = TraceWriter(tmp_path / "run.bdt")
    w.json_chunk(F.HEADER, {"full": True})
    fr = FullRecorder(s.machine, w, chunk_insns=1000, compress=True)
    s.cont()
    fr.close()
    w.abandon()
    r = TraceReader(tmp_path / "run.bdt")
    third = r.of_type(F.TRACE)[2]
    data = (tmp_path / "run.bdt").read_bytes()
    (tmp_path / "cut.bdt").write_bytes(data[:third.offset + 40])
    ft = FullTrace.open(tmp_path / "cut.bdt")
    assert "cut short" in (ft.r.damage or "")
    assert (ft.first, ft.last) == (0, 2000)
    ref = Session(IMAGES / "hello.img")
    for _ in stepped_along(ft.steps(), ref):
        pass
    assert ref.icount == 2000


PAGED = GDT_PM + PAGING_TABLES + """
    mov dword [0x10004], 0x12003
    mov dword [0x12000], 0x200003       ; linear 0x400000 -> physical 0x200000
""" + PAGING_ON + """
    mov dword [0x400010], 0xdeadbeef
    mov word [0x400020], 0x1234
    hlt
""" + GDT_TAIL


@pytest.mark.parametrize("native", [True, False])
def test_stores_through_paging_are_made_and_recorded_at_their_physical_address(
        native: bool, tmp_path: Path) -> None:
    """Unicorn's write hook gets the physical address: a store to linear 0x400010 (physical
    0x200010) is recorded there, and recording does not disturb it (translating the physical
    address again inside the hook clobbered QEMU's TLB entry: the store was lost)."""
    if native and not _native():
        pytest.skip("native full-trace hooks not built")
    _, s = _record_guest(tmp_path, PAGED, native=native)
    assert s.read_memory(0x200010, 4, "physical") == bytes.fromhex("efbeadde")
    assert s.read_memory(0x400020, 2) == bytes.fromhex("3412")
    steps = list(FullTrace.open(tmp_path / "run.bdt").steps())
    assert steps[-3].writes == [(0x200010, bytes.fromhex("efbeadde"))]
    assert steps[-2].writes == [(0x200020, bytes.fromhex("3412"))]


@pytest.mark.parametrize("native", [True, False])
def test_store_into_the_running_block_is_recorded_once(native: bool, tmp_path: Path) -> None:
    """QEMU undoes an instruction whose store hits its own block and runs it again alone: the
    trace has one record for it, with its store once, and every state is the stepped one."""
    from debugger.machine.blockcount import available
    from tests.conftest import assemble
    from tests.machine.test_smc import SRC, TOTAL

    if not available() or (native and not _native()):
        pytest.skip("needs the native block counter and full-trace hooks")
    img = tmp_path / "smc.img"
    img.write_bytes(assemble(SRC))
    s = Session(img)
    rec = Recorder(s, tmp_path / "run.bdt", full=True, native=native)
    ev = s.cont(max_insns=1000)
    info = rec.close(ev.kind)
    assert (ev.kind, ev.icount, info["full"]["gaps"]) == ("halted", TOTAL, 0)
    ref = Session(img)
    patches = sum(data == b"\x05"
                  for step in stepped_along(FullTrace.open(tmp_path / "run.bdt").steps(), ref)
                  for _a, data in step.writes)
    assert ref.icount == TOTAL and patches == 3


@pytest.mark.skipif(not _native(), reason="native full-trace hooks not built")
def test_native_recording_counts_with_its_own_code_hook(tmp_path: Path) -> None:
    """With the native hooks and nothing else hooking code, counted runs leave out Unicorn's
    count hook (the trace hook counts, and Unicorn calls it directly); another code hook brings
    the count hook back.  Either way the trace is the stepped run."""
    from unicorn import UC_HOOK_CODE

    s = Session(IMAGES / "pmode.img")
    m = s.machine
    rec = Recorder(s, tmp_path / "run.bdt", full=True)
    s.cont(max_insns=3000)
    assert m.self_counted > 0
    before = m.self_counted
    h = m.uc.hook_add(UC_HOOK_CODE, lambda *a: None)
    m.uc.ctl_flush_tb()
    s.cont(max_insns=3000)
    assert m.self_counted == before
    m.uc.hook_del(h)
    m.uc.ctl_flush_tb()
    ev = s.cont(max_insns=300_000)
    rec.close(ev.kind)
    assert m.self_counted > before and m.self_counter is None
    ref = Session(IMAGES / "pmode.img")
    for _ in stepped_along(FullTrace.open(tmp_path / "run.bdt").steps(), ref):
        pass
    assert ref.icount == s.icount


@pytest.mark.slow
def test_syslinux_trace_is_the_stepped_run(tmp_path: Path) -> None:
    """The first 600,000 instructions of a SYSLINUX boot (built at test time): every state the
    per-instruction trace holds is the single-stepped one (at 515,746 a `rep movsb` after a
    `sub` lost AF while recording: tests/machine/test_hook_flags.py)."""
    from debugger.machine.disk import open_disk
    from tests.machine.stock_images import syslinux_image

    img = syslinux_image()
    s = Session(disks=[open_disk(img, boot=True)])
    rec = Recorder(s, tmp_path / "run.bdt", full=True)
    s.cont(max_insns=600_000)
    info = rec.close()
    assert info["full"]["lost"] == info["full"]["gaps"] == 0
    ref = Session(disks=[open_disk(img, boot=True)])
    for _ in stepped_along(FullTrace.open(tmp_path / "run.bdt").steps(), ref):
        pass
    assert ref.icount == s.icount == 600_000


@pytest.mark.skipif(not _native(), reason="native full-trace hooks not built")
def test_a_full_block_table_starts_again(tmp_path: Path, monkeypatch) -> None:
    """With room for 16 block classes the table fills again and again: every block is classified
    anew (from the bytes memory holds then) and the trace is still the stepped run."""
    from debugger.trace import ftnative

    monkeypatch.setattr(ftnative, "TABLE_BITS", 4)
    forgot = []
    orig = ftnative.NativeEncoder._forget_classes
    monkeypatch.setattr(ftnative.NativeEncoder, "_forget_classes",
                        lambda self: (forgot.append(1), orig(self)))
    end = _record(tmp_path / "run.bdt", "vm86")
    assert len(forgot) > 5
    ref = Session(IMAGES / "vm86.img")
    for _ in stepped_along(FullTrace.open(tmp_path / "run.bdt").steps(), ref):
        pass
    assert ref.icount == end.icount
