"""The verdict renderer: violations grouped by register, diagnosis, not-modelled list."""
from __future__ import annotations

import io
import subprocess
import sys

from debugger.checks import evaluate, evaluate_guest
from debugger.checks.diagnosis import diagnose
from debugger.checks.guest import Controls, GuestState
from debugger.cpustate import CpuState, Segment
from debugger.ui.check_report import render_verdict
from debugger.ui.theme import make_console


def render(v) -> str:
    buf = io.StringIO()
    make_console(buf, width=160, force_terminal=False).print(
        render_verdict(v, diagnosis=diagnose(v), source="x.txt (qemu dump)"))
    return buf.getvalue()


def test_groups_by_register_and_explains():
    unreal = CpuState(ds=Segment(0, 0, 0xFFFFFFFF, 0xC093), es=Segment(0, 0, 0xFFFFFFFF, 0xC093))
    out = render(evaluate(unreal, "vmx"))
    assert "profile vmx: NOT enterable: 4 violations" in out
    assert out.index("ES ") < out.index("DS ")           # VMCS register order
    assert out.count("\nES ") == 1 and "SEG.V86.DS.LIMIT" in out and "0xffffffff" in out
    assert "must emulate" in " ".join(out.split()) and "DS has limit 0xffffffff" in out


def test_enterable_and_not_modelled():
    g = GuestState(CpuState(cr0=0x80000031, cr4=0x2020, rflags=2,
                            cs=Segment(8, 0, 0xFFFFFFFF, 0xC09B),
                            ss=Segment(0x10, 0, 0xFFFFFFFF, 0xC093)), Controls())
    out = render(evaluate_guest(g))
    assert "enterable (no violations)" in out and "Not judged" in out and "PDPTE.RSVD" in out


def test_checks_import_no_unicorn_or_rich():
    code = ("import sys; import debugger.checks, debugger.checks.dumps; "
            "print(any(m.split('.')[0] in ('unicorn', 'rich') for m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "False", r.stderr
