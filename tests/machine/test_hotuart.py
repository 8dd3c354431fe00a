"""COM1's LSR reads and THR writes answered natively (_hotports.c `uart_access`) leave the
machine exactly as the Python UART does: each guest runs with the native path on and off
(BOOTDBG_NO_HOTPORTS=1), with fast slices and with the count hook, and must end in the same
state -- instruction count, registers, RAM (every LSR value read is stored), the serial output
and the UART's own registers.  The guest also does what C must hand back to Python: DLAB set,
loopback with an overrun (a line error that an LSR read clears), THRE interrupts enabled, an
interrupt pending while it prints."""
from __future__ import annotations

import hashlib

import pytest

from tests.conftest import boot_machine

# Prints 1,200 bytes, polling LSR before each (stored), with IRQ 0 firing meanwhile; every 128
# bytes, the cases C declines: DLAB (divisor written through 3F8h), loopback with two bytes
# written (the second overruns: LSR shows OE once), IER with THRE on and its IIR read.
SERIAL = """
    cli
    xor ax, ax
    mov ds, ax
    mov word [8*4], isr
    mov word [8*4+2], 0
    mov ax, 0x2000
    mov es, ax
    xor di, di
    mov al, 0x34                ; PIT ch0: mode 2, a short period
    out 0x43, al
    mov al, 0x00
    out 0x40, al
    mov al, 0x04
    out 0x40, al
    mov al, 0xFE
    out 0x21, al
    mov dx, 0x3fb
    mov al, 0x83
    out dx, al
    mov dx, 0x3f8
    mov al, 1
    out dx, al
    mov dx, 0x3fb
    mov al, 0x03
    out dx, al
    sti
    mov cx, 1200
l:  mov dx, 0x3fd
w:  in al, dx
    stosb
    test al, 0x20
    jz w
    mov al, cl
    and al, 0x3f
    add al, 0x30
    mov dx, 0x3f8
    out dx, al
    test cl, 0x7f
    jnz next
    mov dx, 0x3fb               ; DLAB on: 3F8h is the divisor now
    mov al, 0x83
    out dx, al
    mov dx, 0x3f8
    mov al, cl
    out dx, al
    mov dx, 0x3fb
    mov al, 0x03
    out dx, al
    mov dx, 0x3fc               ; loopback: two bytes, the second overruns
    mov al, 0x1B
    out dx, al
    mov dx, 0x3f8
    mov al, 'L'
    out dx, al
    out dx, al
    mov dx, 0x3fd
    in al, dx                   ; DR and OE (OE cleared by this read)
    stosb
    in al, dx
    stosb
    mov dx, 0x3f8
    in al, dx
    stosb
    mov dx, 0x3fc
    mov al, 0x0B
    out dx, al
    mov dx, 0x3f9               ; THRE interrupt enabled (IRQ 4 masked at the PIC)
    mov al, 0x02
    out dx, al
    mov dx, 0x3f8
    mov al, '!'
    out dx, al
    mov dx, 0x3fa
    in al, dx
    stosb
    mov dx, 0x3f9
    xor al, al
    out dx, al
next:
    dec cx
    jnz l
    cli
    hlt

isr:
    inc word [0x700]
    push ax
    mov al, 0x20
    out 0x20, al
    pop ax
    iret
"""


def _uart_state(m) -> str:
    u = m.devices.com1
    return repr(sorted((k, v) for k, v in vars(u).items() if k != "links"))


def _outcome(m, end) -> tuple:
    ram = hashlib.sha256(m.mem.read_phys(0, 0x30000)).hexdigest()
    return (end.reason, end.icount, repr(m.state()), ram, bytes(m.serial_out), _uart_state(m))


def _native():
    from debugger.machine import hotports
    from debugger.machine.blockcount import available

    if not available() or not hotports.available():
        pytest.skip("the native hooks are not built")


def _machine(src: str | None, *, hot: bool, fast: bool, monkeypatch):
    from debugger.machine import slices

    monkeypatch.setattr(slices, "FAST_MIN", 16)     # (fast slices between every event)
    if hot:
        monkeypatch.delenv("BOOTDBG_NO_HOTPORTS", raising=False)
    else:
        monkeypatch.setenv("BOOTDBG_NO_HOTPORTS", "1")
    if src is None:
        from debugger.images import image_path
        from debugger.machine.disk import open_disk
        from debugger.machine.pc import Machine

        m = Machine([open_disk(image_path("bench-switch"), boot=True)])
    else:
        m = boot_machine(src)
    m._fast_on = fast
    return m


@pytest.mark.parametrize("src", [SERIAL, None], ids=["serial", "bench-switch"])
def test_native_uart_gives_the_python_uarts_state(src, monkeypatch):
    _native()
    got = {}
    for hot in (True, False):
        for fast in (True, False):
            m = _machine(src, hot=hot, fast=fast, monkeypatch=monkeypatch)
            got[hot, fast] = _outcome(m, m.run(5_000_000))
            if hot:
                assert m._hot.uart_handled > 200            # (the C path answered)
            else:
                assert m._hot.uart_handled == 0
    assert got[False, False][0] == "halted"
    for key, outcome in got.items():
        assert outcome == got[False, False], key


def _stepped_until(src: str | None, want: bytes, monkeypatch):
    """The reference: one instruction at a time until the serial output ends with `want`."""
    m = _machine(src, hot=False, fast=False, monkeypatch=monkeypatch)
    while not m.serial_out.endswith(want):
        end = m.run(1)
        assert end.reason == "budget", end
    return _outcome(m, end)[1:]


@pytest.mark.parametrize("src,at", [(SERIAL, 300), (None, 600)], ids=["serial", "bench-switch"])
def test_a_serial_listener_stops_right_after_its_byte(src, at, monkeypatch):
    """With `on_serial` set (what `bootdbg run` echoes, and `--until-serial` stops on), a stop
    asked for after a given byte comes right after the OUT that wrote it -- the state one
    instruction at a time gives -- with fast slices and the native path on or off.  (A fast
    slice that asked for it and ran on was run again exactly, without echoing the byte a
    second time, so the stop came at the end of the run or at the slice's start.)"""
    _native()
    m = _machine(src, hot=False, fast=False, monkeypatch=monkeypatch)
    m.run(5_000_000)
    out = bytes(m.serial_out)
    want = out[at - 12:at]
    want = out[:out.index(want) + 12][-12:]
    ref = _stepped_until(src, want, monkeypatch)
    for hot in (True, False):
        for fast in (True, False):
            m = _machine(src, hot=hot, fast=fast, monkeypatch=monkeypatch)
            seen = []

            def on_serial(byte, m=m, seen=seen):
                seen.append(byte)
                if m.serial_out.endswith(want):
                    m.request_stop("serial", "reached")
            m.on_serial = on_serial
            end = m.run(5_000_000)
            assert end.reason == "serial"
            assert bytes(seen) == bytes(m.serial_out), (hot, fast)     # (each byte once)
            assert _outcome(m, end)[1:] == ref, (hot, fast)
            if hot:
                assert m._hot.uart_handled > 0      # (LSR reads; THR writes are Python's)


def test_an_io_watcher_sees_every_uart_access(monkeypatch):
    _native()
    seen = []
    m = boot_machine(SERIAL)
    m.bus.watchers.append(lambda d, p, s, v: seen.append(p))
    m.run(5_000_000)
    assert m._hot.uart_handled == 0 and seen.count(0x3FD) > 1200 and seen.count(0x3F8) > 1200
