"""State transitions that catchpoints stop on, computed from the CPU state before and after.

A cheap raw signature of the watched state (control registers, EFER, the segment caches, the
descriptor-table registers, EFLAGS.VM/IOPL, A20, CPL) is compared first; only when it differs are
the two `CpuState` records built and compared field by field.

Definitions (documented for users in the README):
- `sreg`: a segment register's selector or hidden cache changed (a reload with identical contents
  is not a change and does not stop);
- `cr`: CR0, CR3, CR4 or EFER changed value;
- `dtr`: GDTR, IDTR, LDTR or TR changed;
- `mode`: the derived mode (real, unreal, pm16, pm32, vm86, compat, long) changed;
- `cpl`, `a20`, `vm86` (EFLAGS.VM 0->1 is enter, 1->0 is leave);
- `vmx-invalid` / `vmx-valid`: the checker's verdict under a profile went from enterable to not
  enterable (or back).  Evaluated whenever the signature changes.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

from debugger.cpustate import SEGMENT_NAMES, CpuState
from debugger.engine.stops import Change
from debugger.machine import uc_layout as L
from debugger.machine.uc_layout import Engine

_at = ctypes.string_at
_u32, _u64 = ctypes.c_uint32, ctypes.c_uint64

__all__ = ["signature", "Transition", "diff_states", "TRANSITION_KINDS", "TB_FLAG_KINDS",
           "MODE_HFLAGS", "mode_signature"]

TRANSITION_KINDS = ("vm86", "mode", "cpl", "vmx-invalid", "vmx-valid", "dtr", "sreg", "cr", "a20")

_HF_CPL = 3
# The catch kinds whose state is all in QEMU's translation-block flags: the mode (CR0.PE, CS.D,
# CS.L, EFER.LMA; real vs unreal changes only with PE, as a real-mode segment load keeps the
# limits), EFLAGS.VM and the CPL.  Such state changes only where a block ends (a block is
# translated for one set of flags) or in a delivery between blocks, never inside a block: a
# block-start check of these bits alone finds every change, and blocks that load segment
# registers need no stepping.
TB_FLAG_KINDS = frozenset({"mode", "vm86", "cpl"})
MODE_HFLAGS = _HF_CPL | (1 << 4) | (1 << 7) | (1 << 14) | (1 << 15)   # CPL CS32 PE LMA CS64
RF_VM = 0x20000


_SEGS_CR = L.OFF_CR + 5 * 8 - L.OFF_SEGS
_SREGS = SEGMENT_NAMES[:6]
_RF_VM = 0x20000
_CR0_PE = 1


def signature(eng: Engine) -> bytes:
    """Raw bytes of the watched state, read straight from the engine (about a microsecond;
    asked after every exact step, so without the engine's accessors)."""
    env = eng.env
    eflags = _u64.from_address(env + L.OFF_EFLAGS).value & 0x23000     # VM, IOPL
    return (_at(env + L.OFF_SEGS, _SEGS_CR) + _at(env + L.OFF_A20, 4) + _at(env + L.OFF_EFER, 8)
            + bytes((_u32.from_address(env + L.OFF_HFLAGS).value & _HF_CPL,))
            + eflags.to_bytes(4, "little"))


def mode_signature(eng: Engine) -> bytes:
    """The part of `signature` that `TB_FLAG_KINDS` depend on."""
    return ((eng.u32(L.OFF_HFLAGS) & MODE_HFLAGS).to_bytes(4, "little")
            + (eng.u64(L.OFF_EFLAGS) & RF_VM).to_bytes(4, "little"))


@dataclass
class Transition:
    kind: str                      # a catchpoint kind ("vm86-enter", "mode", "sreg", ...)
    changes: list[Change]
    details: dict[str, Any] = field(default_factory=dict)


def diff_states(a: CpuState, b: CpuState) -> list[Transition]:
    """Every catchpoint-relevant transition from `a` to `b` (vmx verdicts are not included).

    Asked at every transition stop: the derived mode and CPL are computed only when what they
    derive from changed (CR0, EFER, EFLAGS.VM, CS, SS; the data segments' limits in real mode)."""
    out: list[Transition] = []
    avm, bvm = bool(a.rflags & _RF_VM), bool(b.rflags & _RF_VM)
    if avm != bvm:
        out.append(Transition("vm86-enter" if bvm else "vm86-leave",
                              [Change("eflags.vm", int(avm), int(bvm))]))
    segs = [(n, x, y) for n, x, y in ((n, getattr(a, n), getattr(b, n)) for n in _SREGS)
            if x != y]
    changed = {n for n, _x, _y in segs}
    core = a.cr0 == b.cr0 and a.efer == b.efer and avm == bvm
    if not (core and "cs" not in changed and (b.cr0 & _CR0_PE or not changed)):
        am, bm = a.mode, b.mode
        if am != bm:
            out.append(Transition("mode", [Change("mode", am.value, bm.value)],
                                  {"from": am.value, "to": bm.value}))
    if not (core and "ss" not in changed):
        ac, bc = a.cpl, b.cpl
        if ac != bc:
            out.append(Transition("cpl", [Change("cpl", ac, bc)]))
    if a.a20 != b.a20:
        out.append(Transition("a20", [Change("a20", int(a.a20), int(b.a20))]))
    crs = [Change(n, getattr(a, n), getattr(b, n)) for n in ("cr0", "cr3", "cr4", "efer")
           if getattr(a, n) != getattr(b, n)]
    if crs:
        out.append(Transition("cr", crs, {"registers": [c.field for c in crs]}))
    dts = []
    for n in ("gdtr", "idtr"):
        x, y = getattr(a, n), getattr(b, n)
        if x != y:
            dts.append(Change(n, f"{x.base:#x}/{x.limit:#x}", f"{y.base:#x}/{y.limit:#x}"))
    for n in ("ldtr", "tr"):
        x, y = getattr(a, n), getattr(b, n)
        if x != y:
            dts += _seg_changes(n, x, y)
    if dts:
        out.append(Transition("dtr", dts, {"registers": sorted({c.field.split(".")[0]
                                                                 for c in dts})}))
    for n, x, y in segs:
        out.append(Transition("sreg", _seg_changes(n, x, y), {"register": n}))
    return out


def _seg_changes(name: str, x: Any, y: Any) -> list[Change]:
    return [Change(f"{name}.{f}", getattr(x, f), getattr(y, f))
            for f in ("selector", "base", "limit", "ar") if getattr(x, f) != getattr(y, f)]

