"""The PCI configuration space (ports CF8h/CFCh) and the PCI BIOS (INT 1Ah AX=B1xxh).

`images/pci/pciprobe.asm` dumps every function of bus 0 through mechanism #1, exercises byte,
word and dword accesses, read-only and write-one-to-clear bits, BAR sizing, absent functions,
and calls every PCI BIOS function; `images/pci/pciprobe.expect` is what it printed under
qemu-system-i386 7.2 (`-machine pc,acpi=off -nodefaults`, SeaBIOS 1.16).  bootdbg must print
the same; when QEMU is installed the probe is run under it again, so the recording cannot drift.
"""
from __future__ import annotations

import shutil

import pytest

from debugger.machine import snapshot
from debugger.machine.devices.pci import PciHost
from debugger.machine.disk import disk_from_bytes
from debugger.machine.pc import Machine
from tests.conformance import runner
from tests.conftest import assemble

PCI_SOURCES = runner.ROOT / "images" / "pci"
EXPECT = PCI_SOURCES / "pciprobe.expect"


@pytest.fixture(scope="module")
def probe():
    if shutil.which("nasm") is None:
        pytest.skip("nasm is not installed")
    return runner.build("pciprobe", PCI_SOURCES)


def test_probe_prints_what_qemu_printed(probe):
    ours = runner.run_bootdbg(probe)
    assert ours.endswith("END\n"), ours
    assert ours == EXPECT.read_text()
    # (the three functions are there, and nothing else)
    assert [line for line in ours.splitlines() if line.endswith(":")] == \
        ["0000:", "0008:", "0009:"]


def test_probe_same_under_qemu_now(probe):
    theirs = runner.run_qemu(probe, machine="pc,acpi=off")
    if theirs is None:
        pytest.skip("qemu-system-i386 is not installed")
    assert theirs == EXPECT.read_text()


def test_unaligned_access_is_split_into_bytes():
    pci = PciHost()
    pci.io_write(0xCF8, 4, 0x80000900)                 # 00:01.1, register 0
    assert pci.io_read(0xCFC, 4) == 0x70108086
    assert pci.io_read(0xCFD, 2) == 0x1080             # bytes 1-2 of the dword
    assert pci.io_read(0xCFF, 2) == 0xFF70             # CFFh, then D00h (no device)
    assert pci.io_read(0xCF9, 2) == 0x0000             # RCR, then CFAh (address bits 0-7)
    pci.io_write(0xCF8, 4, 0x8000093C)
    pci.io_write(0xCFB, 2, 0x0E0B)                     # CFBh (ignored), interrupt line
    assert pci.io_read(0xCF8, 4) == 0x8000093C
    assert pci.io_read(0xCFC, 4) == 0x0000000E
    pci.io_write(0xCFD, 2, 0x0505)                     # interrupt pin and 3Eh: read-only
    assert pci.io_read(0xCFC, 4) == 0x0000000E


def test_address_register_and_data_window():
    pci = PciHost()
    pci.io_write(0xCF8, 4, 0x80000008)
    pci.io_write(0xCF8, 2, 0x1234)                     # ignored
    pci.io_write(0xCF8, 1, 0x56)                       # ignored
    assert pci.io_read(0xCF8, 4) == 0x80000008
    assert pci.io_read(0xCFE, 2) == 0x0600             # host bridge class
    assert pci.io_read(0xCFC, 1) == 0x02               # revision
    pci.io_write(0xCF8, 4, 0x00000008)                 # enable bit clear
    assert pci.io_read(0xCFC, 4) == 0xFFFFFFFF
    for absent in (0x80002800, 0x80010000, 0x80000100):   # 00:05.0, bus 1, 00:00.1
        pci.io_write(0xCF8, 4, absent)
        assert pci.io_read(0xCFC, 4) == 0xFFFFFFFF
        pci.io_write(0xCFC, 4, 0)                      # dropped, no error


def test_reset_control_register():
    resets = []
    pci = PciHost(on_reset=lambda: resets.append(1))
    pci.io_write(0xCF9, 1, 0x02)
    assert pci.io_read(0xCF9, 1) == 0x02 and not resets
    pci.io_write(0xCF9, 1, 0x06)
    assert resets == [1]


WRITE_LINE = """
    mov dx, 0xcf8
    mov eax, 0x8000093c
    out dx, eax
    mov dx, 0xcfc
    mov al, 0x0b
    out dx, al
    cli
    hlt
"""


def test_writes_are_undone_by_restoring_a_checkpoint_and_by_reset():
    m = Machine([disk_from_bytes(assemble(WRITE_LINE), "t", boot=True)])
    pci = m.devices.pci
    cp = snapshot.take(m)
    m.run(100)
    assert pci.config_read(0x09, 0x3C, 1) == 0x0B and pci.address == 0x8000093C
    snapshot.restore(m, cp)
    assert pci.config_read(0x09, 0x3C, 1) == 0x00 and pci.address == 0
    m.run(100)
    assert pci.config_read(0x09, 0x3C, 1) == 0x0B
    pci.reset()
    assert pci.config_read(0x09, 0x3C, 1) == 0x00


BIOS_CHECK = """
    xor ax, ax
    mov ds, ax
    mov ax, 0xb101
    xor edx, edx
    int 0x1a
    setc al
    out 0xe9, al
    mov al, ah
    out 0xe9, al
    mov eax, edx
    out 0xe9, al
    cli
    hlt
"""


def test_pci_bios_absent_once_the_ports_belong_to_something_else():
    m = Machine([disk_from_bytes(assemble(BIOS_CHECK), "t", boot=True)])
    m.run(1000)
    assert m.devices.debugcon.output == bytes([0, 0, 0x50])    # CF clear, AH=0, 'P'
    m = Machine([disk_from_bytes(assemble(BIOS_CHECK), "t", boot=True)])
    m.bus.detach(m.devices.pci)
    m.run(1000)
    assert m.devices.debugcon.output == bytes([1, 0x86, 0])   # CF set, AH=86h


def test_a_guest_resets_the_machine_through_port_cf9h():
    reset = Machine([disk_from_bytes(assemble("mov dx, 0xcf9\nmov al, 6\nout dx, al\ncli\nhlt\n"),
                                     "t", boot=True)]).run(1000)
    assert reset.reason == "reset" and reset.icount == 4
    kept = Machine([disk_from_bytes(assemble("mov dx, 0xcf9\nmov al, 2\nout dx, al\ncli\nhlt\n"),
                                    "t", boot=True)])
    assert kept.run(1000).reason == "halted" and kept.devices.pci.rcr == 0x02
