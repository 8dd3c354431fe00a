"""Memory hooks must not change the guest: Unicorn re-derives the CPU state from the start of the
instruction before calling a memory hook, and with a code hook in place (every counted run) that
resets cc_op to its value before the flags Unicorn computes after each code hook.  When the block
ended after a store that leaves the flags alone (`sub ecx, ebp; rep movsb`, as in SYSLINUX), the
next block computed the flags from that stale cc_op: a plugin's memory tap or `record --full`
cleared AF here, and the full trace then disagreed with single-stepping."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import (
    GDT_PM,
    GDT_TAIL,
    PAGING_ON,
    PAGING_TABLES,
    assemble,
    idt_gate,
    stepped_along,
)

SRC = GDT_PM + """
    cld
    mov esi, 0x7c00
    mov edi, 0x1000
    mov ebp, 3
    mov ecx, 0x11
    sub ecx, ebp                ; 0x0e: AF=1 (a borrow out of bit 3)
    rep movsb                   ; stores, flags left alone; each iteration is a block
    pushfd
    pop edx
    hlt
""" + GDT_TAIL


def _session(tmp_path: Path):
    from debugger.engine.session import Session

    img = tmp_path / "flags.img"
    if not img.exists():
        img.write_bytes(assemble(SRC))
    return Session(img)


def _stepped(tmp_path: Path):
    s = _session(tmp_path)
    for _ in range(500):
        if s.step().final:
            break
    return s


def test_a_memory_tap_leaves_the_flags_alone(tmp_path: Path) -> None:
    """A write hook that never stops the guest (what a plugin's `on_memory` installs)."""
    from unicorn import UC_HOOK_MEM_WRITE

    ref = _stepped(tmp_path)
    assert ref.state().rdx & 0xFFFF == 0x12           # AF, and bit 1
    s = _session(tmp_path)
    seen = []
    s.machine.uc.hook_add(UC_HOOK_MEM_WRITE, lambda uc, a, addr, size, v, ud: seen.append(addr))
    s.machine.uc.ctl_flush_tb()
    assert s.cont(max_insns=10_000).kind == "halted"
    assert len(seen) >= 14                            # (the stack frame, the three bytes, ...)
    assert s.state() == ref.state()


@pytest.mark.parametrize("native", [True, False])
def test_record_full_leaves_the_flags_alone(native: bool, tmp_path: Path) -> None:
    from debugger.trace.ftrecord import native_available
    from debugger.trace.fulltrace import FullTrace
    from debugger.trace.recorder import Recorder

    if native and not native_available():
        pytest.skip("native full-trace hooks not built")
    ref = _stepped(tmp_path)
    s = _session(tmp_path)
    rec = Recorder(s, tmp_path / "run.bdt", full=True, native=native)
    assert s.cont(max_insns=10_000).kind == "halted"
    rec.close()
    assert s.state() == ref.state()
    for _ in stepped_along(FullTrace.open(tmp_path / "run.bdt").steps(), _session(tmp_path)):
        pass


PAGE_FAULT = GDT_PM + """
""" + idt_gate(14, "pf") + """    lidt [idtr]
""" + PAGING_TABLES + PAGING_ON + """
    mov ebp, 3
    mov ecx, 0x11
    sub ecx, ebp                ; 0x0e: AF=1
    {fault}
    hlt
pf: mov edx, [esp + 12]         ; the EFLAGS pushed (error code, EIP, CS, EFLAGS)
    mov ebx, cr2
    hlt
idtr: dw 256*8-1
    dd idt
""" + GDT_TAIL


FETCH = """mov word [0x3ffffe], 0xe929    ; sub ecx, ebp at the end of the last mapped page
    jmp 0x3ffffe                ; the fetch after it faults"""


def _run_both(tmp_path: Path, fault: str) -> list:
    from debugger.engine.session import Session

    img = tmp_path / "pf.img"
    img.write_bytes(assemble(PAGE_FAULT.replace("{fault}", fault)))
    out = []
    for how in ("cont", "step"):
        s = Session(img)
        for _ in range(20_000):
            ev = s.step() if how == "step" else s.cont(max_insns=100_000)
            if ev.final:
                break
        assert ev.kind == "halted"
        st = s.state()
        out.append((st, int.from_bytes(s.read_memory(st.rsp + 4, 4), "little")))
    return out


@pytest.mark.parametrize("fault", ["mov [0x400000], eax", FETCH], ids=["store", "fetch"])
def test_a_page_fault_pushes_the_flags_before_the_instruction(fault: str,
                                                              tmp_path: Path) -> None:
    """A run (count hook, flags folded after every hook) pushes what single-stepping pushes:
    the flags after the last `sub` (0x0e: AF; 0x0b: none), for a fault on a store inside an
    instruction and for one on an instruction fetch (nothing was folded: flags left alone)."""
    (run, _), (step, _) = _run_both(tmp_path, fault)
    assert run.rbx & 0xFFFFFFFF == 0x400000                  # CR2: the fault happened
    assert run.rdx & 0xFFFFFFFF == (0x2 if fault == FETCH else 0x12)
    assert run == step


STRADDLE = """mov dword [0x3ffffc], 0xb8e929 ; sub ecx, ebp; then mov eax, imm32 across the page end
    jmp 0x3ffffc"""


def test_an_instruction_across_the_page_end_faults_after_the_one_before_it(
        tmp_path: Path) -> None:
    """The instruction after the `sub` starts 2 bytes before the missing page: the sub runs,
    then its fetch faults with EIP at its start and CR2 at the page (as on a CPU)."""
    for (run, eip) in _run_both(tmp_path, STRADDLE):
        assert (eip, run.rcx & 0xFFFFFFFF, run.rbx & 0xFFFFFFFF) == (0x3FFFFE, 0x0B, 0x400000)


def test_a_fetch_fault_is_raised_after_the_instruction_before_it(tmp_path: Path) -> None:
    """A CPU (and QEMU 7.2, checked with -d int) runs the `sub` at the end of the page, then
    faults fetching the next instruction: EIP 0x400000, ECX 0x0b, EFLAGS 0x2 pushed.  QEMU 5's
    translator (unicorn 2.1.4) read the next instruction while translating the block and raised
    the fault for the `sub`, which had not run; the machine now runs up to it and lets its own
    fetch fault.  Stepping and running agree; a breakpoint on the `sub` still stops there."""
    for (run, eip) in _run_both(tmp_path, FETCH):
        assert (eip, run.rcx & 0xFFFFFFFF, run.rdx & 0xFFFFFFFF) == (0x400000, 0x0B, 0x2)
    from debugger.engine.session import Session

    s = Session(tmp_path / "pf.img")
    s.break_at(0x3FFFFE)
    ev = s.cont(max_insns=100_000)
    assert (ev.kind, s.state().pc) == ("breakpoint", 0x3FFFFE), ev
    assert s.cont(max_insns=100_000).kind == "halted"
    st = s.state()
    assert (st.rcx & 0xFFFFFFFF, int.from_bytes(s.read_memory(st.rsp + 4, 4), "little")) == \
        (0x0B, 0x400000)


def test_a_data_fault_on_the_next_page_is_delivered_at_its_instruction(tmp_path: Path) -> None:
    """A load from the missing page by the first instruction of a block that runs to the page
    end looks like a read-ahead fault at first: the machine runs again, meets the same fault at
    the same place, and delivers it there (no exit left behind)."""
    data = """mov dword [0x3ffff8], 0x0000058b    ; mov eax, [0x400000] (8B 05 imm32) ...
    mov dword [0x3ffffc], 0x90900040    ; ... then two NOPs up to the page end
    jmp 0x3ffff8"""
    for (run, eip) in _run_both(tmp_path, data):
        assert (eip, run.rbx & 0xFFFFFFFF) == (0x3FFFF8, 0x400000)
    from debugger.engine.session import Session

    s = Session(tmp_path / "pf.img")
    assert s.cont(max_insns=100_000).kind == "halted"
    assert s.machine._fetch_exit is None


def test_a_first_instruction_with_a_memory_operand_runs_before_the_read_ahead_fault(
        tmp_path: Path) -> None:
    """The block's first instruction reads memory elsewhere (`mov eax, [0x1000]`), then two
    NOPs reach the page end: a CPU (and QEMU 7.2) runs all three and faults fetching at
    0x400000.  QEMU 5's translator raised that fetch fault for the `mov` before it ran, which
    looked like the `mov`'s own fault; the machine runs the `mov` alone to tell them apart."""
    data = """mov dword [0x1000], 0x600dcafe
    mov dword [0x3ffff8], 0x1000058b    ; mov eax, [0x1000] (8B 05 imm32) ...
    mov dword [0x3ffffc], 0x90900000    ; ... then two NOPs up to the page end
    xor eax, eax
    jmp 0x3ffff8"""
    (run, eip_run), (step, eip_step) = _run_both(tmp_path, data)
    for st, eip in ((run, eip_run), (step, eip_step)):
        assert (eip, st.rbx & 0xFFFFFFFF, st.rax & 0xFFFFFFFF) == (0x400000, 0x400000, 0x600DCAFE)
    assert run == step


def test_a_first_instruction_whose_own_load_faults_is_counted_once(tmp_path: Path) -> None:
    """The same shape where the `mov` itself loads from the missing page: its fault, counted
    as one attempt whether running or stepping."""
    data = """mov dword [0x3ffff8], 0x0004058b    ; mov eax, [0x400004] ...
    mov dword [0x3ffffc], 0x90900040    ; ... then two NOPs up to the page end
    jmp 0x3ffff8"""
    (run, eip_run), (step, eip_step) = _run_both(tmp_path, data)
    assert (eip_run, run.rbx & 0xFFFFFFFF) == (0x3FFFF8, 0x400004)
    assert run == step
    # the same count as when nothing reads ahead (a `jmp $` after the `mov` ends its block)
    from debugger.engine.session import Session

    counts = []
    for code in (data, data.replace("0x90900040", "0xfeeb0040")):
        img = tmp_path / "pf.img"
        img.write_bytes(assemble(PAGE_FAULT.replace("{fault}", code)))
        s = Session(img)
        assert s.cont(max_insns=100_000).kind == "halted"
        assert s.state().rbx & 0xFFFFFFFF == 0x400004
        counts.append(s.machine.icount)
    assert counts[0] == counts[1]


def _halted_at(tmp_path: Path, code: str):
    """(pushed EIP, EFLAGS pushed, CR2, EAX, icount) of a run to the #PF handler's HLT, the
    same for a run and for single-stepping."""
    (run, eip_run), (step, eip_step) = _run_both(tmp_path, code)
    assert (run, eip_run) == (step, eip_step)
    from debugger.engine.session import Session

    s = Session(tmp_path / "pf.img")
    assert s.cont(max_insns=100_000).kind == "halted"
    assert s.state() == run
    return (eip_run, run.rdx & 0xFFFFFFFF, run.rbx & 0xFFFFFFFF, run.rax & 0xFFFFFFFF,
            s.machine.icount)


def test_a_first_instruction_loading_from_the_read_ahead_address_is_counted_once(
        tmp_path: Path) -> None:
    """The ambiguous shape: the block's first instruction loads from the first bytes of the
    missing page, whose code would run next.  QEMU 5's translator raises the fetch fault first
    (the `mov` had not run); a CPU runs the `mov`, which faults on its own load: one attempt,
    as when a `jmp $` after the `mov` ends its block (nothing read ahead)."""
    ahead = """mov dword [0x3ffff8], 0x0000058b  ; mov eax, [0x400000] ...
    mov dword [0x3ffffc], 0x90900040    ; ... then two NOPs up to the page end
    jmp 0x3ffff8"""
    alone = ahead.replace("0x90900040", "0xfeeb0040")       # ... then jmp $
    got = _halted_at(tmp_path, ahead)
    assert got[:3] == (0x3FFFF8, 0x12, 0x400000)            # at the mov; AF from the sub
    assert got == _halted_at(tmp_path, alone)


def test_a_first_instruction_ending_at_the_page_end_runs_before_the_fetch_fault(
        tmp_path: Path) -> None:
    """The block's first instruction reads memory elsewhere and ends at the page end: a CPU
    runs it, then faults fetching at 0x400000 (it was reported at the `mov`, not run)."""
    code = """mov dword [0x1000], 0x600dcafe
    mov word [0x3ffffa], 0x058b         ; mov eax, [0x1000] (8B 05 imm32), up to the page end
    mov dword [0x3ffffc], 0x00001000
    xor eax, eax
    jmp 0x3ffffa"""
    eip, _, cr2, eax, _ = _halted_at(tmp_path, code)
    assert (eip, cr2, eax) == (0x400000, 0x400000, 0x600DCAFE)


def test_a_first_instruction_ending_at_the_page_end_faulting_on_its_own_is_counted_once(
        tmp_path: Path) -> None:
    """The same instruction loading from the missing page: its own fault, one attempt (as
    the same `mov` followed by `jmp $` elsewhere on the page)."""
    at_end = """mov word [0x3ffffa], 0x058b       ; mov eax, [0x400000], up to the page end
    mov dword [0x3ffffc], 0x00400000
    jmp 0x3ffffa"""
    alone = """mov dword [0x3ffff8], 0x0000058b  ; mov eax, [0x400000]; jmp $
    mov dword [0x3ffffc], 0xfeeb0040
    jmp 0x3ffff8"""
    eip, *rest = _halted_at(tmp_path, at_end)
    eip2, *rest2 = _halted_at(tmp_path, alone)
    assert (eip, eip2) == (0x3FFFFA, 0x3FFFF8)
    assert rest == rest2


@pytest.mark.parametrize("target, tail", [("0x400000", "0x9090"), ("0x400004", "0xfeeb")],
                         ids=["read-ahead", "own"])
def test_one_instruction_run_at_the_faulting_instruction_delivers_its_fault(
        target: str, tail: str, tmp_path: Path) -> None:
    """`run(1)` at the `mov` whose load faults: the fault is delivered in that run (the replay
    that tells the two faults apart is not left for the next one), counted once; after the
    `mov`, two NOPs up to the page end (the translator reads ahead) or `jmp $` (it does not:
    the first fault is the `mov`'s own)."""
    from debugger.engine.session import Session

    code = f"""mov word [0x3ffff8], 0x058b
    mov dword [0x3ffffa], {target}      ; mov eax, [{target}] ...
    mov word [0x3ffffe], {tail}
    jmp 0x3ffff8"""
    img = tmp_path / "pf.img"
    img.write_bytes(assemble(PAGE_FAULT.replace("{fault}", code)))
    s = Session(img)
    s.break_at(0x3FFFF8)
    assert s.cont(max_insns=100_000).kind == "breakpoint"
    m = s.machine
    before = m.icount
    m.run(1)
    assert (m.icount, m._lookahead_probe, m._fetch_exit) == (before + 1, None, None)
    assert m.cpu.cr(2) == int(target, 16) and m.mem.read_linear_u(m.cpu.gpr(4) + 4, 4) == 0x3FFFF8


def test_a_lean_step_at_the_faulting_instruction_delivers_its_fault(tmp_path: Path) -> None:
    """The API's single step (`step_lean`) too: the replay is not left pending.  (Its own
    fault: a `jmp $` ends the block, nothing is read ahead.)"""
    from debugger.engine.session import Session

    code = """mov dword [0x3ffff8], 0x0004058b  ; mov eax, [0x400004] ...
    mov dword [0x3ffffc], 0xfeeb0040    ; ... then jmp $
    jmp 0x3ffff8"""
    img = tmp_path / "pf.img"
    img.write_bytes(assemble(PAGE_FAULT.replace("{fault}", code)))
    s = Session(img)
    s.break_at(0x3FFFF8)
    assert s.cont(max_insns=100_000).kind == "breakpoint"
    m = s.machine
    m.extra_exits = set()                   # (the lean step needs no exit at the mov)
    m._sync_exits()
    before = m.icount
    r = m.step_lean()
    assert r is None or r.reason == "budget"
    assert (m.icount, m._lookahead_probe) == (before + 1, None)
    assert m.mem.read_linear_u(m.cpu.gpr(4) + 4, 4) == 0x3FFFF8


def test_going_back_across_the_read_ahead_fault_matches_a_forward_run(tmp_path: Path) -> None:
    """Time travel over the shapes above: every position around the faults equals a fresh
    forward run to the same count (the translator's fault met again is told apart again)."""
    from debugger.engine.session import Session
    from debugger.trace.timetravel import attach

    code = """mov dword [0x3ffff8], 0x0000058b  ; mov eax, [0x400000]; nop; nop (the fault)
    mov dword [0x3ffffc], 0x90900040
    jmp 0x3ffff8"""
    img = tmp_path / "pf.img"
    img.write_bytes(assemble(PAGE_FAULT.replace("{fault}", code)))
    s = Session(img)
    attach(s, interval=1000)
    end = s.cont(max_insns=100_000).icount
    for target in (end - 3, end - 4, end - 5, end - 2, end - 4):
        s.timeline.goto(target)
        fresh = Session(img)
        while fresh.icount < target:
            fresh.machine.run(target - fresh.icount)
        assert (s.icount, s.state()) == (target, fresh.state()), target
    assert s.cont(max_insns=100_000).kind == "halted" and s.icount == end
