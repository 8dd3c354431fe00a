"""The hot ports answered natively (machine/hotports.py, _hotports.c) give exactly the Python
device model's answers: each guest below runs with the native path on and off
(BOOTDBG_NO_HOTPORTS=1), with fast slices and with the count hook, and must end in the same
state -- instruction count, registers, the RAM it wrote (every value it read from the PIT), the
PIT's own state (latches, status bytes, the LSB/MSB flip-flop) and the serial output.  The guests
read the timer at different instructions of their blocks, so a count one off changes a value."""
from __future__ import annotations

import hashlib

import pytest

from tests.conftest import boot_machine
from tests.machine.test_fastio import IRQS, POLL

# GRUB's and memtest86+'s TSC calibration: channel 2 in mode 0, gate on, poll OUT2 on port 61h
# with a counter incremented in the same block (the IN is not the block's first instruction).
CALIBRATE = """
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    in al, 0x61
    and al, 0xFD
    or al, 1
    out 0x61, al
    mov al, 0xB0
    out 0x43, al
    mov al, 0x00            ; 1024 ticks (GRUB waits 0xFFFF)
    out 0x42, al
    mov al, 0x04
    out 0x42, al
    xor ebx, ebx
l:  inc ebx
    in al, 0x61
    test al, 0x20
    jz l
    mov [0x600], ebx
    hlt
"""

# Every counter access mode: LSB/MSB pairs without a latch (the flip-flop), LSB only, MSB
# only, BCD, modes 0/2/3/4, counter latch commands and read-back (count and status, status
# only, count only), each value stored; the IN sits at several places in its block.
MODES = """
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov di, 0x1000
    mov al, 0x76            ; ch1: LSB/MSB, mode 3, binary
    out 0x43, al
    mov al, 0x35
    out 0x41, al
    mov al, 0x01
    out 0x41, al
    mov al, 0x99            ; ch2: LSB only, mode 4, BCD
    out 0x43, al
    mov al, 0x47
    out 0x42, al
    in al, 0x61
    or al, 1
    out 0x61, al
    mov cx, 700
l:  in al, 0x41             ; the flip-flop: LSB then MSB
    stosb
    nop
    in al, 0x41
    stosb
    in al, 0x42
    stosb
    mov al, 0x40            ; latch ch1
    out 0x43, al
    inc bx
    in al, 0x41
    stosb
    mov al, 0xE6            ; read-back ch1+ch2: status and count
    out 0x43, al
    in al, 0x41
    stosb
    in al, 0x41
    stosb
    in al, 0x42
    stosb
    in al, 0x42
    stosb
    mov al, 0xD2            ; read-back ch0: count only
    out 0x43, al
    mov al, 0xE4            ; ... and its status only (the count latch stays first)
    out 0x43, al
    in al, 0x40
    stosb
    in al, 0x40
    stosb
    in al, 0x40
    stosb
    in al, 0x43
    stosb
    in al, 0x61
    stosb
    test cx, 0x3F
    jnz n
    mov al, 0xA4            ; ch2 -> MSB only, mode 2, binary, every 64 iterations
    out 0x43, al
    mov al, 0x03
    out 0x42, al
n:  dec cx
    jnz l
    hlt
"""

# In protected mode at CPL 3 with IOPL 0: the I/O permission bitmap decides (port 61h allowed,
# 40h refused -> #GP, counted in the handler); Python takes those accesses.
PMODE = """
    cli
    xor ax, ax
    mov ds, ax
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm
[bits 32]
pm: mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov ax, 0x28
    ltr ax
    lidt [idtr]
    mov word [0x5066], 0x68     ; I/O bitmap at TSS+0x68: port 40h refused
    mov byte [0x5068 + 8], 1
    mov dword [0x5004], 0x7000  ; ring 0 stack
    mov dword [0x5008], 0x10
    mov ecx, 600                ; CPL 0: allowed without the bitmap (native)
k:  in al, 0x61
    inc edx
    loop k
    push dword 0x23
    push dword 0x6F00
    pushfd
    push dword 0x1B
    push dword user
    iretd
user:
    mov ecx, 2000
u1: inc edi
    in al, 0x61
    add esi, eax
    dec ecx
    jnz u1
    in al, 0x40
    hlt
gp: inc dword [0x6000]
    mov eax, [esp + 4]
    cmp byte [eax], 0xF4        ; HLT at CPL 3: the end
    je fin
    add dword [esp + 4], 2      ; skip the refused IN
    add esp, 4
    iretd
fin: hlt
gdt: dq 0
    dq 0x00CF9A000000FFFF
    dq 0x00CF92000000FFFF
    dq 0x00CFFA000000FFFF
    dq 0x00CFF2000000FFFF
    dq 0x0000890050000088
gdtr: dw 47
    dd gdt
idtr: dw 14*8-1
    dd idt
idt: times 13 dq 0
    dw gp
    dw 0x08
    dw 0x8E00
    dw 0
"""


# memtest86+'s TSC calibration: RDTSC, poll the PIT through port 61h, RDTSC again; then RDTSC at
# the first, third and seventh instruction of a block (answered natively since memtest86+ did
# 181,000 of them through the Python hook on its way to its screen).
RDTSC = CALIBRATE.replace("""    xor ebx, ebx
l:""", """    rdtsc
    mov [0x608], eax
    mov [0x60c], edx
    xor ebx, ebx
l:""").replace("""    mov [0x600], ebx
    hlt
""", """    mov [0x600], ebx
    rdtsc
    mov [0x610], eax
    mov [0x614], edx
    mov di, 0x1000
    mov cx, 500
k:  rdtsc
    inc si
    rdtsc
    stosd
    xchg eax, edx
    stosd
    rdtsc
    add bp, ax
    loop k
    hlt
""")


def _pit_state(m) -> str:
    return repr([sorted(vars(c).items()) for c in m.devices.pit.channels])


def _outcome(m, end) -> tuple:
    ram = hashlib.sha256(m.mem.read_phys(0, 0x20000)).hexdigest()
    return (end.reason, end.icount, repr(m.state()), ram, bytes(m.serial_out), _pit_state(m),
            m.devices.pit.port61)


def _run(src: str, *, hot: bool, fast: bool, monkeypatch, budget: int = 3_000_000):
    from debugger.machine import slices

    monkeypatch.setattr(slices, "FAST_MIN", 16)     # (fast slices between every event)
    if hot:
        monkeypatch.delenv("BOOTDBG_NO_HOTPORTS", raising=False)
    else:
        monkeypatch.setenv("BOOTDBG_NO_HOTPORTS", "1")
    m = boot_machine(src)
    m._fast_on = fast
    return m, _outcome(m, m.run(budget))


def _native():
    from debugger.machine import hotports
    from debugger.machine.blockcount import available

    if not available() or not hotports.available():
        pytest.skip("the native hooks are not built")


@pytest.mark.parametrize("src", [CALIBRATE, MODES, POLL, IRQS, PMODE, RDTSC],
                         ids=["calibrate", "modes", "poll", "irqs", "pmode", "rdtsc"])
def test_native_hot_ports_give_the_python_devices_answers(src, monkeypatch):
    _native()
    got = {}
    for hot in (True, False):
        for fast in (True, False):
            m, got[hot, fast] = _run(src, hot=hot, fast=fast, monkeypatch=monkeypatch)
            if hot:
                assert m._hot.native and m._hot.handled > 500      # (the C path answered)
                if fast:
                    assert m._hot.placed > 100                     # ... inside fast slices
                if "rdtsc" in src:
                    assert m._hot.tsc_handled > 1000               # (RDTSC too)
            else:
                assert not m._hot.native and m._hot.handled == 0 == m._hot.tsc_handled
    assert got[False, False][0] == "halted"
    for key, outcome in got.items():
        assert outcome == got[False, False], key


def test_the_native_path_places_instructions_inside_blocks(monkeypatch):
    """The polling IN is the block's second instruction: placed natively once Python decoded
    its block (the in-block cache), not handed to Python every time."""
    _native()
    m, _ = _run(CALIBRATE, hot=True, fast=True, monkeypatch=monkeypatch)
    assert m.fast_slices > 0
    assert m._hot.placed > 10 * max(m._fast.placed, 1)


def test_ports_python_answers_are_placed_from_the_native_cache(monkeypatch):
    """An access C hands to Python (the POST port 80h, mid-block) is placed in its fast slice
    from the same in-block cache: Python decodes the block once, not at every access -- and
    the answers stay those of the Python-only run (test above)."""
    _native()
    m, _ = _run(POLL, hot=True, fast=True, monkeypatch=monkeypatch)
    assert m._fast.placed > 1000
    assert m._fast.decoded * 100 < m._fast.placed


def test_watchers_and_plugins_take_the_ports_back(monkeypatch):
    """An I/O watcher sees every access (none answered natively while it is there), and a port
    some other device took over is that device's."""
    _native()
    from debugger.machine.bus import Device

    seen = []
    m = boot_machine(CALIBRATE)
    m.bus.watchers.append(lambda d, p, s, v: seen.append(p))
    m.run(200_000)
    assert m._hot.handled == 0 and seen.count(0x61) > 1000

    class Port61(Device):
        name = "port61"
        ports = (range(0x61, 0x62),)

        def io_read(self, port, size):
            return 0x20                    # OUT2 always high: the loop ends at once

    m = boot_machine(CALIBRATE)
    m.bus.attach(Port61())
    end = m.run(200_000)
    assert end.reason == "halted" and m.mem.read_u(0x600, 4) == 1


def test_an_io_watcher_takes_rdtsc_back(monkeypatch):
    """With an I/O watcher a fast slice cannot place RDTSC: the Python hook refuses it and the
    slice runs again exactly -- none answered natively, the same values as without."""
    _native()
    _, want = _run(RDTSC, hot=True, fast=True, monkeypatch=monkeypatch)
    m = boot_machine(RDTSC)
    m.bus.watchers.append(lambda d, p, s, v: None)
    got = _outcome(m, m.run(3_000_000))
    assert m._hot.tsc_handled == 0 and got == want


@pytest.mark.parametrize("off", [False, True])
def test_version_says_which_port_io_path_is_in_use(off):
    import os
    import subprocess
    import sys

    _native()
    env = {k: v for k, v in os.environ.items() if k != "BOOTDBG_NO_HOTPORTS"}
    if off:
        env["BOOTDBG_NO_HOTPORTS"] = "1"
    out = subprocess.run([sys.executable, "-m", "debugger", "--version"], capture_output=True,
                         text=True, env=env, timeout=120, check=True).stdout
    want = ("port I/O: Python hooks (disabled by BOOTDBG_NO_HOTPORTS)" if off
            else "port I/O: PIT, port 61h, COM1 LSR/THR and RDTSC native (debugger/machine/_hotports.c)")
    assert want in out.splitlines()


@pytest.mark.parametrize("hot", [True, False])
def test_rdtsc_clears_the_upper_halves_of_rax_and_rdx(hot, monkeypatch):
    """RDTSC loads EDX:EAX and clears bits 63:32 of RAX and RDX (SDM; QEMU 7.2's helper_rdtsc
    assigns the zero-extended halves), in the native hook and the Python one alike."""
    from unicorn.x86_const import UC_X86_REG_RAX, UC_X86_REG_RDX

    if hot:
        _native()
        monkeypatch.delenv("BOOTDBG_NO_HOTPORTS", raising=False)
    else:
        monkeypatch.setenv("BOOTDBG_NO_HOTPORTS", "1")
    m = boot_machine("cli\nrdtsc\nhlt\n")
    m.uc.reg_write(UC_X86_REG_RAX, 0xDEADBEEF_00000000)
    m.uc.reg_write(UC_X86_REG_RDX, 0xFEEDFACE_00000000)
    assert m.run(10).reason == "halted"
    assert m.uc.reg_read(UC_X86_REG_RAX) >> 32 == 0
    assert m.uc.reg_read(UC_X86_REG_RDX) >> 32 == 0
