"""SYSLINUX's PCI tools (syslinux-common) see the PCI bus: pcitest.c32 lists the three functions
of bus 0, and hdt.c32 (Hardware Detection Tool) builds its menus and shows "PCI Devices( 3)".
With no configuration space, pcitest said "no devices found!" and hdt never drew its menu (the
run spent its budget)."""
from __future__ import annotations

import pytest

from tests.machine.stock_images import syslinux_com32_image
from tests.machine.test_stock_loaders import run_until

pytestmark = pytest.mark.slow


def test_pcitest_lists_the_bus():
    r = run_until(syslinux_com32_image("pcitest"), "boot: ", 100_000_000)
    assert "stopped: serial" in r.stdout, r.stdout[-2000:] + r.stderr
    for ident, where in (("8086:1237", "00:00.0"), ("8086:7000", "00:01.0"),
                         ("8086:7010", "00:01.1")):
        assert ident in r.stdout and f"PCI bus position : {where}" in r.stdout
    assert "no devices found" not in r.stdout


def test_hdt_reaches_its_menu_with_the_pci_devices():
    r = run_until(syslinux_com32_image("hdt"), "Devices( 3)", 200_000_000)
    assert "serial output reached 'Devices( 3)'" in r.stdout, r.stdout[-2000:] + r.stderr
    assert r.returncode == 0
