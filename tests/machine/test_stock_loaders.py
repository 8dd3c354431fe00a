"""Stock boot loaders from Debian packages boot under `bootdbg run` to their serial prompt."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.machine.stock_images import grub_image, syslinux_image

pytestmark = pytest.mark.slow


def run_until(img, text: str, budget: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "debugger", "run", str(img), "--until-serial", text,
         "--max-insns", str(budget), "--no-state"],
        capture_output=True, text=True, timeout=600)


def test_syslinux_mbr_chains_to_fat_partition_and_reaches_boot_prompt():
    r = run_until(syslinux_image(), "boot: ", 400_000_000)
    assert "SYSLINUX" in r.stdout, r.stdout[-2000:] + r.stderr
    assert "boot: " in r.stdout
    assert "stopped: serial" in r.stdout
    assert r.returncode == 0


def test_grub_boot_img_and_core_img_reach_rescue_prompt():
    r = run_until(grub_image(), "grub rescue> ", 400_000_000)
    assert "bootdbg grub test" in r.stdout, r.stdout[-2000:] + r.stderr
    assert "grub rescue> " in r.stdout
    assert r.returncode == 0
