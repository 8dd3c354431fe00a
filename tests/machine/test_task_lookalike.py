"""A translation block whose last bytes only look like a task-switching far JMP.

The block hook does not decode: `task_tail` takes an EAh byte 7 bytes from a block's end as a
`JMP ptr16:32` (and a store before it as one that may rewrite the descriptor), so it stops
before such a block and the machine decodes it (`exactfix.prepare`).  GRUB's LZMA decoder has
one in its hottest loop (`shr edx, 5` is C1 EA 05; then `sub [ecx], edx; stc; jmp short`):
it stopped on every pass, 113,000 times to the prompt (1.7 MIPS).  The hook now judges the
block's decoded last instruction (`task_tail_exact`), so the loop runs in fast slices.
"""
from __future__ import annotations

import pytest

from debugger.machine import blockcount, exactfix
from tests.machine.test_taskjmp_stores import _guest, _run

PASSES = 3000
LOOKALIKE = f"""
    mov ebx, {PASSES + 1}
    mov ecx, 0x3000
    mov dword [ecx], 0x12345678
    jmp short .top
    align 16
.top:
    dec ebx
    jz .out
    mov edx, [ecx]
    shr edx, 5          ; c1 ea 05: EAh 7 bytes before the block's end
    sub [ecx], edx      ; (a store before the "far JMP": its descriptor may change)
    stc
    jmp short .top
.out:
    mov eax, [ecx]
    hlt
"""


def _expected() -> tuple[int, int]:
    v = d = 0x12345678
    for _ in range(PASSES):
        d = v >> 5
        v = (v - d) & 0xFFFFFFFF
    return v, d


@pytest.mark.parametrize("how", ["fast", "counted", "stepped"])
def test_lookalike_block_stops_once_not_on_every_pass(boot, monkeypatch, how):
    stops = []
    prepare = exactfix.prepare

    def counting(m, sp):
        stops.append(sp)
        return prepare(m, sp)

    monkeypatch.setattr(exactfix, "prepare", counting)
    m = _guest(boot, "", LOOKALIKE)
    st = _run(m, how)
    v, d = _expected()
    assert (st.rax, st.rdx) == (v, d)
    assert m.mem.read_linear_u(0x3000, 4) == v
    if blockcount.available():
        assert not [sp for sp in stops if sp[0] & exactfix.TASK], stops[:3]


def test_lookalike_loop_same_state_every_way(boot):
    results = []
    for how in ("fast", "counted", "stepped"):
        m = _guest(boot, "", LOOKALIKE)
        st = _run(m, how)
        results.append((m.icount, st, m.mem.read_linear(0x3000, 4)))
    assert results[0] == results[1] == results[2]
