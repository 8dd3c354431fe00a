"""The BIOS area read-only where the PAM registers say (debugger/machine/rom.py), as under QEMU 7.2.

`images/rom/romprobe.asm` writes every 2 KiB of C0000h-FFFFFh, words across the 16 KiB
boundaries, string stores, pushes, XCHG and LOCK RMW into F000:E000, then unlocks and relocks the
F segment through PAM0; `images/rom/romprobe.expect` is what it printed under qemu-system-i386
7.2 + SeaBIOS (`-machine pc -nodefaults`).  bootdbg must print the same; with QEMU installed the
probe is run there again.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from unicorn import UC_PROT_ALL, UC_PROT_EXEC, UC_PROT_READ

from debugger.machine import rom
from debugger.machine.disk import disk_from_bytes
from debugger.machine.pc import Machine
from tests.conformance import runner
from tests.conftest import assemble, nasm_available

SOURCES = runner.ROOT / "images" / "rom"
EXPECT = SOURCES / "romprobe.expect"


@pytest.fixture(scope="module")
def probe() -> Path:
    if not nasm_available():
        pytest.skip("nasm is not installed")
    return runner.build("romprobe", SOURCES)


def test_probe_prints_what_qemu_printed(probe: Path) -> None:
    assert runner.run_bootdbg(probe) == EXPECT.read_text()


def test_probe_same_under_qemu_now(probe: Path) -> None:
    theirs = runner.run_qemu(probe, machine="pc")
    if theirs is None:
        pytest.skip("qemu-system-i386 is not installed")
    assert theirs == EXPECT.read_text()


def test_read_only_ranges_follow_the_pam_nibbles() -> None:
    seabios = bytes([0x10, 0x11, 0x11, 0x11, 0x11, 0x11, 0x33])
    assert rom.read_only_ranges(seabios) == [(0xC3000, 0xE8000), (0xF0000, 0x100000)]
    assert rom.read_only_ranges(bytes([0x30] + [0x33] * 6)) == []
    # (PAM1's high nibble only: C4000h-C7FFFh; PAM6 low: E8000h-EBFFFh; F segment read-only)
    assert rom.read_only_ranges(bytes([0x10, 0x13, 0x33, 0x33, 0x33, 0x33, 0x31])) == \
        [(0xC4000, 0xC8000), (0xE8000, 0xEC000), (0xF0000, 0x100000)]


STORES = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [0x80*4], handler
    mov word [0x80*4+2], 0
    mov ax, 0xf000
    mov es, ax
    mov dword [es:0xe000], 0x11223344      ; a store
    mov di, 0xe010
    mov cx, 4
    mov ax, 0x5aa5
    rep stosw                               ; a string store
    mov ax, 0xefff
    mov fs, ax
    mov word [fs:0xf], 0x7788               ; EFFFFh (RAM) and F0000h (ROM)
    mov ax, 0xf000                          ; an INT with the stack in the ROM: the pushes
    mov ss, ax                              ; are dropped (bootdbg delivers them)
    mov sp, 0xe028
    int 0x80
handler:
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov bx, 0x8000                          ; INT 13h reading a sector into F000:8000
    mov ax, 0x0201
    mov cx, 0x0001
    xor dx, dx
    int 0x13
    setc [0x600]
    hlt
"""


def _machine(source: str) -> Machine:
    return Machine([disk_from_bytes(assemble(source), "t", boot=True)])


def test_guest_stores_into_the_bios_area_are_dropped() -> None:
    m = _machine(STORES)
    before = m.mem.read_phys(0xE0000, 0x20000)
    assert m.run(10_000).reason == "halted"
    after = m.mem.read_phys(0xE0000, 0x20000)
    changed = [0xE0000 + i for i in range(len(before)) if before[i] != after[i]]
    assert changed == [0xEFFFF]                             # the RAM half of the straddling word
    assert after[0xFFFF] == 0x88
    assert m.mem.read_u(0x600, 1) == 0                      # INT 13h itself succeeded
    assert m.rom.dropped > 0


def test_the_debugger_can_still_write_there(tmp_path: Path) -> None:
    from debugger.engine.session import Session

    img = tmp_path / "t.img"
    img.write_bytes(assemble("hlt"))
    s = Session(img)
    s.write_memory(0xFE000, b"\x42\x43", "physical")          # the debugger's memory write
    s.write_memory(0xF000 * 16 + 0xE002, b"\x44")               # linear
    assert s.read_memory(0xFE000, 3, "physical") == b"\x42\x43\x44"
    s.machine.mem.write_phys(0xFE000, b"\x45", guest=True)     # a store made for the guest
    assert s.read_memory(0xFE000, 3, "physical") == b"\x42\x43\x44"


def _perms(m: Machine, addr: int) -> int:
    return next(p for lo, hi, p in m.uc.mem_regions() if lo <= addr <= hi)


UNLOCK = """
    cli
    mov eax, 0x80000058
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfd
    mov al, 0x30
    out dx, al                              ; PAM0 = 30h: the F segment is RAM
    mov ax, 0xf000
    mov es, ax
    mov byte [es:0xe000], 0x42
    hlt
"""


def test_pam_writes_and_checkpoints_change_the_protection() -> None:
    m = _machine(UNLOCK)
    ro = UC_PROT_READ | UC_PROT_EXEC
    locked = m.checkpoint()
    assert _perms(m, 0xFE000) == ro and m.rom.read_only(0xFE000)
    assert m.run(100).reason == "halted"
    assert m.mem.read_u(0xFE000, 1) == 0x42 and _perms(m, 0xFE000) == UC_PROT_ALL
    unlocked = m.checkpoint()
    m.devices.pci.config_write(0, 0x59, 1, 0x10)            # locked again from outside
    m.mutations += 1                                        # (a change made outside a run)
    assert _perms(m, 0xFE000) == ro and m.rom.mask.value >> 0x3E & 1
    m.restore(unlocked)
    assert _perms(m, 0xFE000) == UC_PROT_ALL and not m.rom.mask.value >> 0x3E & 1
    m.restore(locked)
    assert _perms(m, 0xFE000) == ro and m.mem.read_u(0xFE000, 1) != 0x42
    m.devices.pci.config_write(0, 0x59, 1, 0x30)
    assert _perms(m, 0xFE000) == UC_PROT_ALL
    m.reset()                                               # power-on: SeaBIOS's PAM again
    assert _perms(m, 0xFE000) == ro


def test_the_python_journal_follows_a_pam_change_after_a_checkpoint(monkeypatch) -> None:
    """The fallback journal (BOOTDBG_NO_NATIVE=1) leaves RAM where it is, so page protection
    can change under a checkpoint (Unicorn's own snapshots refused it: the run stopped)."""
    from debugger.machine import pagejournal

    monkeypatch.setattr(pagejournal, "_lib", lambda: None)   # the Python page journal
    m = _machine(UNLOCK)
    assert not m.memsnap.native
    locked = m.checkpoint()
    before = m.mem.read_u(0xFE000, 1)
    assert m.run(100).reason == "halted"
    assert m.mem.read_u(0xFE000, 1) == 0x42 and _perms(m, 0xFE000) == UC_PROT_ALL
    m.restore(locked)
    ro = UC_PROT_READ | UC_PROT_EXEC
    assert _perms(m, 0xFE000) == ro and m.mem.read_u(0xFE000, 1) == before


def test_record_and_replay_verify_a_guest_storing_into_the_rom(tmp_path: Path) -> None:
    """The full trace records only the bytes that land (native and Python hooks), and the
    recording replays identically."""
    from debugger.engine.session import Session
    from debugger.trace.fulltrace import FullTrace
    from debugger.trace.ftrecord import native_available
    from debugger.trace.recorder import Recorder
    from debugger.trace.replay import Replay

    img = tmp_path / "rom.img"
    img.write_bytes(assemble(STORES))
    for native in ([True, False] if native_available() else [False]):
        out = tmp_path / f"{native}.bdt"
        s = Session(img)
        rec = Recorder(s, out, full=True, native=native)
        assert s.cont(max_insns=10_000).kind == "halted"
        rec.close()
        writes = [w for step in FullTrace.open(out).steps() for w in step.writes]
        assert (0xEFFFF, b"\x88") in writes
        assert not [w for w in writes if 0xF0000 <= w[0] < 0x100000]
        assert Replay(out).verify().ok
