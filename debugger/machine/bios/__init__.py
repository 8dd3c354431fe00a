"""The BIOS: a ROM at F000 whose interrupt entry points are serviced in Python.

Every vector in the IVT initially points at a small stub in the ROM segment F000.  A stub is
`int3` (the trap where the machine stops; it is not counted as an instruction and never reaches
the guest's IDT) followed by the stub's tail (`iret`, or `int 1Ch; iret` for the timer).  A trap
rather than a Unicorn exit per stub: Unicorn re-validates every exit address at the end of each
`emu_start`, which with 256 stubs cost 5 us per start (single-stepping ran at a third of its
speed).  When the guest reaches a stub -- through `INT n`, an IRQ, or a
hooking guest's `pushf; call far [old]` -- the machine stops, runs the Python service for that
vector against the guest's registers (`BiosCall`), and resumes at the tail.  So services are
entered and left through the guest's own IVT exactly as on hardware, and a guest that hooks a
vector sees the same calls it would see on a PC.

Services live one module per vector in `debugger.machine.bios.services`; each module exports
`VECTOR` and `handle(call)`.  Hooks (for plugins) run before / instead of / after a service,
keyed by (vector, AH) or (vector, None) for every function, in registration order.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from debugger.machine.bios.call import BiosCall

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort

__all__ = ["Bios", "BiosCall", "ROM_SEGMENT", "stub_offset", "ServiceHook"]

ROM_SEGMENT = 0xF000
ROM_BASE = ROM_SEGMENT << 4
STUB_AREA = 0xE000           # offset of vector 0's stub; 4 bytes per vector
TRAP = b"\xcc"                # the first byte of every stub: int3
IRQ_VECTORS = tuple(range(0x08, 0x10)) + tuple(range(0x70, 0x78))

Handler = Callable[[BiosCall], None]


# The IBM PC/AT BIOS entry points that software (and SeaBIOS) keeps at fixed addresses; old
# boot code sometimes jumps to them directly.  Other vectors get a stub in the STUB_AREA.
FIXED_ENTRY = {0x02: 0xE2C3, 0x05: 0xFF54, 0x08: 0xFEA5, 0x09: 0xE987, 0x0E: 0xEF57,
               0x10: 0xF065, 0x11: 0xF84D, 0x12: 0xF841, 0x13: 0xE3FE, 0x14: 0xE739,
               0x15: 0xF859, 0x16: 0xE82E, 0x17: 0xEFD2, 0x19: 0xE6F2, 0x1A: 0xFE6E}
_BY_OFFSET = {off: vec for vec, off in FIXED_ENTRY.items()}


def stub_offset(vector: int) -> int:
    return FIXED_ENTRY.get(vector, STUB_AREA + 4 * vector)


@dataclass
class ServiceHook:
    """A plugin's hook on a BIOS service; `remove()` unregisters it."""

    phase: str               # "before" | "instead" | "after"
    vector: int
    ah: int | None
    fn: Callable[[BiosCall], object]
    _owner: "Bios | None" = field(default=None, repr=False)

    def remove(self) -> None:
        if self._owner is not None and self in self._owner.hooks:
            self._owner.hooks.remove(self)
            self._owner = None


def _load_services() -> dict[int, Handler]:
    from debugger.machine.bios import services

    found: dict[int, Handler] = {}
    for info in pkgutil.iter_modules(services.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{services.__name__}.{info.name}")
        for vec in getattr(mod, "VECTORS", (getattr(mod, "VECTOR", None),)):
            if vec is not None:
                found[vec] = mod.handle
    return found


class Bios:
    def __init__(self, machine: "MachinePort") -> None:
        self.machine = machine
        self.services: dict[int, Handler] = _load_services()
        self.hooks: list[ServiceHook] = []
        self.calls = 0

    # -- ROM -------------------------------------------------------------------------------------
    def stub_linear(self, vector: int) -> int:
        return ROM_BASE + stub_offset(vector)

    def vector_at(self, linear: int) -> int | None:
        """The vector whose ROM stub is at `linear`, when the stub is what is there: guest code
        that sits at a BIOS entry address (a guest that copied its own code over the ROM) runs
        as the guest's code."""
        off = linear - ROM_BASE
        if off in _BY_OFFSET:
            vec = _BY_OFFSET[off]
        else:
            off -= STUB_AREA
            if not (0 <= off < 1024 and off % 4 == 0 and off // 4 not in FIXED_ENTRY):
                return None
            vec = off // 4
        try:
            if self.machine.mem.read_linear(linear, 1) != TRAP:
                return None
        except Exception:
            return None
        return vec

    def build_rom(self) -> None:
        """Write the stubs and the ROM identification bytes; point the IVT at the stubs."""
        mem = self.machine.mem
        rom = bytearray(b"\xcf" * 0x10000)           # anything jumped into: iret
        for v in range(256):
            off = stub_offset(v)
            tail = b"\xcd\x1c\xcf" if v == 0x08 else b"\xcf"
            rom[off:off + 1 + len(tail)] = TRAP + tail
        from debugger.machine.bios.services._mouse import MOUSE_RET, MOUSE_RET_CODE

        rom[MOUSE_RET:MOUSE_RET + len(MOUSE_RET_CODE)] = MOUSE_RET_CODE
        rom[0xFFF0:0xFFF5] = b"\xea" + stub_offset(0x19).to_bytes(2, "little") + b"\x00\xf0"
        rom[0xFFF5:0xFFFD] = b"01/01/26"
        rom[0xFFFE] = 0xFC                            # model byte: AT
        from debugger.machine.bios import tables

        stubs = {v: bytes(rom[stub_offset(v):stub_offset(v) + 2]) for v in range(256)}
        tables.write_rom_tables(rom)
        for v, code in stubs.items():
            if rom[stub_offset(v):stub_offset(v) + 2] != code:
                raise AssertionError(f"BIOS ROM table overlaps the INT {v:02X}h entry point")
        mem.write_phys(ROM_BASE, bytes(rom))
        ivt = b"".join(((ROM_SEGMENT << 16) | stub_offset(v)).to_bytes(4, "little")
                       for v in range(256))
        mem.write_phys(0, ivt)

    # -- hooks -----------------------------------------------------------------------------------
    def add_hook(self, phase: str, vector: int, ah: int | None,
                 fn: Callable[[BiosCall], object]) -> ServiceHook:
        if phase not in ("before", "instead", "after"):
            raise ValueError(f"unknown hook phase {phase!r}")
        hook = ServiceHook(phase, vector, ah, fn, self)
        self.hooks.append(hook)
        return hook

    def _hooks(self, phase: str, vector: int, ah: int) -> list[ServiceHook]:
        return [h for h in self.hooks
                if h.phase == phase and h.vector == vector and h.ah in (None, ah)]

    # -- dispatch --------------------------------------------------------------------------------
    def dispatch(self, vector: int) -> None:
        """Run the service for `vector` on the stopped guest (called at the stub's exit)."""
        call = BiosCall(self.machine, vector)
        ah = call.ah
        self.calls += 1
        for h in self._hooks("before", vector, ah):
            h.fn(call)
        instead = self._hooks("instead", vector, ah)
        if instead:
            for h in instead:
                h.fn(call)
        else:
            handler = self.services.get(vector)
            if handler is None:
                self._unknown(call, vector)
            else:
                handler(call)
        for h in self._hooks("after", vector, ah):
            h.fn(call)

    def _unknown(self, call: BiosCall, vector: int) -> None:
        if vector in IRQ_VECTORS:
            self.machine.end_of_interrupt(vector)
            return
        self.machine.events.emit("bios-unknown", f"INT {vector:02X}h AX={call.ax:04X}: no such "
                                 "BIOS service (CF set)", vector=vector, ax=call.ax)
        call.cf = True
