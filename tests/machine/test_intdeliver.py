"""Native interrupt delivery (machine/intdeliver.py, _intdeliver.c) against the Python path.

Generated real-mode guests mix INT n, INT3, INTO, #DE faults, single-stepping (TF=1 stretches
over instructions that leave lazy flags behind) and stacks of either size, in a loop long enough
for block-counted fast slices.  Each is run twice from reset with the same series of instruction
budgets -- once with the native hook delivering, once with every delivery through the Python hook
and delivery.py -- and after every budget the instruction count and the full CPU state must be
equal; at the end so must the event log and the delivery log (backtrace.py).  The Python path is
itself held to QEMU and Bochs by tests/conformance and to the reference stepper by
tests/invariant.  BOOTDBG_INTDELIVER_EXAMPLES=N runs a longer random campaign.
"""
from __future__ import annotations

import os

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import assemble

CAMPAIGN = int(os.environ.get("BOOTDBG_INTDELIVER_EXAMPLES", "0"))

PRELUDE = """
    jmp 0:start
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
%macro VEC 2
    mov word [%1*4], %2
    mov word [%1*4+2], 0
%endmacro
    VEC 0, h_de
    VEC 1, h_db
    VEC 3, h_bp
    VEC 4, h_of
    VEC 0x40, h_40
    VEC 0x41, h_41
    jmp go
h_de: push bp               ; #DE: skip the 2-byte DIV that faulted
    mov bp, sp
    add word [bp+2], 2
    inc word [0x500]
    pop bp
    iret
h_db: inc word [0x502]
    iret
h_bp: inc word [0x504]
    iret
h_of: inc word [0x506]
    iret
h_40: add word [0x508], ax
    iret
h_41: pushf
    pop word [0x50a]
    iret
go:
    mov si, {loops}
top:
"""

TAIL = """
    mov cx, {pad}
pad: add ax, cx
    loop pad
    dec si
    jnz top
    cli
    hlt
"""

OPS = {
    "int40": "    int 0x40\n",
    "int41": "    add cx, 0x1234\n    int 0x41\n",
    "int3": "    int3\n",
    "into": "    mov al, 0x7f\n    add al, 1\n    into\n",
    "de": "    xor dx, dx\n    mov ax, 1\n    xor bx, bx\n    div bx\n",
    "tf": ("    pushf\n    pop ax\n    or ah, 1\n    push ax\n    popf\n"
           "    add cx, 0x7001\n    adc dx, cx\n    sub bx, 7\n    shl ax, 1\n    inc di\n"
           "    pushf\n    pop ax\n    and ah, 0xfe\n    push ax\n    popf\n"),
    "tfint": ("    pushf\n    pop ax\n    or ah, 1\n    push ax\n    popf\n"
              "    int 0x40\n    neg cx\n"
              "    pushf\n    pop ax\n    and ah, 0xfe\n    push ax\n    popf\n"),
    "stack32": "    mov esp, 0x6ff0\n    int 0x40\n    mov sp, 0x7000\n",
    "arith": "    add ax, 3\n    xor bx, ax\n",
}


def _guest(ops: list[str], loops: int, pad: int) -> bytes:
    body = "".join(OPS[o] for o in ops)
    return assemble(PRELUDE.format(loops=loops) + body + TAIL.format(pad=pad))


def _session(img, native: bool):   # noqa: ANN001
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    s = Session(disks=[open_disk(img, boot=True)])
    m = s.machine
    if not native and m._intr is not None:
        m._intr.allowed = lambda: False       # every delivery through the Python hook
    return s


def _logs(s):   # noqa: ANN001
    m = s.machine
    events = [(e.kind, e.icount, e.message, e.details) for e in m.events]
    deliveries = list(s.deliveries.records) if getattr(s, "deliveries", None) else []
    return events, deliveries


def compare(tmp_path, ops: list[str], loops: int, pad: int, budgets: list[int]) -> int:
    img = tmp_path / "g.img"
    img.write_bytes(_guest(ops, loops, pad))
    a, b = _session(img, True), _session(img, False)
    i = 0
    for _ in range(3000):             # (all of it, or enough with budgets of 1)
        n = budgets[i % len(budgets)]
        i += 1
        ra, rb = a.machine.run(n), b.machine.run(n)
        assert (ra.reason, ra.icount) == (rb.reason, rb.icount), (ops, i)
        assert a.machine.icount == b.machine.icount
        assert a.machine.state() == b.machine.state(), (ops, i, a.machine.icount)
        if ra.reason == "halted":
            break
    assert _logs(a) == _logs(b)
    assert b.machine._intr is None or b.machine._intr.delivered == 0
    return a.machine._intr.delivered if a.machine._intr is not None else 0


def test_native_delivery_is_used_and_matches_python(tmp_path):
    from debugger.machine import intdeliver

    done = compare(tmp_path, ["int40", "tf", "de", "int41", "int3", "into", "tfint"],
                   loops=30, pad=4000, budgets=[70_000, 1, 3, 100_000, 17, 200_000])
    if intdeliver.available():
        assert done > 30 * 10


@settings(max_examples=CAMPAIGN or 8, deadline=None, derandomize=not CAMPAIGN, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.sampled_from(sorted(OPS)), min_size=1, max_size=6),
       loops=st.integers(1, 12), pad=st.sampled_from([1, 50, 9000]),
       budgets=st.lists(st.sampled_from([1, 2, 5, 100, 4097, 65_536, 70_001, 1 << 20]),
                        min_size=1, max_size=5))
def test_generated_guests_deliver_alike(tmp_path, ops, loops, pad, budgets):
    compare(tmp_path, ops, loops, pad, budgets)


def _compare_image(path, budgets: list[int], limit: int) -> int:   # noqa: ANN001
    a, b = _session(path, True), _session(path, False)
    i = 0
    while a.machine.icount < limit:
        n = budgets[i % len(budgets)]
        i += 1
        ra, rb = a.machine.run(n), b.machine.run(n)
        assert (ra.reason, ra.icount) == (rb.reason, rb.icount), (path.name, i)
        assert a.machine.state() == b.machine.state(), (path.name, i, a.machine.icount)
        if ra.reason not in ("budget", "exit"):
            break
    assert _logs(a) == _logs(b)
    return a.machine._intr.delivered if a.machine._intr is not None else 0


@pytest.mark.parametrize("name", ["vm86", "pmode", "exceptions", "unreal", "hello",
                                  "longmode", "int13hook-hd", "bench-switch"])
def test_demo_images_deliver_alike(name):
    """Protected mode and vm86 to ring 0 (through the TSS), task gates and page faults left to
    Python, BIOS calls: the demo images and 1,000 trips of bench-switch, both ways."""
    from debugger.images import image_path

    delivered = _compare_image(image_path(name), [1, 3, 70_000, 17, 1 << 20], 60_000)
    if name == "bench-switch" and intdeliver_available():
        assert delivered >= 900          # the vm86 #GP of each trip, to ring 0 natively


def intdeliver_available() -> bool:
    from debugger.machine import intdeliver

    return intdeliver.available()
