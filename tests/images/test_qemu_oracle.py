"""The demo images under QEMU (the oracle): serial transcripts equal images/<name>.expect,
the final CPU state is halted at the image's final HLT, and every STATE block an image prints
about itself agrees with QEMU's `info registers`."""
from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
IMAGES = HERE.parents[1] / "images"


def _load(path: Path, name: str):
    """Import a module by file path (works from any working directory)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


harness = _load(HERE / "qemu_harness.py", "bootdbg_tests_qemu_harness")
build = _load(IMAGES / "build.py", "bootdbg_images_build")
QemuError = harness.QemuError
halt_address = harness.halt_address
parse_info_registers = harness.parse_info_registers
qemu_binary = harness.qemu_binary
qemu_final_state = harness.qemu_final_state

# images that need a 64-bit CPU (qemu-system-i386 cannot run long mode)
LONG_MODE = {"longmode"}
# images that use BIOS services after the hand-off, so print no STATE block
BIOS_USERS = {"hello", "int13hook-hd"}


NAMES = build.image_names()


@pytest.fixture(scope="session")
def built_images():
    if shutil.which("nasm") is None:
        pytest.skip("nasm not installed")
    before = {n: (IMAGES / f"{n}.img").read_bytes() if (IMAGES / f"{n}.img").exists() else b""
              for n in NAMES}
    build.build_all()
    return before


def test_every_image_has_source_expect_and_readme_entry():
    readme = (IMAGES / "README.md").read_text()
    assert NAMES, "no images/*.asm found"
    for n in NAMES:
        assert (IMAGES / f"{n}.expect").is_file(), f"{n}.expect missing"
        assert f"`{n}`" in readme, f"{n} not described in images/README.md"


def test_build_is_idempotent_and_committed_images_are_current(built_images):
    for n in NAMES:
        data = (IMAGES / f"{n}.img").read_bytes()
        assert data == built_images[n], f"{n}.img was out of date with {n}.asm"
        size = 1048576 if n.endswith("-hd") else 1474560
        assert len(data) == size
        assert data[510:512] == b"\x55\xaa"
        assert halt_address(data) is not None, f"{n}: no BDBGHALT marker"
    mtimes = {n: (IMAGES / f"{n}.img").stat().st_mtime_ns for n in NAMES}
    build.build_all()
    assert mtimes == {n: (IMAGES / f"{n}.img").stat().st_mtime_ns for n in NAMES}


def test_build_reports_a_bad_source_in_one_line(tmp_path, monkeypatch):
    if shutil.which("nasm") is None:
        pytest.skip("nasm not installed")
    (tmp_path / "broken.asm").write_text("bits 16\n  mov ax, \n")
    monkeypatch.setattr(build, "IMAGES_DIR", tmp_path)
    with pytest.raises(build.BuildError, match=r"^broken: nasm failed: .*error"):
        build.build("broken")
    assert not (tmp_path / "broken.img").exists()


_STATE = re.compile(
    r"STATE\n"
    r"[ER]AX=(?P<AX>[0-9A-F]+) [ER]BX=(?P<BX>[0-9A-F]+) [ER]CX=(?P<CX>[0-9A-F]+) "
    r"[ER]DX=(?P<DX>[0-9A-F]+) [ER]SI=(?P<SI>[0-9A-F]+) [ER]DI=(?P<DI>[0-9A-F]+) "
    r"[ER]BP=(?P<BP>[0-9A-F]+) [ER]SP=(?P<SP>[0-9A-F]+)\n"
    r"CS=(?P<CS>[0-9A-F]{4}) DS=(?P<DS>[0-9A-F]{4}) ES=(?P<ES>[0-9A-F]{4}) "
    r"SS=(?P<SS>[0-9A-F]{4}) FS=(?P<FS>[0-9A-F]{4}) GS=(?P<GS>[0-9A-F]{4})\n"
    r"CR0=(?P<CR0>[0-9A-F]{8}) EFL=(?P<EFL>[0-9A-F]{8})\n"
    r"DONE\n$")


def _drive(name: str) -> str:
    return "hda" if name.endswith("-hd") else "fda"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_image_under_qemu(name, built_images):
    long_mode = name in LONG_MODE
    if qemu_binary(long_mode) is None:
        pytest.skip(f"{'qemu-system-x86_64' if long_mode else 'qemu-system-i386'} not installed")
    img = IMAGES / f"{name}.img"
    try:
        serial, info = qemu_final_state(img, _drive(name), long_mode=long_mode, timeout=60)
    except QemuError as e:
        pytest.fail(str(e))
    expect = (IMAGES / f"{name}.expect").read_text(encoding="latin-1")
    assert serial == expect

    regs = parse_info_registers(info)
    assert regs.get("HLT") == 1, "CPU not halted after the final line"
    cs_base = regs["CS"][1]  # type: ignore[index]
    ip = regs["RIP"] if "RIP" in regs else regs["EIP"]
    # QEMU reports the instruction pointer after the HLT it is halted on
    assert cs_base + ip == halt_address(img.read_bytes()) + 1  # type: ignore[operator]
    efl = regs["RFL"] if "RFL" in regs else regs["EFL"]
    assert not efl & 0x200, "halted with IF=1"  # type: ignore[operator]

    m = _STATE.search(serial)
    if name in BIOS_USERS:
        assert m is None
        return
    assert m, "no STATE block before DONE"
    w = "R" if long_mode else "E"
    for r in ("AX", "BX", "CX", "DX", "SI", "DI", "BP", "SP"):
        assert int(m[r], 16) == regs[w + r], f"{w}{r} printed {m[r]} but QEMU has {regs[w + r]:x}"
    for s in ("CS", "DS", "ES", "SS", "FS", "GS"):
        assert int(m[s], 16) == regs[s][0], f"{s} selector"  # type: ignore[index]
    assert int(m["CR0"], 16) == regs["CR0"]
    assert int(m["EFL"], 16) == efl
