"""The BIOS's hardware interrupt handlers: IRQ0-7 at INT 08h-0Fh, IRQ8-15 at INT 70h-77h.

INT 08h (timer) counts ticks in the BDA (0x46C, with the midnight flag at 0x470 after 1800B0h
ticks), runs the diskette motor timeout, and sends EOI; the ROM stub's tail then executes
`int 1Ch; iret`.  INT 09h (keyboard) reads the scan code from port 60h through the bus (so the
8042 sees the read), keeps the shift flags at 0x417/0x418/0x496, and appends the key to the BDA
buffer.  The others acknowledge their device where a BIOS does (RTC register C, the diskette
and hard-disk completion flags; INT 74h passes mouse packets to the guest's handler, see
`_mouse`) and send EOI (to both PICs for IRQ8-15).

In real mode, vectors 08h-0Fh are shared with CPU exceptions (#DF, #TS, #NP, #SS, #GP, ...).
When no IRQ is in service at the PIC and the caller did not use `INT n`, the handler was
entered by an exception; returning would re-execute the faulting instruction forever, so the run
stops with the vector and CS:IP instead (see `default.exception_stop`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios import bda
from debugger.machine.bios.services import _kbdbuf, _keymap, _mouse
from debugger.machine.bios.services._frame import frame

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall
    from debugger.machine.port import MachinePort

VECTORS = tuple(range(0x08, 0x10)) + tuple(range(0x70, 0x78))


def handle(call: "BiosCall") -> None:
    v = call.vector
    m = call.machine
    if v < 0x10 and v != 0x0F and _is_exception(call):
        from debugger.machine.bios.services.default import exception_stop

        exception_stop(call)
        return
    if v == 0x08:
        _timer(m)
    elif v == 0x09:
        _keyboard(m)
    elif v == 0x0E:
        m.mem.write_u(bda.FLOPPY_RECAL, 1, m.mem.read_u(bda.FLOPPY_RECAL, 1) | 0x80)
    elif v == 0x70:
        m.bus.write(0x70, 1, 0x0C)               # reading RTC register C re-arms its IRQ
        m.bus.read(0x71, 1)
    elif v == 0x74 and _mouse.irq12(call):
        return                                   # (the mouse handler's return path sends EOI)
    elif v == 0x76:
        m.mem.write_u(bda.HD_INT_FLAG, 1, 0xFF)
    m.end_of_interrupt(v)


def _line(vector: int) -> int:
    return vector - 0x08 if vector < 0x10 else vector - 0x70 + 8


def _is_exception(call: "BiosCall") -> bool:
    pic = call.machine.devices.pic
    in_service = getattr(pic, "in_service", None)
    if in_service is None:
        return False
    if in_service(_line(call.vector)):
        return False
    try:
        ip, cs, _ = frame(call)
        before = call.read(cs, (ip - 2) & 0xFFFF, 2)
    except Exception:
        return False
    return before != bytes([0xCD, call.vector])   # not a software `int n`


# -- IRQ0 ------------------------------------------------------------------------------------------
def _timer(m: "MachinePort") -> None:
    mem = m.mem
    ticks = mem.read_u(bda.TICKS, 4) + 1
    if ticks >= bda.TICKS_PER_DAY:
        ticks = 0
        mem.write_u(bda.MIDNIGHT, 1, 1)
    mem.write_u(bda.TICKS, 4, ticks)
    timeout = mem.read_u(bda.FLOPPY_MOTOR_TIMEOUT, 1)
    if timeout:
        timeout -= 1
        mem.write_u(bda.FLOPPY_MOTOR_TIMEOUT, 1, timeout)
        if timeout == 0:
            mem.write_u(bda.FLOPPY_MOTOR, 1, mem.read_u(bda.FLOPPY_MOTOR, 1) & 0xF0)
            m.bus.write(0x3F2, 1, 0x0C)          # motors off, controller enabled


# -- IRQ1 ------------------------------------------------------------------------------------------
_E0, _E1, _RCTRL, _RALT = 0x02, 0x01, 0x04, 0x08     # BDA 0x496
_LCTRL, _LALT = 0x01, 0x02                           # BDA 0x418
_LOCK_PRESSED = {0x3A: (_keymap.CAPS, 0x40), 0x45: (_keymap.NUM, 0x20),
                 0x46: (_keymap.SCROLL, 0x10)}


def _keyboard(m: "MachinePort") -> None:
    if not m.bus.read(0x64, 1) & 0x01:           # output buffer empty: spurious
        return
    code = m.bus.read(0x60, 1)
    mem = m.mem
    mode = mem.read_u(bda.KBD_MODE, 1)
    if code == 0xE0:
        mem.write_u(bda.KBD_MODE, 1, mode | _E0)
        return
    if code == 0xE1:
        mem.write_u(bda.KBD_MODE, 1, mode | _E1)
        return
    if mode & _E1:                                   # Pause: E1 1D 45 E1 9D C5
        if code & 0x7F == 0x45:
            mem.write_u(bda.KBD_MODE, 1, mode & ~_E1)
        return
    extended = bool(mode & _E0)
    mode &= ~_E0
    brk, scan = bool(code & 0x80), code & 0x7F
    f0 = mem.read_u(bda.KBD_FLAGS0, 1)
    f1 = mem.read_u(bda.KBD_FLAGS1, 1)
    word = None
    if scan in (0x2A, 0x36):
        if not extended:                             # E0 2A / E0 36: fake shifts, ignored
            bit = _keymap.LSHIFT if scan == 0x2A else _keymap.RSHIFT
            f0 = (f0 & ~bit) if brk else (f0 | bit)
    elif scan in (0x1D, 0x38):
        ctrl = scan == 0x1D
        if extended:
            bit = _RCTRL if ctrl else _RALT
            mode = (mode & ~bit) if brk else (mode | bit)
        else:
            bit = _LCTRL if ctrl else _LALT
            f1 = (f1 & ~bit) if brk else (f1 | bit)
        held = (mode & (_RCTRL if ctrl else _RALT)) or (f1 & (_LCTRL if ctrl else _LALT))
        flag = _keymap.CTRL if ctrl else _keymap.ALT
        f0 = (f0 | flag) if held else (f0 & ~flag)
    elif scan in _LOCK_PRESSED and not extended and not (scan == 0x45 and f0 & _keymap.CTRL):
        lock, pressed = _LOCK_PRESSED[scan]
        if brk:
            f1 &= ~pressed
        elif not f1 & pressed:
            f1 |= pressed
            f0 ^= lock
    elif not brk:
        if scan == 0x53 and f0 & _keymap.CTRL and f0 & _keymap.ALT:
            _ctrl_alt_del(m)
            return
        if scan == 0x52 and (extended or not f0 & _keymap.NUM):
            f0 ^= _keymap.INSERT
        word = _keymap.translate(scan, f0, extended)
    elif scan == 0x52:
        f1 &= ~0x80
    mem.write_u(bda.KBD_FLAGS0, 1, f0)
    mem.write_u(bda.KBD_FLAGS1, 1, f1)
    mem.write_u(bda.KBD_MODE, 1, mode)
    if word is not None and not _kbdbuf.push(mem, word):
        m.events.emit("keyboard", f"keyboard buffer full: key {word:04X}h dropped", key=word)


def _ctrl_alt_del(m: "MachinePort") -> None:
    from debugger.machine.results import Stop, StopRequest

    m.mem.write_u(bda.RESET_FLAG, 2, 0x1234)        # warm boot
    m.events.emit("reset", "Ctrl-Alt-Del: the BIOS resets the machine")
    raise StopRequest(Stop.RESET, "Ctrl-Alt-Del pressed: warm reset requested")
