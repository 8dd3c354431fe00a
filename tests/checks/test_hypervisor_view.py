"""Each profile judges the state its hypervisor would load, not the guest's raw registers
(issue 13 item 16): a value the hypervisor shadows or transforms -- EFER.LME hidden until the
guest enables paging, CR0.PE/PG forced on without unrestricted guest, the hypervisor's own page
tables (CR3) while the guest has paging off, real mode run as vm86 -- must not make a state
"un-enterable" that the hypervisor enters every day.  One test per case, and a memtest86+-like
boot (PAE and CR3, then EFER.LME with paging off, then paging) caught as a user would."""
from __future__ import annotations

import subprocess
import sys

import pytest

from debugger.checks import PROFILES, build_guest, evaluate
from tests.checks.states import LMA, LME, PAE, PM, REAL
from tests.conftest import assemble

PG = 1 << 31
# (a guest's own CR4 has no VMXE: the VMX profiles force it, and on AMD it is reserved)
UNPAGED = PM.replace(cr0=PM.cr0 & ~PG, cr4=0)
REAL0 = REAL.replace(cr4=0)


def _ok_everywhere(cpu) -> None:
    for name in PROFILES:
        v = evaluate(cpu, name)
        assert v.ok, (name, v.rules())


@pytest.mark.parametrize("cr4", [0, PAE], ids=["nopae", "pae"])
def test_lme_set_with_paging_off_in_protected_mode(cr4: int) -> None:
    """memtest86+ (ia32 and x64) sets EFER.LME before CR0.PG: KVM and Xen keep LME out of the
    EFER they load until LMA (vmx_set_efer / update_transition_efer), so no MSR.EFER.LME."""
    cpu = UNPAGED.replace(cr4=cr4, efer=LME)
    _ok_everywhere(cpu)
    g = build_guest(cpu, "vmx").cpu
    assert g.pg and not g.efer & LME and not g.efer & LMA


def test_lme_set_in_real_mode() -> None:
    """The same in real mode (run as vm86 with paging forced on)."""
    cpu = REAL0.replace(efer=LME)
    _ok_everywhere(cpu)
    assert not build_guest(cpu, "vmx").cpu.efer & LME


def test_long_mode_keeps_lme() -> None:
    """Once the guest has LMA, the loaded EFER is the guest's own."""
    from tests.checks.states import L64

    assert build_guest(L64, "vmx").cpu.efer & (LME | LMA) == LME | LMA
    assert evaluate(L64, "vmx").ok


@pytest.mark.parametrize("cpu", [UNPAGED, REAL0], ids=["pm", "real"])
def test_guest_cr3_is_not_loaded_while_its_paging_is_off(cpu) -> None:
    """With the guest's paging off the hypervisor runs it on its own identity map (KVM's EPT
    identity page table): whatever the guest left in CR3 (here bits above MAXPHYADDR, as a
    64-bit CR3 left behind when leaving long mode may hold) is not what VM entry checks."""
    cpu = cpu.replace(cr3=0xFFF0_0000_0000_1000)
    g = build_guest(cpu, "vmx").cpu
    assert g.pg and g.cr3 != cpu.cr3
    assert evaluate(cpu, "vmx").ok, evaluate(cpu, "vmx").rules()
    # The guest's CR3 is what VMX with unrestricted guest loads: there the rule still applies.
    assert not evaluate(cpu, "vmx-ug").ok and "CR.CR3.RSVD" in evaluate(cpu, "vmx-ug").rules()


def test_paged_guest_cr3_is_judged() -> None:
    """With the guest's own paging on, its CR3 is the one loaded and checked."""
    cpu = PM.replace(cr3=0xFFF0_0000_0000_1000)
    assert "CR.CR3.RSVD" in evaluate(cpu, "vmx").rules()


MEMTEST_LIKE = open(__file__.replace(".py", ".asm")).read()


@pytest.mark.parametrize("profile", list(PROFILES))
def test_memtest_like_boot_is_enterable_at_every_instruction(profile: str, tmp_path) -> None:
    img = tmp_path / "mt.img"
    img.write_bytes(assemble(MEMTEST_LIKE))
    r = subprocess.run([sys.executable, "-m", "debugger", str(img), "--batch",
                        "-ex", f"catch vmx-invalid {profile}", "-ex", "continue"],
                       capture_output=True, text=True, timeout=120)
    assert "vmx-invalid" not in r.stdout.replace(f"catch vmx-invalid {profile}", ""), r.stdout
    assert "halted" in r.stdout and "after hlt" in r.stdout, r.stdout + r.stderr
