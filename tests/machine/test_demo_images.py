"""Every demo image under `bootdbg run`, as a user runs it: the transcript, the final state
against QEMU as the oracle, determinism, and bad inputs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import assemble

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"
DEMOS = sorted(p.stem for p in IMAGES.glob("*.expect") if not p.stem.startswith("bench"))
# Images that make no BIOS call after their loader and end by printing their own state.
NO_BIOS = ("pmode", "unreal", "vm86", "longmode", "exceptions", "bench-real", "bench-pm32",
           "bench-switch")


def bootdbg(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "debugger", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


def drive_args(name: str) -> list[str]:
    return ["--drive", "hda"] if name.endswith("-hd") else []


def transcript(stdout: str) -> str:
    return stdout.split("--- stopped:", 1)[0]


@pytest.mark.parametrize("name", DEMOS)
def test_demo_image_transcript(name):
    r = bootdbg("run", str(IMAGES / f"{name}.img"), *drive_args(name), "--no-state")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert transcript(r.stdout) == (IMAGES / f"{name}.expect").read_text()
    assert "--- stopped: halted: HLT with interrupts disabled" in r.stdout
    assert "Traceback" not in r.stderr


def _final_state(name: str):
    from debugger.machine.disk import open_disk
    from debugger.machine.pc import Machine

    kind = "hd" if name.endswith("-hd") else None
    m = Machine([open_disk(IMAGES / f"{name}.img", kind=kind, boot=True)])
    r = m.run(2_000_000_000)
    assert r.reason == "halted", r
    return m


@pytest.mark.slow
@pytest.mark.parametrize("name", NO_BIOS)
def test_final_state_equals_qemu(name):
    from tests.images.qemu_harness import QemuError, qemu_binary, qemu_final_state

    from debugger.checks.dumps import parse_dump

    long_mode = name == "longmode"
    if qemu_binary(long_mode) is None:
        pytest.skip("QEMU (Debian package qemu-system-x86) is not installed")
    try:
        serial, info = qemu_final_state(IMAGES / f"{name}.img", "fda", long_mode=long_mode,
                                        timeout=120)
    except QemuError as exc:
        pytest.fail(f"QEMU did not finish: {exc}")
    m = _final_state(name)
    assert m.serial.decode("latin-1") == serial
    ours, theirs = m.state(), parse_dump(info).cpu
    names = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "rip", "rflags",
             "cr0", "cr2", "cr3", "cr4", "efer", "gdtr", "idtr", "a20"]
    if long_mode:
        names += [f"r{i}" for i in range(8, 16)]
    for n in names:
        assert getattr(ours, n) == getattr(theirs, n), n
    for n in ("es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"):
        a, b = getattr(ours, n), getattr(theirs, n)
        if n == "tr" and b.type in (1, 9):        # QEMU keeps 'available' after LTR
            b = type(b)(b.selector, b.base, b.limit, b.ar | 2)
        assert (a.selector, a.base, a.limit, a.ar) == (b.selector, b.base, b.limit, b.ar), n
    assert ours.activity.name == "HLT"


def test_two_runs_give_the_same_transcript_and_state_hash():
    a, b = _final_state("exceptions"), _final_state("exceptions")
    assert a.serial == b.serial and a.icount == b.icount
    assert a.state().digest() == b.state().digest()


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_bytes(b"\x90" * 100), "only 100 bytes"),
    (lambda p: p.write_bytes(bytes(1474560)), "no boot signature"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_bytes(os.urandom(1 << 20)), "boot signature"),
])
def test_bad_images_one_clear_line_exit_2(tmp_path, make, message):
    p = tmp_path / "bad.img"
    make(p)
    r = bootdbg("run", str(p))
    assert r.returncode == 2
    assert message in r.stderr and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr


def test_missing_file(tmp_path):
    r = bootdbg("run", str(tmp_path / "nope.img"))
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("seed", [1, 2, 3, 5])
def test_random_megabyte_with_a_signature_runs_and_ends_cleanly(tmp_path, seed):
    import random

    data = bytearray(random.Random(seed).randbytes(1 << 20))
    data[510:512] = b"\x55\xaa"
    p = tmp_path / "rand.img"
    p.write_bytes(bytes(data))
    r = bootdbg("run", str(p), "--max-insns", "2000000", "--no-state", "--quiet")
    assert r.returncode in (0, 1), r.stdout[-2000:] + r.stderr
    assert "--- stopped:" in r.stdout and "Traceback" not in r.stderr + r.stdout


def test_jump_into_unmapped_memory_is_a_clear_stop(tmp_path):
    img = tmp_path / "far.img"
    img.write_bytes(assemble("""
    mov eax, cr0
    or al, 1
    lgdt [gdtr]
    mov cr0, eax
    jmp 0x08:pm
bits 32
pm: jmp 0xf0000000
align 8
gdt: dq 0
    dq 0x00cf9a000000ffff
gdtr: dw 15
    dd gdt
"""))
    r = bootdbg("run", str(img), "--no-state")
    assert r.returncode == 1
    assert "--- stopped: unmapped: fetch of unmapped physical address 0xf0000000" in r.stdout


def test_guest_that_loops_forever_ends_at_the_budget(tmp_path):
    img = tmp_path / "loop.img"
    img.write_bytes(assemble("l: jmp l\n"))
    r = bootdbg("run", str(img), "--max-insns", "1000000")
    assert r.returncode == 0
    assert "--- stopped: budget: instruction budget of 1000000 used up" in r.stdout
    assert "mode real" in r.stdout and "CS    0000" in r.stdout       # the final state


def test_triple_fault_exit_code_and_report(tmp_path):
    img = tmp_path / "tf.img"
    img.write_bytes(assemble("lidt [idtr]\nint 3\nidtr: dw 0\ndd 0\n"))
    r = bootdbg("run", str(img))
    assert r.returncode == 1
    assert "--- stopped: triple-fault: triple fault" in r.stdout
    assert "activity shutdown" in r.stdout


def test_run_json_free_state_is_plain_text_when_piped():
    r = bootdbg("run", "--max-insns", "100")
    assert r.returncode == 0 and "\x1b[" not in r.stdout
    assert json.dumps(r.stdout)     # printable
