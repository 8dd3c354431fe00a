"""INT 16h: keyboard services, from the BDA buffer that the IRQ1 handler (irq.py) fills.

Keys reach the buffer the way they do on hardware: the 8042's scripted key queue raises IRQ1,
INT 09h reads port 60h and stores the key.  AH=00h/10h with an empty buffer waits like a BIOS's
`sti; hlt` loop: the CPU halts at the service's stub with interrupts enabled, time advances to
the next device event, and the service runs again when the interrupt handler returns.  If no key
can ever arrive (nothing scripted, nothing in the 8042) the run ends with reason "halted" and a
message saying so, instead of waiting forever.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios import bda
from debugger.machine.bios.services import _kbdbuf
from debugger.machine.bios.services._frame import caller, unsupported, wait_for_interrupt
from debugger.machine.bios.services._keymap import to_standard

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall
    from debugger.machine.port import MachinePort

VECTOR = 0x16


def handle(call: "BiosCall") -> None:
    ah = call.ah
    mem = call.machine.mem
    if ah in (0x00, 0x10):
        word = _next_key(call, extended=ah == 0x10, remove=True)
        if word is None:
            _wait_for_key(call)
            return
        call.ax = word
    elif ah in (0x01, 0x11):
        word = _next_key(call, extended=ah == 0x11, remove=False)
        call.zf = word is None
        if word is not None:
            call.ax = word
    elif ah == 0x02:
        call.al = mem.read_u(bda.KBD_FLAGS0, 1)
    elif ah == 0x12:
        f0 = mem.read_u(bda.KBD_FLAGS0, 1)
        f1 = mem.read_u(bda.KBD_FLAGS1, 1)
        mode = mem.read_u(bda.KBD_MODE, 1)
        # AH: left Ctrl/Alt (0x418), right Ctrl/Alt (0x496), locks pressed, SysReq pressed.
        call.ah = (f1 & 0x73) | (mode & 0x0C) | (0x80 if f1 & 0x04 else 0)
        call.al = f0
    elif ah == 0x03:
        pass                                      # typematic rate: nothing to emulate
    elif ah == 0x05:
        call.al = 0 if _kbdbuf.push(mem, call.cx) else 1
    elif ah == 0x09:
        call.al = 0x30                            # AH=0Ah and AH=10h-12h supported
    elif ah == 0x0A:
        call.bx = 0xAB41                          # MF2 keyboard, translated
    else:
        unsupported(call, "keyboard")


def _next_key(call: "BiosCall", *, extended: bool, remove: bool) -> int | None:
    mem = call.machine.mem
    while True:
        word = _kbdbuf.peek(mem)
        if word is None:
            return None
        out = word if extended else to_standard(word)
        if out is not None:
            if remove:
                _kbdbuf.pop(mem)
            return out
        _kbdbuf.pop(mem)                          # a key AH=00h/01h does not report: drop it


def _wait_for_key(call: "BiosCall") -> None:
    m = call.machine
    reason = _never_arrives(m)
    if reason:
        from debugger.machine.results import Stop, StopRequest

        msg = f"waiting for a key (INT 16h AH={call.ah:02X}h at {caller(call)}) and {reason}"
        m.events.emit("bios", msg, vector=0x16, waiting=True)
        raise StopRequest(Stop.HALTED, msg)
    wait_for_interrupt(call)


def _never_arrives(m: "MachinePort") -> str | None:
    """Why no key can reach the buffer any more, or None if one may."""
    kbc = m.devices.kbc
    if m.bus.read(0x64, 1) & 0x01:               # a byte waits in the 8042's output buffer
        return "IRQ1 is masked at the PIC" if m.devices.pic.masked(1) else None
    if not kbc.pending_keys():
        return "no input is scripted"
    if kbc.next_deadline() is None:
        return "the scripted keys cannot arrive (the keyboard is disabled at the 8042)"
    if m.devices.pic.masked(1):
        return "IRQ1 is masked at the PIC"
    return None
