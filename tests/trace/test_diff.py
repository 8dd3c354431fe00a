"""`trace diff`: the alignment and comparison rules on hand-made streams, two recordings through
the CLI, and the QEMU log reader on real, broken and fuzzed logs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from debugger.trace.diff import Rec, Side, diff, format_result
from debugger.trace.qemulog import QemuLog, QemuLogError

ROOT = Path(__file__).resolve().parents[2]
QEMU_SAMPLE = ROOT / "tests" / "checks" / "data" / "qemu-unreal-i386-log.txt"
QEMU_LONG = ROOT / "tests" / "checks" / "data" / "qemu-long64.txt"

BASE = {"rax": 0xAA55, "rbx": 0, "rcx": 0, "rsp": 0x7C00, "rflags": 0x2, "ss.selector": 0,
        "ss.base": 0}


def rec(pos: int, eip: int, text: str = "nop", *, cs: int = 0, sp: int = 0x7C00,
        final: str | None = None, **regs: int) -> Rec:
    f = dict(BASE, rip=eip, rsp=sp, **regs)
    f["cs.selector"], f["cs.base"] = cs, cs << 4
    return Rec(pos, cs, eip, (cs << 4) + eip, sp, 0, 16, None, f, text, None, None, final)


def side(label: str, recs: list[Rec], end: str = "halted") -> Side:
    s = Side(label, f"{label}.test", "test stream", iter(recs))
    s.end_reason = end
    return s


def run(a: list[Rec], b: list[Rec], end_a: str = "halted", end_b: str = "halted"):
    res = diff(side("A", a, end_a), side("B", b, end_b))
    return res, "\n".join(format_result(res))


def straight(n: int, **regs: int) -> list[Rec]:
    return [rec(i, 0x7C00 + 2 * i, **regs) for i in range(n)]


def test_identical_streams() -> None:
    res, text = run(straight(6), straight(6))
    assert res.same and res.compared == 5 and "no divergence: 5 instructions" in text


def test_state_divergence_reports_the_instruction_and_fields() -> None:
    a = straight(6)
    b = straight(6)
    b[3] = rec(3, 0x7C06, rax=0x1235)           # after the instruction at 7C04
    b[4] = rec(4, 0x7C08, rax=0x1235)
    a[2] = rec(2, 0x7C04, "mov ax, 0x1234")
    res, text = run(a, b)
    d = res.divergence
    assert d is not None and d.kind == "state" and d.a.pos == 2 and d.b.pos == 2
    assert [f.name for f in d.fields] == ["rax"]
    assert (d.fields[0].a_after, d.fields[0].b_after) == (0xAA55, 0x1235)
    assert "0000:7C04" in text and "mov ax, 0x1234" in text and "EAX" in text
    assert "A icount 1" in text      # context before it


def test_initial_differences_are_left_out_until_they_agree() -> None:
    # RBX differs from the start; an instruction that keeps it different is no divergence,
    # one that makes it agree brings it back into the comparison.
    a = [rec(0, 0x7C00, rbx=1), rec(1, 0x7C02, rbx=2), rec(2, 0x7C04, rbx=5),
         rec(3, 0x7C06, rbx=6), rec(4, 0x7C08, rbx=6)]
    b = [rec(0, 0x7C00, rbx=7), rec(1, 0x7C02, rbx=8), rec(2, 0x7C04, rbx=5),
         rec(3, 0x7C06, rbx=6), rec(4, 0x7C08, rbx=7)]
    res, text = run(a, b)
    assert res.initial == [("rbx", 1, 7)]
    assert "initial state differs" in text and "EBX 00000001/00000007" in text
    d = res.divergence
    assert d is not None and d.a.pos == 3 and [f.name for f in d.fields] == ["rbx"]


def test_values_that_already_differ() -> None:
    # ESP differs from the start (SeaBIOS 6F04, bootdbg 6F00): pushes change it by the same
    # amount (no divergence, though the borrow changes a byte that agreed); `mov sp, 0x7c00`
    # makes it agree; a push of another size then diverges.
    a = [rec(0, 0x7C00, sp=0x6F00), rec(1, 0x7C02, sp=0x6EFE), rec(2, 0x7C04, sp=0x6EFC),
         rec(3, 0x7C06, sp=0x7C00), rec(4, 0x7C08, sp=0x7BFE), rec(5, 0x7C0A, sp=0x7BFE)]
    b = [rec(0, 0x7C00, sp=0x6F04), rec(1, 0x7C02, sp=0x6F02), rec(2, 0x7C04, sp=0x6F00),
         rec(3, 0x7C06, sp=0x7C00), rec(4, 0x7C08, sp=0x7BFC), rec(5, 0x7C0A, sp=0x7BFC)]
    res, _ = run(a, b)
    d = res.divergence
    assert d is not None and d.a.pos == 3 and [f.name for f in d.fields] == ["rsp"]
    assert not d.already
    # BX differs in its low byte; an instruction changing it by different amounts so that the
    # high byte (which agreed) differs is a divergence, reported with the earlier difference.
    a = [rec(0, 0x7C00, rbx=0x0101), rec(1, 0x7C02, rbx=0x0202), rec(2, 0x7C04, rbx=0x0202)]
    b = [rec(0, 0x7C00, rbx=0x0100), rec(1, 0x7C02, rbx=0x0300), rec(2, 0x7C04, rbx=0x0300)]
    res, text = run(a, b)
    d = res.divergence
    assert d is not None and d.a.pos == 0 and [f.name for f in d.fields] == ["rbx"]
    assert d.already == [("rbx", 0x101, 0x100, "since the start")]
    assert "already different before it: EBX 00000101/00000100 (since the start)" in text


def test_flags_are_compared_bit_by_bit() -> None:
    # IF differs from the start; ZF set by both: no divergence.  Then CF only in A: divergence.
    a = [rec(0, 0x7C00, rflags=0x202), rec(1, 0x7C02, rflags=0x242), rec(2, 0x7C04, rflags=0x243)]
    b = [rec(0, 0x7C00, rflags=0x002), rec(1, 0x7C02, rflags=0x042), rec(2, 0x7C04, rflags=0x042)]
    res, text = run(a, b)
    d = res.divergence
    assert d is not None and d.a.pos == 1 and [f.name for f in d.fields] == ["rflags"]
    assert "EFLAGS" in text


def _int13(results_b: int, *, b_filtered: bool = False) -> tuple[list[Rec], list[Rec]]:
    """`int 0x13` at 7C10 into the BIOS; A's firmware (a stub and its iret) leaves AX=3, B's
    (longer, other code) leaves AX=results_b.  Then `mov bx, ax` at 7C12."""
    a = [rec(0, 0x7C00), rec(1, 0x7C10, "int 0x13"),
         rec(2, 0xE3FE, "nop", cs=0xF000, sp=0x7BFA), rec(3, 0xE3FF, "iret", cs=0xF000,
                                                       sp=0x7BFA, rax=3),
         rec(4, 0x7C12, "mov bx, ax", rax=3), rec(5, 0x7C14, rax=3, rbx=3)]
    if b_filtered:              # a QEMU log made with -dfilter: the BIOS is not in it
        fw = []
    else:
        fw = [rec(2, 0xE3FE, cs=0xF000, sp=0x7BFA), rec(3, 0x1000, cs=0xF000, sp=0x7B00),
              # a callback into guest code on a deeper stack (INT 1Ch hook): still firmware work
              rec(4, 0x9000, sp=0x7AF0), rec(5, 0x1010, cs=0xF000, sp=0x7B00),
              rec(6, 0xE3FF, "iret", cs=0xF000, sp=0x7BFA, rax=results_b)]
    n = len(fw) + 2
    b = [rec(0, 0x7C00), rec(1, 0x7C10, "int 0x13"), *fw,
         rec(n, 0x7C12, "mov bx, ax", rax=results_b),
         rec(n + 1, 0x7C14, rax=results_b, rbx=results_b)]
    return a, b


@pytest.mark.parametrize("filtered", [False, True])
def test_bios_work_is_skipped_and_its_results_noted(filtered: bool) -> None:
    a, b = _int13(3, b_filtered=filtered)
    res, text = run(a, b)
    assert res.same, text
    assert len(res.bios) == 1 and "int 0x13 at 0000:7C10" in res.bios[0]
    a, b = _int13(5, b_filtered=filtered)
    res, text = run(a, b)
    # AX differs after the call: noted, not a divergence; `mov bx, ax` then copies it
    assert "then differ in EAX 00000003/00000005" in text
    d = res.divergence
    assert d is not None and d.a.text == "mov bx, ax" and [f.name for f in d.fields] == ["rbx"]
    assert "after the firmware work of int 0x13" in text


def test_hardware_interrupt_on_one_side_after_an_instruction() -> None:
    a = straight(4)
    b = [rec(0, 0x7C00), rec(1, 0xFEA5, cs=0xF000, sp=0x7BFA),
         rec(2, 0xFEA6, cs=0xF000, sp=0x7BFA), rec(3, 0x7C02), rec(4, 0x7C04), rec(5, 0x7C06)]
    res, text = run(a, b)
    assert res.same, text
    assert res.bios == ["B: interrupt after nop at 0000:7C00 (A icount 0)"]


def test_interrupt_before_an_instruction_and_reissued_records() -> None:
    # QEMU logs a block, leaves it before its instruction runs to take an interrupt (the
    # firmware handler in an unfiltered log, nothing in a filtered one), then logs it again.
    a = straight(4)
    unfiltered = [rec(0, 0x7C00), rec(1, 0x7C02), rec(2, 0xFEA5, cs=0xF000, sp=0x7BFA),
                  rec(3, 0x7C02), rec(4, 0x7C04), rec(5, 0x7C06)]
    filtered = [rec(0, 0x7C00), rec(1, 0x7C02), rec(2, 0x7C02), rec(3, 0x7C04),
                rec(4, 0x7C06)]
    for b in (unfiltered, filtered):
        res, text = run(a, b)
        assert res.same, text
        assert res.compared == 3


def test_record_reissued_in_the_middle_of_a_rep_instruction() -> None:
    # QEMU's I/O thread kicked the CPU between two iterations of a REP MOVSB: the iteration is
    # logged twice with the same state (the address does not tell, the count does).
    def movsb(pos: int, left: int, eip: int = 0x7C00) -> Rec:
        return rec(pos, eip, "rep movsb", rcx=left)
    a = [movsb(0, 3), movsb(1, 2), movsb(2, 1), movsb(3, 0, 0x7C02)]
    b = [movsb(0, 3), movsb(1, 2), movsb(2, 2), movsb(3, 1), movsb(4, 0, 0x7C02)]
    res, text = run(a, b)
    assert res.same, text
    assert res.compared == 3
    # Both sides staying put (a jump to itself) is compared as it is.
    spin = [rec(i, 0x7C00, "jmp 0x7c00") for i in range(3)] + [rec(3, 0x7C02)]
    res, text = run(spin, spin)
    assert res.same and res.compared == 3, text


def test_control_flow_divergence() -> None:
    a = straight(4)
    b = [rec(0, 0x7C00), rec(1, 0x7C02, "jz 0x7c20"), rec(2, 0x7C20), rec(3, 0x7C22)]
    res, text = run(a, b)
    d = res.divergence
    assert d is not None and d.kind == "control" and d.a.pos == 1
    assert "next instruction is at 0000:7C04 in A and at 0000:7C20 in B" in text
    assert "then B:" in text and "0000:7C20" in text


def test_one_side_stopping_for_good_is_a_divergence_a_cut_log_is_not() -> None:
    a = [*straight(3), rec(3, 0x7C06, final="halted")]
    b = straight(6)
    res, text = run(a, b, end_a="halted", end_b="end of log")
    assert res.divergence is not None and res.divergence.kind == "end"
    assert "A stops (halted) while B executes on" in text
    res, text = run(a, b, end_a="budget", end_b="end of log")
    assert res.same and "A ends first (budget)" in text


def test_no_start_instruction() -> None:
    from debugger.trace.diff import DiffError

    with pytest.raises(DiffError, match="no instruction at 0000:7C00"):
        run([rec(0, 0x7D00)], straight(2))


# -- two recordings through the CLI --------------------------------------------------------------
def bootdbg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "debugger", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_two_recordings_of_the_same_run(tmp_path: Path) -> None:
    img = ROOT / "images" / "hello.img"     # BIOS services (INT 10h, 13h) on both sides
    for n in ("a", "b"):
        r = bootdbg("record", str(img), "-o", str(tmp_path / f"{n}.bdt"))
        assert r.returncode == 0, r.stderr
    r = bootdbg("trace", "diff", str(tmp_path / "a.bdt"), str(tmp_path / "b.bdt"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no divergence" in r.stdout and "initial state differs" not in r.stdout


def test_cli_two_recordings_bios_results_differ(tmp_path: Path) -> None:
    """Two recordings run the same firmware: a BIOS call that returns differently (INT 13h
    reading other sector contents) diverges at the call, by the memory it wrote."""
    data = bytearray((ROOT / "images" / "hello.img").read_bytes())
    data[0x3F0] ^= 0xFF                      # in sector 2, which the boot sector loads
    (tmp_path / "other.img").write_bytes(bytes(data))
    for n, img in (("a", ROOT / "images" / "hello.img"), ("b", tmp_path / "other.img")):
        r = bootdbg("record", str(img), "-o", str(tmp_path / f"{n}.bdt"), "--max-insns", "100")
        assert r.returncode == 0, r.stderr
    r = bootdbg("trace", "diff", str(tmp_path / "a.bdt"), str(tmp_path / "b.bdt"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "writes memory differently" in r.stdout and "int 0x13" in r.stdout
    assert "firmware" not in r.stdout


@pytest.mark.parametrize("content, message", [
    (b"", "no QEMU register dump"),
    (b"hello\nworld\n", "no QEMU register dump"),
    (b"\x00\x01\x02garbage", "binary data"),
    (b"EAX=00000000 EBX=00000000\nESI=00000000 EDI=00000000 EBP=00000000 ESP=00007c00\n"
     b"EIP=00007c00 EFL=00000002\nCS =zzzz\n" * 2, "line 4: malformed QEMU segment line"),
])
def test_cli_bad_qemu_logs(tmp_path: Path, content: bytes, message: str) -> None:
    log = tmp_path / "q.log"
    log.write_bytes(content)
    r = bootdbg("trace", "diff", str(log), str(QEMU_SAMPLE))
    assert r.returncode == 2, r.stdout
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_cli_bad_arguments(tmp_path: Path) -> None:
    for args, msg in ((["--start", "zz"], "expected SEL:OFF"),
                      (["--context", "-1"], "at least 0")):
        r = bootdbg("trace", "diff", str(QEMU_SAMPLE), str(QEMU_SAMPLE), *args)
        assert r.returncode == 2 and msg in r.stderr
    r = bootdbg("trace", "diff", str(tmp_path / "nope.log"), str(QEMU_SAMPLE))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_cli_qemu_log_against_itself() -> None:
    r = bootdbg("trace", "diff", str(QEMU_SAMPLE), str(QEMU_SAMPLE))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no divergence: 17 instructions compared" in r.stdout


# -- the QEMU log reader ------------------------------------------------------------------------
def test_qemu_log_records(tmp_path: Path) -> None:
    recs = list(QemuLog(QEMU_SAMPLE).records())
    assert len(recs) == 18
    assert (recs[0].cs, recs[0].eip, recs[0].linear, recs[0].sp) == (0, 0x7C00, 0x7C00, 0x6F04)
    f = recs[-1].fields()
    assert f["cr0"] & 1 == 0 and f["ds.limit"] == 0xFFFFFFFF     # unreal mode at the end
    assert f["cs.ar"] == 0x9B and f["ldtr.ar"] == 0x82
    # the fast field reader agrees with the dump importer's parse_record on every record
    from debugger.trace.fields import flatten_partial

    for path in (QEMU_SAMPLE, QEMU_LONG, QEMU_LONG.with_name("qemu-long64-movss.txt")):
        for r in QemuLog(path).records():
            assert r.fields() == flatten_partial(r.kw()), (path, r.line)
    # ... except that TR is read as bootdbg reads QEMU's own cache: busy once loaded (QEMU
    # keeps the available type LTR found; hardware reports busy)
    ltr = QEMU_SAMPLE.read_text().replace("TR =0000 00000000 0000ffff 00008b00",
                                          "TR =0018 00009000 00000067 00008900")
    p = tmp_path / "ltr.log"
    p.write_text(ltr)
    r = next(QemuLog(p).records())
    assert r.kw()["tr"].ar == 0x89 and r.fields()["tr.ar"] == 0x8B
    long64 = list(QemuLog(QEMU_LONG).records())
    assert len(long64) == 1 and long64[0].bits == 64 and long64[0].linear == 0x7C7B
    assert long64[0].fields()["rax"] == 0x1122334455667788


def test_qemu_log_cut_short_and_in_asm(tmp_path: Path) -> None:
    text = QEMU_SAMPLE.read_text()
    log = tmp_path / "cut.log"
    log.write_text(text[: text.rindex("EIP=") + 7])      # cut inside the last record's EIP
    ql = QemuLog(log)
    assert len(list(ql.records())) == 17
    assert ql.notes and "cut short" in ql.notes[0]
    asm = tmp_path / "asm.log"
    asm.write_text("----------------\nIN: \n0x00007c00:  ea 05 7c 00 00           ljmpw    "
                   "$0x0:$0x7c05\n\n" + text)
    recs = list(QemuLog(asm).records())
    assert recs[0].code == bytes.fromhex("ea057c0000") and recs[1].code is None
    # -d int prints a header line and the state at each interrupt: not an instruction
    second = "EAX=" + text.split("EAX=")[2]
    intr = tmp_path / "int.log"
    intr.write_text(text.replace(second, second + "check_exception old: 0xffffffff new 0xd\n"
                                 "     1: v=0d e=0018 i=0 cpl=0 IP=0008:00007f5a pc=00007f5a "
                                 "SP=0010:00006fe8 env->regs[R_EAX]=00000000\n" + second, 1))
    assert [r.line for r in QemuLog(intr).records()][:3] == [1, 19, 57]
    assert len(list(QemuLog(intr).records())) == 18


def _mutations(text: str):
    lines = text.splitlines(keepends=True)
    return hs.one_of(
        hs.binary(max_size=2000).map(lambda b: b.decode("latin-1")),
        hs.text(max_size=2000),
        hs.integers(0, len(text)).map(lambda n: text[:n]),
        hs.tuples(hs.integers(0, len(lines) - 1), hs.integers(0, len(lines) - 1)).map(
            lambda ij: "".join(lines[:ij[0]] + lines[ij[1]:])),
        hs.tuples(hs.integers(0, len(text) - 1), hs.characters()).map(
            lambda ic: text[:ic[0]] + ic[1] + text[ic[0] + 1:]),
        hs.tuples(hs.integers(0, len(lines) - 1), hs.text(max_size=80)).map(
            lambda it: "".join(lines[:it[0]] + [it[1] + "\n"] + lines[it[0]:])),
    )


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hs.data())
def test_qemu_log_reader_fuzz(tmp_path: Path, data) -> None:
    """Whatever the bytes, reading a log either works or raises QemuLogError (one line)."""
    text = data.draw(_mutations(QEMU_SAMPLE.read_text()))
    log = tmp_path / "fuzz.log"
    log.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        for r in QemuLog(log).records():
            r.fields()
            r.state()
    except QemuLogError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("image", ["hello", "vm86"])
def test_plain_and_full_recordings_of_one_run_compare_equal(image: str, tmp_path: Path) -> None:
    """Issue 14 item 14: a plain recording (re-executed: a BIOS service is an event before the
    stub's tail) and a --full one (the service folded into the instruction at the stub) of the
    same run are the same instructions with the same effects, in both orders."""
    img = ROOT / "images" / f"{image}.img"
    paths = []
    for extra in ([], ["--full"]):
        out = tmp_path / f"{image}{''.join(extra)}.bdt"
        r = subprocess.run([sys.executable, "-m", "debugger", "record", str(img), "-o", str(out),
                            *extra], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        paths.append(str(out))
    for a, b in (paths, paths[::-1]):
        r = subprocess.run([sys.executable, "-m", "debugger", "trace", "diff", a, b],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and "no divergence" in r.stdout, r.stdout + r.stderr
