"""Fixed differential examples: each mismatch the harness found (and the issue's defects), run
against the reference in every engine configuration -- in this process, and once more in a
process where the native helpers and fast slices are switched off (BOOTDBG_NO_NATIVE=1,
BOOTDBG_NO_FAST_SLICES=1: the pure-Python fallbacks)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.invariant.spec import Cmd, Spec
from tests.invariant.test_differential import check_scenario

ROOT = Path(__file__).resolve().parents[2]

CASES = {
    # issue 13 defect 1: stepi N ran past N with a transition catchpoint armed
    "stepi-n-catch-mode": ("hello", 0, [Spec("catch", ("mode",))], [Cmd("stepi", 2)]),
    "stepi-n-catch-sreg": ("hello", 0, [Spec("catch", ("sreg",))], [Cmd("stepi", 2)]),
    "stepi-n-vmx-invalid": ("hello", 0, [Spec("catch", ("vmx-invalid", "kvm"))],
                            [Cmd("stepi", 2), Cmd("stepi", 3)]),
    # issue 13 defect 2: catch bios VEC AH compared AH after the service
    "bios-ah": ("vm86", 0, [Spec("catch", ("bios", 0x13, 0x02))],
                [Cmd("continue", 3000), Cmd("finish")]),
    # finish at a BIOS stub returns to the caller
    "finish-at-bios-stub": ("hello", 46, [], [Cmd("finish")]),
    # a stop made by the step from a BIOS stub names the stub's IRET, not its INT3
    "stop-after-bios-service": ("hello", 46, [Spec("catch", ("sreg", "cs"))],
                                [Cmd("stepi", 1), Cmd("stepi", 50)]),
    # vmx-invalid and vmx-valid on one profile: each catchpoint follows the verdict itself
    "vmx-invalid-and-valid": ("pmode", 0, [Spec("catch", ("vmx-invalid", "vmx")),
                                           Spec("catch", ("vmx-valid", "vmx"))],
                              [Cmd("continue", 3000)] * 4),
    # two I/O watchpoints on one port: the second is considered when the first's value
    # condition is false
    "io-two-watches": ("hello", 0, [Spec("io", (0x3F8, 0x3FF, "both", "$value == 0x12345")),
                                    Spec("io", (0x3F8, 0x3FF, "both", None))],
                       [Cmd("continue", 3000)]),
    # two register watches changing at one instruction: both take the new value
    "regwatch-same-insn": ("pmode", 0, [Spec("regwatch", ("cr0",)), Spec("regwatch", ("cr0.pe",))],
                           [Cmd("continue", 3000)] * 3),
    # an instruction that reloads several segment registers is one hit of `catch sreg`
    "sreg-ignore-once-per-insn": ("vm86", 0, [Spec("catch", ("sreg",), None, 1)],
                                  [Cmd("continue", 3000)] * 3),
    # a write that starts below a watched byte and covers it (push edx onto a watched byte)
    "watch-overlapping-write": ("hello", 2638, [Spec("watch", (0x7BE8, 1, "write", "linear"))],
                                [Cmd("continue", 2412)]),
    # `until` twice to one address: the internal stop it sets does not outlive it
    "until-twice": ("pmode", 368, [], [Cmd("stepi", 1), Cmd("until", "*0x7cbd"),
                                       Cmd("until", "*0x7cbd"), Cmd("stepi", 50)]),
    # nexti at a BIOS stub (a budget ended there): the service and its IRET, back at the caller
    "nexti-at-bios-stub": ("hello", 320, [Spec("break", ("07cb:0006", "segoff"),
                                               "byte[0x7c00] == 0xfa")],
                           [Cmd("continue", 632), Cmd("continue", 16), Cmd("nexti")]),
    # an event catchpoint found by a fast run names the instruction, as stepping does
    "fast-event-instruction": ("hello", 443, [Spec("catch", ("int",), None, 5)],
                               [Cmd("nexti"), Cmd("continue", 2), Cmd("continue", 972),
                                Cmd("continue", 2)]),
    # points armed in one mapping, run in another (paging_guest): a linear breakpoint whose
    # address ran under another mapping before (its translated block had no exit), a physical
    # breakpoint found through an alias and resumed from, watchpoints across CR3/PDE/A20
    "linear-bp-other-mapping": ("paging-remap", 98, [Spec("break", ("*0x407cb3", "linear"))],
                                [Cmd("stepi", 40), Cmd("stepi", 40)]),
    "pb-resume-at-alias": ("paging-remap", 0, [Spec("break", ("0x7cac", "physical"))],
                           [Cmd("continue", 3000), Cmd("stepi", 40), Cmd("continue", 3000)]),
    "watch-linear-remapped": ("paging-remap", 0, [Spec("watch", (0x407000, 4, "write",
                                                                 "linear"))],
                              [Cmd("continue", 3000)] * 8),
    "watch-a20-wrap": ("paging-remap", 0, [Spec("watch", (0x108000, 2, "access", "linear"))],
                       [Cmd("continue", 3000)] * 5),
    # a budget ending on a breakpoint is a breakpoint stop
    "budget-on-breakpoint": ("longmode", 27, [Spec("break", ("07cb:0003", "segoff"))],
                             [Cmd("continue", 27)]),
    # finish names IRETD (32-bit) when it enters vm86
    "finish-iretd": ("vm86", 1140, [], [Cmd("finish")]),
    # catch mode/vm86/cpl watch only the translation-block flags (transitions.TB_FLAG_KINDS):
    # every change still stops at its instruction, through segment reloads in real, unreal,
    # 16-bit protected and vm86 code
    "tb-flags-vm86": ("vm86", 0, [Spec("catch", ("mode",)), Spec("catch", ("vm86",))],
                      [Cmd("continue", 4000)] * 5),
    "tb-flags-unreal": ("unreal", 0, [Spec("catch", ("mode",)), Spec("catch", ("cpl",))],
                        [Cmd("continue", 1500)] * 3),
    "tb-flags-long": ("longmode", 0, [Spec("catch", ("mode",))], [Cmd("continue", 1500)] * 3),
    # deliveries made inside the run by the native interrupt hook (machine/intdeliver.py):
    # breakpoints at the handlers they enter (vm86 #GP to ring 0, a PM exception)
    "native-delivery-vm86": ("vm86", 2000, [Spec("break", ("*0x7e9c", "linear")),
                                            Spec("break", ("*0x7ebb", "linear"))],
                             [Cmd("continue", 4000), Cmd("stepi", 3), Cmd("continue", 6000)]),
    "native-delivery-exceptions": ("exceptions", 1000, [Spec("break", ("*0x7eeb", "linear")),
                                                        Spec("break", ("*0x7eef", "linear"))],
                                   [Cmd("continue", 3000), Cmd("continue", 3000),
                                    Cmd("nexti")]),
    "tb-flags-pmode": ("pmode", 0, [Spec("catch", ("cpl",)), Spec("catch", ("vm86",)),
                                    Spec("catch", ("mode",))], [Cmd("continue", 4000)] * 4),
    # the machine's own writes: a BIOS service filling a watched buffer, the INT 13h delivery
    # pushing its frame onto a watched stack
    "watch-bios-buffer": ("hello", 40, [Spec("watch", (0x7E00, 2, "write", "linear"))],
                          [Cmd("continue", 3000), Cmd("continue", 3000)]),
    # a breakpoint right after MOV SS: the stop keeps the MOV-SS shadow (Unicorn's exit block
    # imitates HLT, whose helper cleared it; machine/shadow.py)
    "bp-after-mov-ss": ("paging-remap", 0, [Spec("break", ("*0x7c07", "linear"))],
                        [Cmd("stepi", 40), Cmd("stepi", 40)]),
    # a BIOS service and its stub's IRET are one step: `until` (a breakpoint) at the IRET does
    # not stop between them, where stepping never stops either (two states at one icount)
    "until-bios-stub-iret": ("hello", 4, [Spec("break", ("07c0:000a", "segoff"))],
                             [Cmd("until", "*0xff066")]),
    "break-bios-stub-iret": ("hello", 0, [Spec("break", ("*0xff066", "linear"))],
                             [Cmd("continue", 3000), Cmd("stepi", 3)]),
    # `finish` across an INT 13h with a point armed: the reference took the BIOS call's event
    # stop (before the service) for the stub's IRET
    "finish-across-bios-call": ("taskgate", 0, [Spec("break", ("07c0:0000", "segoff"))],
                                [Cmd("finish")]),
    # a breakpoint right after the final HLT (IF=0): the CPU halts there for ever; the exit
    # block's halt was taken for the exit's, and the CPU ran on past the HLT
    "break-after-final-hlt": ("paging-remap", 0, [Spec("break", ("*0x7d2e", "linear"))],
                              [Cmd("continue", 3000), Cmd("continue", 3000), Cmd("stepi", 2)]),
    "until-after-final-hlt": ("hello", 4000, [], [Cmd("until", "*0x7eb0"), Cmd("stepi", 1)]),
    # a breakpoint stop right after a far jump into 16-bit protected mode: its instruction is
    # decoded with the new code size (it was the jump's, 32-bit)
    "break-insn-bits-after-far-jmp": ("paging-remap", 0,
                                      [Spec("watch", (4222976, 1, "write", "linear")),
                                       Spec("break", ("*0x7c40", "linear"))],
                                      [Cmd("stepi", 40), Cmd("stepi", 40)]),
    "watch-delivery-push": ("hello", 45, [Spec("watch", (0x7BFE, 2, "write", "physical"))],
                            [Cmd("continue", 3000), Cmd("stepi", 3)]),
    # seed 11: the mapping changed at the block holding a physical breakpoint's byte (the fast
    # run stopped there for the remap, then there again for the new alias, a run that made no
    # progress): taken for a breakpoint where the run started, which is run -- the stop went by
    "pb-alias-after-remap": ("paging-remap", 68,
                             [Spec("break", ("0x7cdf", "physical")),
                              Spec("watch", (4222976, 1, "read", "linear"))],
                             [Cmd("stepi", 40)] * 3),
    # seed 11: `finish` at a BIOS call's INT with a catchpoint armed (the 'bios' event stops
    # the step at the stub before its service: nothing ran) ended at the stub, under time travel
    "finish-bios-event-step": ("taskjmp", 0, [Spec("break", ("07c0:0000", "segoff")),
                                              Spec("catch", ("vm86",))],
                               [Cmd("finish")], True),
    # seed 12: stepi N whose last instruction is a HLT: the command ends there, the CPU waiting
    # (IF=0: the next command finds it halted; IF=1: the next command waits, takes the IRQ and
    # runs on).  With nothing armed the step went on to wait and deliver (or to say halted);
    # with any event catchpoint armed it ended at the HLT.
    "stepi-ends-at-final-hlt": ("paging-remap", 113, [],
                                [Cmd("stepi", 1), Cmd("continue", 52), Cmd("stepi", 7),
                                 Cmd("stepi", 1)], True),
    "stepi-ends-at-hlt-sti-shadow": ("hlt-wait", 16, [], [Cmd("stepi", 2), Cmd("stepi", 1),
                                                          Cmd("stepi", 4)]),
    "stepi-ends-at-hlt-irq-armed": ("hlt-wait", 16, [Spec("catch", ("irq",))],
                                    [Cmd("stepi", 2), Cmd("stepi", 1), Cmd("stepi", 7)]),
    "continue-budget-at-hlt": ("hlt-wait", 0, [], [Cmd("continue", 18), Cmd("continue", 30)]),
    # seed 13: a step from a CPU waiting in HLT waits, takes the IRQ and runs the handler's
    # first instruction; its stop named the instruction after the HLT (the PC the step
    # started at).  The wait and the delivery are a step of their own, as in the reference; a
    # watchpoint on the stack the delivery pushes onto stops there, with no instruction.
    "step-from-hlt-names-the-handler": ("hlt-wait", 0, [Spec("watch", (1792, 1, "write",
                                                                    "linear"))],
                                        [Cmd("stepi", 50)], True),
    "step-from-hlt-delivery-push": ("hlt-wait", 16, [Spec("watch", (0x6FFA, 6, "write",
                                                                  "linear"))],
                                    [Cmd("stepi", 2), Cmd("stepi", 1), Cmd("stepi", 3)]),
    # seed 14
    "until-after-finish-vm86": ("vm86", 1276, [], [Cmd("finish"), Cmd("stepi", 1),
                                                   Cmd("until", "*0x8191")], True),
    "reverse-stepi-across-hlt-wake": ("hlt-wait", 16349, [Spec("catch", ("vm86",))],
                                      [Cmd("continue", 1751), Cmd("reverse-stepi", 2)], True),
    # seed 12: a physical breakpoint's alias found by the block hook with `catch mode` armed
    # (which watches only the translation-block flags): the full signature was compared with the
    # narrow one, the chunk was taken for a transition that was not there and ran again from
    # the same place, for ever
    "pb-alias-narrow-signature": ("longmode", 8218, [
        Spec("break", ("*0x7ff0", "linear"), "eax & 1", 5),
        Spec("break", ("0x8000", "physical"), None, 2),
        Spec("catch", ("mode",), "eax & 1", 0)], [Cmd("continue", 2742)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_case_matches_the_reference(case):
    check_scenario(*CASES[case])


def test_pure_python_fallbacks_match_the_reference():
    env = dict(os.environ, BOOTDBG_NO_NATIVE="1", BOOTDBG_NO_FAST_SLICES="1",
               PYTHONPATH=str(ROOT))
    code = ("from tests.invariant.test_regressions import CASES, check_scenario\n"
            "from debugger.engine import runner\n"
            "assert not runner.native_available()\n"
            "for c in sorted(CASES): check_scenario(*CASES[c])\n"
            "print('ok', len(CASES))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=600)
    assert out.returncode == 0 and "ok" in out.stdout, out.stdout + out.stderr
