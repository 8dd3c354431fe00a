"""`diff_states` computes the derived mode and CPL only when what they derive from changed; it
must find exactly what comparing every field does (the plain definition, kept here)."""
from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.cpustate import SEGMENT_NAMES, CpuState, DescriptorTable, Segment
from debugger.engine.stops import Change
from debugger.engine.transitions import Transition, _seg_changes, diff_states


def plain_diff(a: CpuState, b: CpuState) -> list[Transition]:
    out: list[Transition] = []
    if a.vm != b.vm:
        out.append(Transition("vm86-enter" if b.vm else "vm86-leave",
                              [Change("eflags.vm", int(a.vm), int(b.vm))]))
    if a.mode != b.mode:
        out.append(Transition("mode", [Change("mode", a.mode.value, b.mode.value)],
                              {"from": a.mode.value, "to": b.mode.value}))
    if a.cpl != b.cpl:
        out.append(Transition("cpl", [Change("cpl", a.cpl, b.cpl)]))
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
    for n in SEGMENT_NAMES[:6]:
        x, y = getattr(a, n), getattr(b, n)
        if x != y:
            out.append(Transition("sreg", _seg_changes(n, x, y), {"register": n}))
    return out


segments = st.builds(Segment, st.sampled_from([0, 8, 0x10, 0x1b, 0x23]),
                     st.sampled_from([0, 0x10000, 0xF0000]),
                     st.sampled_from([0xFFFF, 0xFFFFF, 0xFFFFFFFF]),
                     st.sampled_from([0x93, 0x9B, 0xF3, 0xC09B, 0xA09B, 0x409B, 0x10000]))
FIELDS = {
    "cr0": st.sampled_from([0x10, 0x11, 0x80000011, 0x60000010]),
    "efer": st.sampled_from([0, 0x100, 0x500]),
    "rflags": st.sampled_from([2, 0x20002, 0x3202, 0x23202]),
    "cr3": st.sampled_from([0, 0x1000]), "cr4": st.sampled_from([0, 0x20]),
    "a20": st.booleans(),
    "gdtr": st.builds(DescriptorTable, st.sampled_from([0, 0x500]), st.sampled_from([0x17, 0xFFFF])),
    "idtr": st.builds(DescriptorTable, st.sampled_from([0, 0x500]), st.sampled_from([0x3FF, 0x7FF])),
    **{n: segments for n in SEGMENT_NAMES},
}


@st.composite
def pairs(draw):
    a = CpuState(**{k: draw(v) for k, v in FIELDS.items()})
    changed = draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=4))
    b = dataclasses.replace(a, **{k: draw(FIELDS[k]) for k in changed})
    return a, b


@settings(max_examples=3000, deadline=None)
@given(pairs())
def test_diff_states_finds_what_comparing_every_field_finds(pair):
    a, b = pair
    assert diff_states(a, b) == plain_diff(a, b)
