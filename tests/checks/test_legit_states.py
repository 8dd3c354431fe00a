"""States the CPU reaches by legitimate instructions are valid under vmx-ug.

A small model of what each instruction does to the architectural state, written from the SDM's
instruction pseudo-code (not from the checker): real-mode segment loads change only selector and
base; descriptor loads fill the cache and set the accessed bit; a far JMP to a non-conforming
code segment needs DPL = CPL and sets CS.RPL = CPL; IRET to virtual-8086 loads all six segments
vm86-style; IRET to an outer ring nulls data registers whose DPL is below the new CPL; LTR marks
the TSS busy; clearing CR0.PE keeps the caches.  Hypothesis drives random legal sequences.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.checks import evaluate
from debugger.cpustate import AR_UNUSABLE, CpuState, DescriptorTable, Segment

DATA_SEGS = ("ds", "es", "fs", "gs")


def desc(base: int, raw_limit: int, ar: int) -> Segment:
    """The cache a descriptor load produces from a 20-bit limit (G scales it; A is set)."""
    eff = (raw_limit << 12) | 0xFFF if ar & 0x8000 else raw_limit
    return Segment(0, base, eff, ar | 1)


class Machine:
    def __init__(self) -> None:
        self.c = CpuState(gdtr=DescriptorTable(0x500, 0x7F))

    @property
    def cpl(self) -> int:
        return self.c.cpl

    def set(self, **kw) -> None:
        self.c = self.c.replace(**kw)

    # -- real mode --------------------------------------------------------------------------
    def real_load(self, reg: str, sel: int) -> None:
        if self.c.pe:
            return
        s = getattr(self.c, reg)
        self.set(**{reg: Segment(sel, sel << 4, s.limit, s.ar)})

    def set_pe(self) -> None:
        if not self.c.pe and not self.c.vm:
            self.set(cr0=self.c.cr0 | 1)

    def clear_pe(self) -> None:
        # only legal at CPL 0 outside vm86, paging off
        if self.c.pe and not self.c.vm and self.cpl == 0 and not self.c.pg:
            self.set(cr0=self.c.cr0 & ~1)

    # -- protected mode -----------------------------------------------------------------------
    def load_data(self, reg: str, rpl: int, dpl: int, typ: int, g: int, big: int) -> None:
        if not self.c.pe or self.c.vm:
            return
        cpl = self.cpl
        if reg == "ss":
            if cpl != self.c.cs.rpl:
                return
            rpl = dpl = cpl
            typ = 3 | (typ & 4)                  # writable data, up or down
        else:
            if typ & 8 and not typ & 2:          # execute-only code cannot be loaded
                return
            if not (typ & 8 and typ & 4) and dpl < max(cpl, rpl):
                return
        ar = 0x90 | (dpl << 5) | typ | (0x8000 if g else 0) | (0x4000 if big else 0)
        seg = desc(0x10000 * (dpl + 1), 0xFFFFF if big else 0xFFFF, ar)
        self.set(**{reg: Segment(0x10 | rpl | (dpl << 5 & 0), seg.base, seg.limit, seg.ar)})

    def load_null(self, reg: str) -> None:
        if self.c.pe and not self.c.vm and reg in DATA_SEGS:
            s = getattr(self.c, reg)
            self.set(**{reg: Segment(0, s.base, s.limit, s.ar | AR_UNUSABLE)})

    def far_jmp(self, conforming: bool, dpl: int, big: int) -> None:
        if not self.c.pe or self.c.vm:
            return
        cpl = self.cpl
        if (conforming and dpl > cpl) or (not conforming and dpl != cpl):
            return
        typ = 0xE if conforming else 0xA
        ar = 0x90 | (dpl << 5) | typ | (0xC000 if big else 0)
        seg = desc(0x20000, 0xFFFFF if big else 0xFFFF, ar)
        self.set(cs=Segment(0x08 | cpl, seg.base, seg.limit, seg.ar))

    def ltr(self) -> None:
        if self.c.pe and not self.c.vm and self.cpl == 0:
            self.set(tr=Segment(0x28, 0x3000, 0x67, 0x8B))

    def lldt(self, null: bool) -> None:
        if self.c.pe and not self.c.vm and self.cpl == 0:
            self.set(ldtr=Segment(0, 0, 0, AR_UNUSABLE) if null else
                     Segment(0x30, 0x4000, 0xFF, 0x82))

    def iret_ring3(self) -> None:
        if not self.c.pe or self.c.vm or self.cpl != 0:
            return
        cs = desc(0x20000, 0xFFFFF, 0xC0FA)
        ss = desc(0x30000, 0xFFFFF, 0xC0F2)
        kw = {"cs": Segment(0x3B, cs.base, cs.limit, cs.ar),
              "ss": Segment(0x43, ss.base, ss.limit, ss.ar), "rflags": self.c.rflags | 0x200}
        for r in DATA_SEGS:                      # data DPL < new CPL: loaded with null
            s = getattr(self.c, r)
            if s.usable and s.dpl < 3 and not (s.is_code and s.type & 4):
                kw[r] = Segment(0, s.base, s.limit, s.ar | AR_UNUSABLE)
        self.set(**kw)

    def iret_vm86(self, sels: tuple[int, ...]) -> None:
        if not self.c.pe or self.c.vm or self.cpl != 0 or self.c.lma:
            return
        segs = {r: Segment.vm86(s) for r, s in zip(("es", "cs", "ss", "ds", "fs", "gs"), sels)}
        self.set(rflags=self.c.rflags | (1 << 17) | 0x200, **segs)

    def vm86_load(self, reg: str, sel: int) -> None:
        if self.c.vm and reg != "cs":
            self.set(**{reg: Segment.vm86(sel)})

    def interrupt_to_pm(self) -> None:
        """An interrupt in vm86 mode to a ring-0 32-bit handler: data segments nulled."""
        if not self.c.vm:
            return
        cs = desc(0x20000, 0xFFFFF, 0xC09A)
        ss = desc(0, 0xFFFFF, 0xC092)
        null = {r: Segment(0, 0, 0, 0x10000) for r in DATA_SEGS}
        self.set(rflags=self.c.rflags & ~((1 << 17) | 0x200 | 0x100), cs=Segment(0x08, cs.base,
                 cs.limit, cs.ar), ss=Segment(0x10, ss.base, ss.limit, ss.ar), **null)

    def sti(self) -> None:
        if not self.c.pe or self.c.vm or self.cpl <= self.c.iopl:
            self.set(rflags=self.c.rflags | 0x200, interruptibility=1)

    def next_insn(self) -> None:
        self.set(interruptibility=0)


sel = st.integers(0, 0xFFFF)
dreg = st.sampled_from(("ds", "es", "fs", "gs", "ss"))
ops = st.one_of(
    st.tuples(st.just("real_load"), st.sampled_from(("ds", "es", "fs", "gs", "ss", "cs")), sel),
    st.tuples(st.just("set_pe")), st.tuples(st.just("clear_pe")),
    st.tuples(st.just("load_data"), dreg, st.integers(0, 3), st.integers(0, 3),
              st.sampled_from((1, 3, 5, 7, 0xB, 0xF)), st.integers(0, 1), st.integers(0, 1)),
    st.tuples(st.just("load_null"), st.sampled_from(DATA_SEGS)),
    st.tuples(st.just("far_jmp"), st.booleans(), st.integers(0, 3), st.integers(0, 1)),
    st.tuples(st.just("ltr")), st.tuples(st.just("lldt"), st.booleans()),
    st.tuples(st.just("iret_ring3")),
    st.tuples(st.just("iret_vm86"), st.tuples(sel, sel, sel, sel, sel, sel)),
    st.tuples(st.just("vm86_load"), dreg, sel), st.tuples(st.just("interrupt_to_pm")),
    st.tuples(st.just("sti")), st.tuples(st.just("next_insn")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ops, max_size=25))
def test_legitimate_states_are_enterable_under_unrestricted_guest(program):
    m = Machine()
    for op, *args in program:
        if op != "sti":
            m.next_insn()                        # the STI shadow ends after one instruction
        getattr(m, op)(*args)
        v = evaluate(m.c, "vmx-ug")
        assert v.ok, (op, args, m.c.mode, [(x.rule, x.field, x.actual) for x in v.violations])


def test_the_model_reaches_the_interesting_modes():
    m = Machine()
    m.real_load("ds", 0x1234)
    m.set_pe()
    m.far_jmp(False, 0, 1)
    m.load_data("ss", 0, 0, 3, 1, 1)
    m.ltr()
    assert m.c.mode.value == "pm32" and evaluate(m.c, "vmx-ug").ok and evaluate(m.c, "vmx").ok
    m.iret_vm86((0x10, 0x20, 0x30, 0x40, 0x50, 0x60))
    assert m.c.mode.value == "vm86" and evaluate(m.c, "vmx-ug").ok and evaluate(m.c, "vmx").ok
    m.interrupt_to_pm()
    m.iret_ring3()
    assert m.c.cpl == 3 and evaluate(m.c, "vmx-ug").ok
