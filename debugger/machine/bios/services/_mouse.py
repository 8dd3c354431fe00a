"""The BIOS's PS/2 pointing-device services (INT 15h AH=C2h) and its IRQ 12 handler (INT 74h),
as SeaBIOS provides them under QEMU (src/mouse.c).

The services talk to the mouse behind the 8042 (`Kbc.mouse`) and take its replies, as SeaBIOS's
polled `aux_command` does (mouse bytes waiting in the output buffer are flushed first); only
enable/disable change the controller's command byte (auxiliary interface and its interrupt).
State lives where SeaBIOS keeps it, in the EBDA: the handler's far pointer at 22h, the packet
index (flag 1) at 26h, the packet size and "handler installed" bit 80h (flag 2) at 27h and the
packet bytes at 28h.

INT 74h reads a byte when the controller holds mouse data, stores it, and once a whole packet
is in, calls the guest's handler (C207h) with interrupts enabled, as `call far` with the status,
X, Y and a zero Z word on the stack; the handler returns through a ROM trampoline (`MOUSE_RET`)
that drops the four words, sends the EOI and returns from the interrupt.  Return codes: 00h
success, 01h invalid function, 02h invalid input, 03h interface error, 04h resend, 05h no
handler installed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.cpustate import RF_IF

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall
    from debugger.machine.port import MachinePort

__all__ = ["handle_c2", "irq12", "MOUSE_RET", "MOUSE_RET_CODE"]

# F000:E400 (after the 256 stubs): add sp, 8; push ax; mov al, 20h; out 0A0h, al; out 20h, al;
# pop ax; iret
MOUSE_RET = 0xE400
MOUSE_RET_CODE = bytes.fromhex("83c40850b020e6a0e62058cf")

FAR_PTR, FLAG1, FLAG2, DATA = 0x22, 0x26, 0x27, 0x28
INVALID_FUNCTION, INVALID_INPUT, INTERFACE_ERROR, NEEDS_RESEND, NO_HANDLER = 1, 2, 3, 4, 5
SAMPLE_RATES = (10, 20, 40, 60, 80, 100, 200)


def _ebda(m: "MachinePort") -> int:
    return m.mem.read_u(0x40E, 2) << 4


def _command(m: "MachinePort", *data: int, replies: int = 0) -> list[int]:
    """Send a command (and its parameter bytes) to the mouse; its replies after the ACKs."""
    got = m.devices.kbc.aux_command(*data, replies=replies)
    if got is None:
        raise OSError("no answer from the mouse")
    return got


def _success(call: "BiosCall") -> None:
    call.ah = 0
    call.cf = False


def handle_c2(call: "BiosCall") -> None:
    m = call.machine
    fn = {0: _enable_disable, 1: _reset, 2: _rate, 3: _resolution, 4: _type, 5: _init,
          6: _status_scaling, 7: _handler}.get(call.al)
    if fn is None:
        call.fail(INVALID_FUNCTION)
        return
    try:
        fn(call, m)
    except OSError:
        call.fail(NEEDS_RESEND)


def _enable_disable(call: "BiosCall", m: "MachinePort") -> None:
    if call.bh == 0:
        m.devices.kbc.set_aux(False)
        _command(m, 0xF5)
    elif call.bh == 1:
        if not m.mem.read_u(_ebda(m) + FLAG2, 1) & 0x80:
            call.fail(NO_HANDLER)
            return
        m.devices.kbc.set_aux(True)
        _command(m, 0xF4)
    else:
        call.fail(INVALID_FUNCTION)
        return
    _success(call)


def _reset(call: "BiosCall", m: "MachinePort") -> None:
    bat, ident = _command(m, 0xFF, replies=2)
    call.bl, call.bh = bat, ident
    _success(call)


def _rate(call: "BiosCall", m: "MachinePort") -> None:
    if call.bh >= len(SAMPLE_RATES):
        call.fail(INVALID_INPUT)
        return
    _command(m, 0xF3, SAMPLE_RATES[call.bh])
    _success(call)


def _resolution(call: "BiosCall", m: "MachinePort") -> None:
    if call.bh >= 4:
        call.fail(INVALID_INPUT)
        return
    _command(m, 0xE8, call.bh)
    _success(call)


def _type(call: "BiosCall", m: "MachinePort") -> None:
    call.bh = _command(m, 0xF2, replies=1)[0]
    _success(call)


def _init(call: "BiosCall", m: "MachinePort") -> None:
    if call.bh != 3:
        call.fail(INTERFACE_ERROR)
        return
    ebda = _ebda(m)
    m.mem.write_u(ebda + FLAG1, 1, 0)
    m.mem.write_u(ebda + FLAG2, 1, call.bh)
    _reset(call, m)


def _status_scaling(call: "BiosCall", m: "MachinePort") -> None:
    if call.bh == 0:
        status, resolution, rate = _command(m, 0xE9, replies=3)
        call.bl, call.cl, call.dl = status, resolution, rate
    elif call.bh in (1, 2):
        _command(m, 0xE6 if call.bh == 1 else 0xE7)
    else:
        call.fail(INVALID_FUNCTION)
        return
    _success(call)


def _handler(call: "BiosCall", m: "MachinePort") -> None:
    ebda = _ebda(m)
    far = (call.es << 16) | call.bx
    flag2 = m.mem.read_u(ebda + FLAG2, 1)
    if not far:
        if flag2 & 0x80:
            flag2 &= ~0x80
            m.devices.kbc.set_aux(False)
            _command(m, 0xF5)
    else:
        flag2 |= 0x80
    m.mem.write_u(ebda + FLAG2, 1, flag2)
    m.mem.write_u(ebda + FAR_PTR, 4, far)
    _success(call)


def irq12(call: "BiosCall") -> bool:
    """INT 74h.  True when the handler was called (its return path sends the EOI)."""
    m = call.machine
    status = m.bus.read(0x64, 1)
    if status & 0x21 != 0x21:
        return False
    data = m.bus.read(0x60, 1)
    ebda = _ebda(m)
    flag1, flag2 = m.mem.read_u(ebda + FLAG1, 1), m.mem.read_u(ebda + FLAG2, 1)
    if not flag2 & 0x80:
        return False
    index = flag1 & 7
    m.mem.write_u(ebda + DATA + index, 1, data)
    if index + 1 < flag2 & 7:
        m.mem.write_u(ebda + FLAG1, 1, flag1 + 1)
        return False
    packet = [m.mem.read_u(ebda + DATA + i, 1) for i in range(3)]
    m.mem.write_u(ebda + FLAG1, 1, 0)
    far = m.mem.read_u(ebda + FAR_PTR, 4)
    _far_call(m, far, (packet[0], packet[1], packet[2], 0))
    return True


def _far_call(m: "MachinePort", far: int, words: tuple[int, ...]) -> None:
    """Push `words`, then a return address to MOUSE_RET, and continue at `far` with IF=1."""
    from debugger.machine.bios import ROM_SEGMENT

    cpu = m.cpu
    ss = cpu.seg("ss")
    mask = 0xFFFFFFFF if ss.db else 0xFFFF
    sp = cpu.gpr(4)
    for w in (*words, ROM_SEGMENT, MOUSE_RET):
        sp = (sp & ~mask) | ((sp - 2) & mask)
        m.mem.write_linear_u(ss.base + (sp & mask), 2, w)
    cpu.set_gpr(4, sp)
    m.load_real_segment("cs", far >> 16)
    cpu.rip = far & 0xFFFF
    cpu.eflags = cpu.eflags | RF_IF
