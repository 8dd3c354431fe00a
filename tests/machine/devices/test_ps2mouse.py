"""The PS/2 mouse behind the 8042 and the BIOS's INT 15h AH=C2h / INT 74h services.

`images/ps2/mouseprobe.asm` talks to the mouse through the controller (identify, status, reset,
the IntelliMouse rate sequence, remote mode and polling, wrap mode, an unknown command, the
auxiliary interface disabled), then calls every INT 15h C2h function (good and bad inputs),
installs a handler and feeds a packet through the auxiliary output buffer (D3h) so that IRQ 12
reaches it; `images/ps2/mouseprobe.expect` is what it printed under qemu-system-i386 7.2
(`-machine pc,acpi=off -nodefaults`, SeaBIOS 1.16).  When QEMU is installed the probe runs under
it again, so the recording cannot drift.
"""
from __future__ import annotations

import shutil

import pytest

from debugger.machine.devices.ps2mouse import Ps2Mouse
from tests.conformance import runner

SOURCES = runner.ROOT / "images" / "ps2"
EXPECT = SOURCES / "mouseprobe.expect"


@pytest.fixture(scope="module")
def probe():
    if shutil.which("nasm") is None:
        pytest.skip("nasm is not installed")
    return runner.build("mouseprobe", SOURCES)


def test_probe_prints_what_qemu_printed(probe):
    ours = runner.run_bootdbg(probe)
    assert ours.endswith("END\n"), ours
    assert ours == EXPECT.read_text()
    assert "pkt st=0009 x=0005 y=00FB z=0000\nhandler calls=01\n" in ours


def test_probe_same_under_qemu_now(probe):
    theirs = runner.run_qemu(probe, machine="pc,acpi=off")
    if theirs is None:
        pytest.skip("qemu-system-i386 is not installed")
    assert theirs == EXPECT.read_text()


def test_mouse_state_survives_a_checkpoint(probe):
    from debugger.machine import snapshot
    from debugger.machine.disk import disk_from_bytes
    from debugger.machine.pc import Machine

    m = Machine([disk_from_bytes(probe.read_bytes(), probe.name, boot=True)])
    m.run(2000)
    cp = snapshot.take(m)
    before = dict(vars(m.devices.kbc.mouse))
    m.run(20_000_000)                              # the probe's commands, to its END
    assert m.devices.debugcon.output.endswith(b"END\n")
    assert dict(vars(m.devices.kbc.mouse)) != before
    snapshot.restore(m, cp)
    assert dict(vars(m.devices.kbc.mouse)) == before


def test_queue_holds_sixteen_bytes():
    mouse = Ps2Mouse()
    for _ in range(10):
        mouse.write(0xE9)                          # 4 bytes each
    assert len(mouse.queue) == 16
