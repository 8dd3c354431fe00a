"""INT 15h: system services -- memory map (E820h/E801h/88h), A20 gate, wait, block move, config.

AH=C2h (PS/2 pointing device) is SeaBIOS's, in `_mouse`.  Unsupported functions (APM 53h, 89h, ...) set CF with AH=86h ("function not supported"),
the standard answer, and are logged.

AH=86h (wait CX:DX microseconds) advances the virtual clock by the equivalent number of
instructions (`machine.clock.icount`; the retired-instruction count does not move).  Device
events that fall inside the wait are handled when the guest resumes, so a timer that would have
fired several times during a long wait fires once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios import bda, tables
from debugger.machine.bios.services._frame import unsupported
from debugger.machine.bios.services._mouse import handle_c2
from debugger.machine.memory import MemoryError_

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall
    from debugger.machine.port import MachinePort

VECTOR = 0x15

SMAP = 0x534D4150
E820_USABLE, E820_RESERVED = 1, 2
RESERVED_TOP = 0x20000
NOT_SUPPORTED = 0x86


def memory_map(machine: "MachinePort") -> list[tuple[int, int, int]]:
    """The E820 map: (base, length, type), derived from the configured RAM size."""
    ram = machine.config.ram_size
    ebda = bda.EBDA_SEGMENT << 4
    out = [(0, ebda, E820_USABLE), (ebda, 0xA0000 - ebda, E820_RESERVED),
           (0xF0000, 0x10000, E820_RESERVED)]
    top = min(ram, 0xFFFC0000)
    if top > 0x100000 + RESERVED_TOP:
        # SeaBIOS keeps the top 128 KiB of RAM for itself and reserves it (so does QEMU's map)
        out.append((0x100000, top - RESERVED_TOP - 0x100000, E820_USABLE))
        out.append((top - RESERVED_TOP, RESERVED_TOP, E820_RESERVED))
    elif top > 0x100000:
        out.append((0x100000, top - 0x100000, E820_USABLE))
    out.append((0xFFFC0000, 0x40000, E820_RESERVED))
    return out


def handle(call: "BiosCall") -> None:
    ah = call.ah
    fn = _FUNCS.get(ah)
    if fn is None:
        unsupported(call, "system service", NOT_SUPPORTED)
        return
    fn(call)


def _e8(call: "BiosCall") -> None:
    al = call.al
    if al == 0x20:
        _e820(call)
    elif al in (0x01, 0x81):
        _e801(call)
    else:
        unsupported(call, "memory size", NOT_SUPPORTED)


def _e820(call: "BiosCall") -> None:
    if call.edx != SMAP or call.ecx < 20:
        call.fail(NOT_SUPPORTED)
        return
    entries = memory_map(call.machine)
    idx = call.ebx
    if idx >= len(entries):
        call.fail(NOT_SUPPORTED)
        return
    base, length, kind = entries[idx]
    data = base.to_bytes(8, "little") + length.to_bytes(8, "little") + kind.to_bytes(4, "little")
    size = 20
    if call.ecx >= 24:
        data += (1).to_bytes(4, "little")       # ACPI 3.0 extended attributes: enabled
        size = 24
    call.write(call.es, call.di, data)
    call.eax = SMAP
    call.ecx = size
    call.ebx = idx + 1 if idx + 1 < len(entries) else 0
    call.cf = False


def _e801(call: "BiosCall") -> None:
    ram = min(call.machine.config.ram_size, 0xFFFC0000)
    low = max(0, min(ram, 16 << 20) - (1 << 20)) // 1024      # KiB between 1 MiB and 16 MiB
    high = max(0, ram - (16 << 20)) // 65536                  # 64 KiB blocks above 16 MiB
    call.ax = call.cx = low
    call.bx = call.dx = high
    call.cf = False


def _ext_memory(call: "BiosCall") -> None:
    ram = min(call.machine.config.ram_size, 64 << 20)
    call.ax = max(0, ram - (1 << 20)) // 1024
    call.cf = False


def _config_table(call: "BiosCall") -> None:
    call.es = 0xF000
    call.bx = tables.CONFIG_TABLE
    call.ah = 0
    call.cf = False


def _a20(call: "BiosCall") -> None:
    al = call.al
    m = call.machine
    if al in (0x00, 0x01):
        set_a20(m, al == 0x01)
        call.ah = 0
        call.cf = False
    elif al == 0x02:
        call.al = 1 if m.cpu.a20 else 0
        call.ah = 0
        call.cf = False
    elif al == 0x03:
        call.bx = 0x0003                         # keyboard controller and port 92h
        call.ah = 0
        call.cf = False
    else:
        unsupported(call, "A20 gate", NOT_SUPPORTED)


def set_a20(machine: "MachinePort", enabled: bool) -> None:
    """Set the A20 gate through system control port A (92h), so the device's view agrees.

    The device logs the change ("a20" event); without one the CPU's gate is set directly.
    """
    bus = machine.bus
    if bus.device_at(0x92) is not None:
        v = bus.read(0x92, 1)
        bus.write(0x92, 1, ((v | 2) if enabled else (v & ~2)) & ~1 & 0xFF)
    if machine.cpu.a20 != enabled:               # no port 92h device, or it did not act
        machine.cpu.set_a20(enabled)
        machine.events.emit("a20", f"A20 {'enabled' if enabled else 'disabled'} by INT 15h "
                            f"AX=240{int(enabled)}h", enabled=enabled, source="INT 15h")


def _wait(call: "BiosCall") -> None:
    us = (call.cx << 16) | call.dx
    clock = call.machine.clock
    if us:
        clock.icount += clock.insns_for_ns(us * 1000)
    call.ah = 0
    call.cf = False


def _block_move(call: "BiosCall") -> None:
    """AH=87h: copy CX words between the addresses of GDT entries 2 (source) and 3 (dest)."""
    m = call.machine
    gdt = call.linear(call.es, call.si)
    words = call.cx
    if words > 0x8000:
        call.fail(0x01)
        return

    def base(entry: int) -> int:
        d = m.mem.read_linear(gdt + 8 * entry, 8)
        return d[2] | (d[3] << 8) | (d[4] << 16) | (d[7] << 24)

    src, dst = base(2), base(3)
    n = words * 2
    try:
        if n:
            m.mem.write_phys(dst, m.mem.read_phys(src, n), guest=True)
    except MemoryError_ as exc:
        m.events.emit("bios-error", f"INT 15h AH=87h: block move {src:#x} -> {dst:#x}: {exc}",
                      vector=0x15)
        call.fail(0x02)
        return
    m.events.emit("bios", f"INT 15h AH=87h: block move of {n} bytes {src:#x} -> {dst:#x}",
                  vector=0x15, src=src, dst=dst, length=n)
    call.ah = 0
    call.cf = False
    call.zf = True


def _keyboard_intercept(call: "BiosCall") -> None:
    call.cf = True                               # AL: use this scan code as is


def _device_busy(call: "BiosCall") -> None:
    call.ah = 0
    call.cf = False


_FUNCS = {
    0x24: _a20, 0x4F: _keyboard_intercept, 0x86: _wait, 0x87: _block_move, 0x88: _ext_memory,
    0x90: _device_busy, 0x91: _device_busy, 0xC0: _config_table, 0xC2: handle_c2, 0xE8: _e8,
}
