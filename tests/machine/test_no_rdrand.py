"""The machine is a CPU without RDRAND, as QEMU 7.2's default models are.

Unicorn's model advertised RDRAND and answered it from the host's random source: the Debian
kernel's decompressor seeds KASLR with it, so every boot ran a different number of instructions
to "Linux version" (213,354,751 / 213,524,091 / 213,553,492 in three runs), and a recording
could not replay it.  CPUID.1:ECX[30] is now clear and RDRAND is #UD, so runs are repeatable.
"""
from __future__ import annotations

import pytest

from tests.conftest import boot_machine, nasm_available

CPUID_THEN_RDRAND = """
    cli
    xor ax, ax
    mov ds, ax
    mov word [6 * 4], ud_handler    ; #UD -> ud_handler
    mov word [6 * 4 + 2], 0
    mov eax, 1
    cpuid
    mov [0x600], ecx
    mov dword [0x604], 0
    rdrand eax
    mov [0x608], eax
    hlt
ud_handler:
    mov dword [0x604], 1            ; RDRAND faulted
    hlt
"""


@pytest.mark.parametrize("native", ["0", "1"])
def test_cpuid_has_no_rdrand_and_rdrand_is_undefined(native, monkeypatch):
    if not nasm_available():
        pytest.skip("nasm is not installed")
    monkeypatch.setenv("BOOTDBG_NO_NATIVE", native)
    m = boot_machine(CPUID_THEN_RDRAND)
    assert m.run(1000).reason == "halted"
    assert not m.mem.read_u(0x600, 4) & (1 << 30)           # CPUID.1:ECX.RDRAND
    assert m.mem.read_u(0x604, 4) == 1                      # RDRAND: #UD


def test_two_runs_of_a_guest_that_asks_for_randomness_agree():
    if not nasm_available():
        pytest.skip("nasm is not installed")
    ends = []
    for _ in range(2):
        m = boot_machine(CPUID_THEN_RDRAND)
        r = m.run(1000)
        ends.append((r.icount, repr(m.state()), m.mem.read_phys(0x600, 16)))
    assert ends[0] == ends[1]
