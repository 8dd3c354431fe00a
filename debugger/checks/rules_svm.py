"""AMD VMRUN consistency checks on the guest state (vmx-guest-state.md section 6; APM Vol. 2
15.5.1).  The control-area checks (VMRUN intercept, ASID, bitmap addresses, event injection,
nested CR3) concern the hypervisor's own VMCB fields, which a hypervisor builds valid; they are
not judged here.  VMRUN does not check segment descriptors, RFLAGS or segment bases.
"""
from __future__ import annotations

from debugger.checks.engine import hi32
from debugger.checks.rules_cr import PAT_TYPES
from debugger.checks.verdict import Rule
from debugger.cpustate import CR0_PE, CR0_PG, CR4_PAE, EFER_LMA, EFER_LME, EFER_SVME

__all__ = ["RULES"]

SRC = "AMD APM Vol. 2 15.5.1"
CR0_NW, CR0_CD = 1 << 29, 1 << 30
CR4_MBZ = 0xFFFFFFFFFE08E000
EFER_MBZ = 0xFFFFFFFFFFFF0200


def _lm(x) -> bool:
    return bool(x.c.efer & EFER_LME and x.c.cr0 & CR0_PG)


RULES: tuple[Rule, ...] = (
    Rule("SVM.EFER.SVME", SRC, "efer", "efer.svme", "EFER.SVME must be 1 in the guest EFER.",
         lambda x: bool(x.c.efer & EFER_SVME), lambda x: x.c.efer >> 12 & 1, 1),
    Rule("SVM.CR0.CDNW", SRC, "cr0", "cr0", "CR0.NW=1 with CR0.CD=0 is illegal.",
         lambda x: not (x.c.cr0 & CR0_NW and not x.c.cr0 & CR0_CD), lambda x: x.c.cr0,
         "not NW=1 with CD=0"),
    Rule("SVM.CR0.HI", SRC, "cr0", "cr0", "CR0 bits 63:32 must be 0.",
         lambda x: not hi32(x.c.cr0), lambda x: x.c.cr0, "< 2^32"),
    Rule("SVM.CR3.MBZ", SRC, "cr3", "cr3", "In long mode CR3 bits 63:52 must be 0.",
         lambda x: not x.c.cr3 >> 52, lambda x: x.c.cr3, "bits 63:52 = 0", applies=_lm),
    Rule("SVM.CR4.MBZ", SRC, "cr4", "cr4",
         "CR4 may not set a must-be-zero bit (VMXE, SMXE, 15, 19, 31:25, and 63:32).",
         lambda x: not x.c.cr4 & CR4_MBZ, lambda x: x.c.cr4, f"no bits of {CR4_MBZ:#x}"),
    Rule("SVM.DR6.HI", SRC, "dr6", "dr6", "DR6 bits 63:32 must be 0.",
         lambda x: not hi32(x.c.dr6), lambda x: x.c.dr6, "< 2^32"),
    Rule("SVM.DR7.HI", SRC, "dr7", "dr7", "DR7 bits 63:32 must be 0.",
         lambda x: not hi32(x.c.dr7), lambda x: x.c.dr7, "< 2^32"),
    Rule("SVM.EFER.MBZ", SRC, "efer", "efer", "EFER bits 63:16 and 9 must be 0.",
         lambda x: not x.c.efer & EFER_MBZ, lambda x: x.c.efer, "bits 63:16, 9 = 0"),
    Rule("SVM.EFER.NOLM", SRC, "efer", "efer.lme",
         "EFER.LME and LMA must be 0 on a processor without long mode.",
         lambda x: not x.c.efer & (EFER_LME | EFER_LMA), lambda x: x.c.efer, "LME=LMA=0",
         applies=lambda x: not x.p.long_mode),
    Rule("SVM.LM.PAE", SRC, "cr4", "cr4.pae", "EFER.LME=1 with CR0.PG=1 requires CR4.PAE=1.",
         lambda x: bool(x.c.cr4 & CR4_PAE), lambda x: x.c.cr4 >> 5 & 1, 1, applies=_lm),
    Rule("SVM.LM.PE", SRC, "cr0", "cr0.pe", "EFER.LME=1 with CR0.PG=1 requires CR0.PE=1.",
         lambda x: bool(x.c.cr0 & CR0_PE), lambda x: x.c.cr0 & 1, 1, applies=_lm),
    Rule("SVM.LM.CS_LD", SRC, "cs", "cs.ar.db",
         "In long mode a CS with L=1 may not also have D=1.",
         lambda x: not (x.c.cs.ar & 0x2000 and x.c.cs.ar & 0x4000), lambda x: x.c.cs.db, 0,
         applies=lambda x: _lm(x) and bool(x.c.cr4 & CR4_PAE)),
    Rule("SVM.NP.GPAT", SRC, "pat", "pat",
         "With nested paging the guest PAT must hold valid memory types (0, 1, 4, 5, 6, 7).",
         lambda x: all((x.c.pat >> (8 * i)) & 0xFF in PAT_TYPES for i in range(8)),
         lambda x: x.c.pat, "bytes in {0,1,4,5,6,7}", needs=("pat",)),
)
