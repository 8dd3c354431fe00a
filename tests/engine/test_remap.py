"""Points armed in one address mapping follow the guest when the mapping changes.

A linear watchpoint watches its linear bytes under whatever mapping is current at each access
(paging turned on, CR3 reloaded, CR4.PSE/PAE changed, a page-table entry on its walk rewritten,
A20 toggled); a physical breakpoint fires whichever linear address executes its byte.  Fast runs
(native detector and Python block hook, with and without fast slices) and exact stepping agree.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import GDT_PM, assemble

# PM32 flat, then 32-bit paging with 4 MiB pages: directory A at 0x9000 (PDE0 identity, PDE1:
# linear 4 MiB -> physical 0, PDE2: linear 8 MiB -> physical 4 MiB), directory B at 0xA000
# (PDE0 identity, PDE1 identity).  Writes marked "hit" go through the watched linear dword
# 0x407000 (its value shows which); "miss" writes touch what it mapped to before or elsewhere.
REMAP = GDT_PM + """
    mov dword [0x407000], 0x0bad0001      ; (paging off: physical 0x407000)  hit 1
    mov dword [0x9000], 0x83
    mov dword [0x9004], 0x83
    mov dword [0x9008], 0x400083
    mov dword [0xA000], 0x83
    mov dword [0xA004], 0x400083
    mov eax, 0x9000
    mov cr3, eax
    mov eax, cr4
    or eax, 0x10                        ; PSE
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp 0x08:alias + 0x400000           ; the same bytes through linear 4 MiB
alias:
    mov dword [0x807000], 0x0bad0002    ; miss: physical 0x407000, the watch's old bytes
    mov dword [0x407000], 0x00000022    ; hit 2: through the watched linear (physical 0x7000)
    mov dword [0x7000], 0x00000023      ; hit 3: the same physical bytes (an alias)
    jmp 0x08:ident                      ; (back to the identity-mapped bytes)
ident:
    mov eax, 0xA000
    mov cr3, eax                        ; directory B: 0x407000 is physical 0x407000 again
    mov dword [0x7000], 0x0bad0004      ; miss
    mov dword [0x407000], 0x00000044    ; hit 4
    mov dword [0xA004], 0x800083        ; rewrite the watched page's PDE: -> physical 8 MiB
    invlpg [0x407000]
    mov dword [0x407000], 0x00000055    ; hit 5 (physical 0x807000)
    mov dword [0x7000], 0x0bad0006      ; miss
    mov eax, cr0
    and eax, 0x7fffffff
    mov cr0, eax                        ; paging off: 0x407000 is physical 0x407000
    mov dword [0x7000], 0x0bad0007      ; miss
    mov dword [0x407000], 0x00000077    ; hit 7
    hlt
""" + """
align 8
gdt: dq 0
    dq 0x00cf9a000000ffff
    dq 0x00cf92000000ffff
gdtr: dw gdtr - gdt - 1
    dd gdt
"""
HITS = [0x0bad0001, 0x22, 0x23, 0x44, 0x55, 0x77]

# The lead's reproducer: a physical breakpoint on code executed only through a 4 MiB alias.
ALIAS_CODE = GDT_PM + """
    mov dword [0x9000], 0x83
    mov dword [0x9004], 0x83
    mov eax, 0x9000
    mov cr3, eax
    mov eax, cr4
    or eax, 0x10
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp 0x08:target + 0x400000
target:
    mov eax, 0x1234
    mov dword [0x407000], 5
    hlt
align 8
gdt: dq 0
    dq 0x00cf9a000000ffff
    dq 0x00cf92000000ffff
gdtr: dw gdtr - gdt - 1
    dd gdt
"""

# Real mode with A20 masked: linear 0x10xxxx wraps to physical 0x0xxxxx (and enabled again).
A20 = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    in al, 0x92
    and al, ~2
    out 0x92, al                         ; A20 off
    mov ax, 0xffff
    mov es, ax
    mov word [es:0x8010], 0x0011         ; linear 0x108000 -> physical 0x8000: hit
    mov word [0x8000], 0x0012            ; hit (the watched bytes themselves)
    in al, 0x92
    or al, 2
    out 0x92, al                         ; A20 on
    mov word [es:0x8010], 0x0013         ; hit (physical 0x108000 now)
    mov word [0x8000], 0x0bad            ; miss (physical 0x8000 is no longer the watch's)
    in al, 0x92
    and al, ~2
    out 0x92, al
    mov word [es:0x8010], 0x0015         ; hit (A20 masked again)
    hlt
"""


def _variants():
    from debugger.engine import runner

    natives = [False] + ([True] if runner.native_available() else [])
    return [(n, f) for n in natives for f in (True, False)]


def _session(source: str, native: bool | None = None, fast: bool = True):
    from debugger.engine.session import Session
    from debugger.machine.disk import disk_from_bytes

    s = Session(disks=[disk_from_bytes(assemble(source), "t.img", boot=True)], native=native)
    s.machine._fast_on = fast
    return s


def _watch_values(s, how: str) -> list[int]:
    seen = []
    for _ in range(40):
        ev = s.cont(max_insns=100_000) if how == "cont" else s.step(100_000)
        if ev.kind != "watchpoint":
            assert ev.kind == "halted", (ev.kind, ev.message)
            return seen
        seen.append(int.from_bytes(bytes.fromhex(ev.changes[0].after), "little"))
    raise AssertionError("no end")


@pytest.mark.parametrize("native,fast", _variants())
@pytest.mark.parametrize("how", ["cont", "step"])
def test_linear_watch_follows_every_remap(native, fast, how):
    s = _session(REMAP, native, fast)
    s.watch(0x407000, 4, "write")
    assert _watch_values(s, how) == HITS


@pytest.mark.parametrize("native,fast", _variants())
@pytest.mark.parametrize("how", ["cont", "step"])
def test_linear_watch_follows_a20(native, fast, how):
    s = _session(A20, native, fast)
    s.watch(0x108000, 2, "write")
    assert _watch_values(s, how) == [0x11, 0x12, 0x13, 0x15]


@pytest.mark.parametrize("native,fast", _variants())
def test_physical_breakpoint_through_an_alias(native, fast):
    s = _session(ALIAS_CODE, native, fast)
    code = bytes(s.machine.mem.read_phys(0x7c00, 512))
    target = 0x7c00 + code.index(bytes.fromhex("b834120000"))     # mov eax, 0x1234
    s.break_at(target, physical=True)
    ev = s.cont(max_insns=100_000)
    assert (ev.kind, ev.linear) == ("breakpoint", target + 0x400000)
    assert s.state().pc == target + 0x400000


@pytest.mark.parametrize("native,fast", _variants())
def test_physical_breakpoint_with_a20_masked(native, fast):
    src = """
    cli
    xor ax, ax
    mov ds, ax
    mov byte [0x500], 0xf4               ; hlt at physical 0x500
    in al, 0x92
    and al, ~2
    out 0x92, al
    jmp 0xffff:0x510                      ; linear 0x100500 -> physical 0x500
"""
    s = _session(src, native, fast)
    s.break_at(0x500, physical=True)
    ev = s.cont(max_insns=100_000)
    assert (ev.kind, ev.linear) == ("breakpoint", 0x100500)


def _cli(img, *ex):
    args = [sys.executable, "-m", "debugger", str(img), "--batch"]
    for e in ex:
        args += ["-ex", e]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def test_cli_reproducer(tmp_path):
    img = tmp_path / "pg.img"
    img.write_bytes(assemble(ALIAS_CODE))
    code = img.read_bytes()[:512]
    target = 0x7c00 + code.index(bytes.fromhex("b834120000"))
    r = _cli(img, f"pb {target:#x}", "c")
    assert f"breakpoint at 0008:{target + 0x400000:08x}" in r.stdout, r.stdout + r.stderr
    r = _cli(img, "watch dword[0x407000]", "c")
    assert "watchpoint" in r.stdout.split("Stop #1", 1)[1].splitlines()[0], r.stdout
    assert "write of 4 byte(s) at 0x7000" in " ".join(r.stdout.split()), r.stdout
