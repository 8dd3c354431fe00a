"""`info pci` at the prompt lists the PCI functions as QEMU's monitor does, from the configuration
space as the guest left it."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import assemble

# moves the IDE controller's bus-master registers (BAR4) to C040h
MOVE_BAR4 = """
    mov dx, 0xcf8
    mov eax, 0x80000920
    out dx, eax
    mov dx, 0xcfc
    mov eax, 0xc041
    out dx, eax
    cli
    hlt
"""


def test_info_pci_at_the_prompt(tmp_path):
    img = tmp_path / "bar.img"
    img.write_bytes(assemble(MOVE_BAR4))
    r = subprocess.run([sys.executable, "-m", "debugger", "session", str(img), "--batch",
                        "-ex", "info pci", "-ex", "c", "-ex", "info pci", "-ex", "info pci x"],
                       capture_output=True, text=True, timeout=120)
    out = r.stdout
    first, _, second = out.partition("BAR4: I/O at 0xc000 [0xc00f].")
    assert second, out + r.stderr
    assert "  Bus  0, device   0, function 0:\n    Host bridge: PCI device 8086:1237\n" \
           "      PCI subsystem 1af4:1100\n" in first
    assert "  Bus  0, device   1, function 0:\n    ISA bridge: PCI device 8086:7000\n" in first
    assert "  Bus  0, device   1, function 1:\n    IDE controller: PCI device 8086:7010\n" in first
    assert "BAR4: I/O at 0xc040 [0xc04f]." in second
    assert "info pci takes no arguments" in r.stdout + r.stderr
    assert "Traceback" not in r.stderr
