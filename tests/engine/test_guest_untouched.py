"""Points leave no trace in the guest: a run with breakpoints, watchpoints or catchpoints armed
ends with the same RAM and CPU state as the same run with none.  Unicorn walks the guest's page
tables when bootdbg drops translated code by address (a breakpoint's exit changing, a hook being
deleted): that walk sets Accessed bits -- or raises a fault nobody executed -- unless bootdbg
undoes it."""
from __future__ import annotations

import hashlib

import pytest

from tests.conftest import assemble

# Real mode -> PM32 -> paging (PSE 4 MiB pages): PDE0 identity, PDE1 an alias of physical 0
# (the code runs there), PDE2 present but never touched, PDE3 not present; then stores and HLT.
PAGED = """
    cli
    xor ax, ax
    mov ds, ax
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm
bits 32
pm:
    mov ax, 0x10
    mov ds, ax
    mov ss, ax
    mov esp, 0x7000
    mov edi, 0x9000
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [0x9000], 0x83
    mov dword [0x9004], 0x83
    mov dword [0x9008], 0x83
    mov eax, 0x9000
    mov cr3, eax
    mov eax, cr4
    or eax, 0x10
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp 0x08:alias + 0x400000
alias:
    mov ecx, 50
again:
    mov dword [0x407000], ecx
    add dword [0x7004], 3
    loop again
    hlt
gdt: dq 0
    dq 0x00cf9a000000ffff
    dq 0x00cf92000000ffff
gdtr: dw 23
    dd gdt
"""

POINTS = {
    "break on an untouched page": lambda s: s.break_at("*0x800010"),
    "break after a page not present": lambda s: s.break_at("*0xc00000"),
    "break on a page not present": lambda s: s.break_at("*0xc00001"),  # (exit - 1 is walked)
    "break in the loop, deleted": lambda s: s.break_at("*0x407c80"),
    "watch a linear word": lambda s: s.watch("*0x408000", 4),
    "catch mode and cr": lambda s: (s.catch("mode"), s.catch("cr")),
}


def _digest(s) -> tuple[str, object]:
    st = s.state()
    ram = s.machine.mem.read_phys(0, 0x100000)
    return hashlib.sha256(ram).hexdigest(), (st.rip, st.cr2, st.rflags, st.icount
                                             if hasattr(st, "icount") else s.icount)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    p = tmp_path_factory.mktemp("paged") / "paged.img"
    p.write_bytes(assemble(PAGED))
    return p


@pytest.fixture(params=["native", "python"])
def wrapper(request, monkeypatch):
    """Both the C wrapper and its pure-Python fallback."""
    from debugger.machine import untouched

    if request.param == "python":
        monkeypatch.setattr(untouched, "_lib", lambda: None)
    elif untouched._lib() is None:
        pytest.skip("the native helpers are not built")
    return request.param


@pytest.mark.parametrize("what", sorted(POINTS))
def test_points_leave_the_guest_as_it_was(image, what, wrapper):
    from debugger import Session

    plain = Session(str(image))
    plain.step(30)                       # paging is on
    plain.cont()
    want = _digest(plain)

    s = Session(str(image))
    s.step(30)
    POINTS[what](s)
    for _ in range(200):                 # every stop, then on to the end
        ev = s.cont()
        if ev.kind in ("halted", "hlt"):
            break
        if what.endswith("deleted"):
            s.delete()
    assert s.icount == plain.icount
    assert _digest(s) == want


def test_long_mode_breakpoints_on_unmapped_pages_leave_cr2(wrapper):
    """Breakpoints on addresses the long-mode demo never maps: each emu_start's end walked them
    and left CR2 = the address (a #PF nobody raised)."""
    from debugger import Session
    from debugger.images import image_path

    plain = Session(str(image_path("longmode")))
    plain.cont()
    s = Session(str(image_path("longmode")))
    s.break_at("*0x7fff0000")
    s.break_at("*0x40000000")
    s.cont()
    assert s.icount == plain.icount
    assert s.state().cr2 == plain.state().cr2
    assert s.machine.mem.read_phys(0, 0x200000) == plain.machine.mem.read_phys(0, 0x200000)
    assert s.machine.invalidation_guard.restored > 0     # (the walk did fault: put back)


def test_a_newer_engine_at_the_same_address_displaces_a_stale_guard():
    """Two live engines never share an address: a guard still registered for an address that a
    new engine now has belongs to a gone engine, and must neither be found for the new one (its
    self-test failed with LayoutError in a full CI run) nor write the new engine's slot."""
    import ctypes

    from debugger.machine import untouched

    lib = untouched._lib()
    if lib is None:
        pytest.skip("native invalidation guard not built")
    old, new = untouched._G(uc=0x1000), untouched._G(uc=0x1000)
    try:
        assert lib.bootdbg_untouched_register(ctypes.byref(old)) == 0
        assert lib.bootdbg_untouched_register(ctypes.byref(new)) == 0
        assert not lib.bootdbg_untouched_registered(ctypes.byref(old))
        assert lib.bootdbg_untouched_registered(ctypes.byref(new))
        slot = ctypes.c_void_p(0x1234)
        untouched.Guard._remove(slot, 0x5678, lib, old, None)      # the stale guard's finalizer
        assert slot.value == 0x1234
        untouched.Guard._remove(slot, 0x5678, lib, new, None)
        assert slot.value == 0x5678 and not lib.bootdbg_untouched_registered(ctypes.byref(new))
    finally:
        lib.bootdbg_untouched_unregister(ctypes.byref(old))
        lib.bootdbg_untouched_unregister(ctypes.byref(new))
