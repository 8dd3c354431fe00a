"""PCI configuration space: mechanism #1 (ports CF8h/CFCh) and the functions of QEMU's `pc` machine.

Bus 0 holds what qemu-system-i386 7.2 (`-machine pc`, i440FX) has once SeaBIOS has run, without
the optional devices (ACPI power management, VGA, NIC):

- 00:00.0 host bridge, Intel 82441FX (8086:1237, rev 02): PAM registers as SeaBIOS leaves them
  (F segment and C0000h-E7FFFh read-only, E8000h-EFFFFh read-write; see rom.py), SMRAM 02h;
- 00:01.0 ISA bridge, PIIX3 (8086:7000), multi-function: PIRQ A-D routed to IRQ 10, 10, 11, 11;
- 00:01.1 IDE controller, PIIX3 (8086:7010), programming interface 80h: both channels in ISA
  compatibility mode (ports 1F0h/3F6h and 170h/376h, IRQ 14/15), so BARs 0-3 are not
  implemented and read 0, as on a PIIX3 and under QEMU; BAR4, the bus-master registers, holds
  C001h as SeaBIOS assigns it (the bus-master registers themselves are not emulated: those
  ports read all ones).

Every value was read from QEMU 7.2 by `images/pci/pciprobe.asm`; `tests/machine/test_pci.py`
compares the two.  Writes follow QEMU's masks: the command register (I/O, memory, bus master,
SERR, INTx disable), cache line size, interrupt line, BAR4's address bits and every register
from 40h up are writable; the status register's error bits are write-one-to-clear; the rest is
read-only.  Registers keep what is written; the PAM bytes (59h-5Fh) decide which parts of the
BIOS area drop guest stores (`debugger.machine.rom`, told through `links.on_pam`); the SMRAM byte
and BAR4 map nothing.

Port behaviour (QEMU's, for the accesses software makes):
- CF8h: a dword write sets the address register; narrower writes are ignored; a read of any
  size at CF8h, CFAh or CFBh returns the register's low bytes (not shifted).
- CF9h (byte): the PIIX3 reset control register; writing a value with bit 2 set resets the
  machine, otherwise bit 1 is kept.
- CFCh-CFFh: an access at CFCh+k reads or writes `size` bytes from register (address | k) & FFh
  of the addressed function; with bit 31 of the address clear, or no function there (another
  bus, an absent device), reads return all ones and writes are dropped.
- An access not aligned to its size is split into bytes (as a PC's chipset sees an unaligned
  I/O cycle); QEMU rejects such accesses (reads 0).
"""
from __future__ import annotations

from typing import Callable, Iterator

from debugger.machine.bus import Device
from debugger.machine.devices._base import Links

__all__ = ["PciFunction", "PciHost", "standard_functions", "ADDRESS", "DATA", "RESET_CONTROL"]

ADDRESS, RESET_CONTROL, DATA = 0xCF8, 0xCF9, 0xCFC
HEADER = 0x40
PAM_START, PAM_END = 0x59, 0x60      # host bridge: PAM0-PAM6
STATUS_W1C = 0xF900          # parity, target/master aborts, SERR, detected parity
COMMAND_W = 0x0507           # I/O, memory, bus master, SERR, INTx disable
QEMU_SUBSYSTEM = 0x11001AF4  # subsystem 1AF4:1100, what QEMU puts in every function


class PciFunction:
    """One function's 256-byte configuration space with its write and write-one-to-clear masks."""

    def __init__(self, bdf: int, name: str, regs: dict[int, int],
                 bars: dict[int, int] | None = None) -> None:
        self.bdf = bdf
        self.name = name
        self.config = bytearray(256)
        for off, dword in regs.items():
            self.config[off:off + 4] = dword.to_bytes(4, "little")
        wmask = bytearray(256)
        wmask[0x04:0x06] = COMMAND_W.to_bytes(2, "little")
        wmask[0x0C] = 0xFF                       # cache line size
        wmask[0x3C] = 0xFF                       # interrupt line
        wmask[HEADER:] = b"\xff" * (256 - HEADER)
        for off, size in (bars or {}).items():   # BAR offset -> size (I/O BARs)
            wmask[off:off + 4] = (~(size - 1) & 0xFFFFFFFC).to_bytes(4, "little")
        self.wmask = bytes(wmask)
        w1c = bytearray(256)
        w1c[0x06:0x08] = STATUS_W1C.to_bytes(2, "little")
        self.w1c = bytes(w1c)

    @property
    def vendor(self) -> int:
        return int.from_bytes(self.config[0:2], "little")

    @property
    def device(self) -> int:
        return int.from_bytes(self.config[2:4], "little")

    @property
    def class_code(self) -> int:
        """Class, subclass and programming interface (bytes 0Bh, 0Ah, 09h)."""
        return int.from_bytes(self.config[0x09:0x0C], "little")

    def read(self, reg: int, size: int) -> int:
        """`size` bytes from `reg`; bytes past the end read 0 (QEMU)."""
        return int.from_bytes(self.config[reg:reg + size], "little")

    def write(self, reg: int, size: int, value: int) -> None:
        for i in range(size):
            a = reg + i
            if a >= 256:
                break
            v = (value >> (8 * i)) & 0xFF
            wm = self.wmask[a]
            b = (self.config[a] & ~wm) | (v & wm)
            self.config[a] = b & ~(v & self.w1c[a]) & 0xFF


def standard_functions() -> dict[int, PciFunction]:
    """Bus 0 of QEMU's `pc` machine after SeaBIOS, keyed by bus << 8 | device << 3 | function."""
    host = PciFunction(0x00, "Host bridge: Intel 440FX (8086:1237)", {
        0x00: 0x12378086, 0x04: 0x00000103, 0x08: 0x06000002, 0x2C: QEMU_SUBSYSTEM,
        0x54: 0x10000000, 0x58: 0x11111000, 0x5C: 0x33111111, 0x70: 0x00020000})
    isa = PciFunction(0x08, "ISA bridge: Intel PIIX3 (8086:7000)", {
        0x00: 0x70008086, 0x04: 0x02000103, 0x08: 0x06010000, 0x0C: 0x00800000,
        0x2C: QEMU_SUBSYSTEM, 0x4C: 0x0003004D, 0x60: 0x0B0B0A0A, 0x68: 0x00000200,
        0x70: 0x00000080, 0x74: 0x0C0C0000, 0x78: 0x00000002, 0xA0: 0x00000008,
        0xA8: 0x0000000F})
    ide = PciFunction(0x09, "IDE interface: Intel PIIX3 IDE (8086:7010)", {
        0x00: 0x70108086, 0x04: 0x02800103, 0x08: 0x01018000, 0x20: 0x0000C001,
        0x2C: QEMU_SUBSYSTEM, 0x40: 0x80008000}, bars={0x20: 16})
    return {f.bdf: f for f in (host, isa, ide)}


class PciHost(Device):
    """The i440FX's configuration mechanism #1 and the PIIX3's reset control register."""

    name = "pci"
    ports = (range(ADDRESS, DATA + 4),)

    def __init__(self, on_reset: Callable[[], None] | None = None,
                 on_pam: Callable[[], None] | None = None) -> None:
        self.links = Links(on_reset=on_reset, on_pam=on_pam)
        self.reset()

    def reset(self) -> None:
        self.address = 0
        self.rcr = 0
        self.functions = standard_functions()

    # -- the configuration space, by bus:device.function ---------------------------------------
    def function(self, bdf: int) -> PciFunction | None:
        return self.functions.get(bdf & 0xFFFF)

    def __iter__(self) -> Iterator[PciFunction]:
        return iter(sorted(self.functions.values(), key=lambda f: f.bdf))

    def config_read(self, bdf: int, reg: int, size: int) -> int:
        """What a read of `size` bytes at register `reg` returns (all ones with no function)."""
        fn = self.function(bdf)
        if fn is None:
            return (1 << (8 * size)) - 1
        return fn.read(reg & 0xFF, size)

    def config_write(self, bdf: int, reg: int, size: int, value: int) -> None:
        fn = self.function(bdf)
        if fn is not None:
            fn.write(reg & 0xFF, size, value)
            reg &= 0xFF
            if bdf & 0xFFFF == 0 and reg < PAM_END and reg + size > PAM_START \
                    and self.links.on_pam is not None:
                self.links.on_pam()

    def pam(self) -> bytes:
        """The host bridge's PAM0-PAM6 registers (59h-5Fh)."""
        return bytes(self.functions[0].config[PAM_START:PAM_END])

    # -- ports ---------------------------------------------------------------------------------
    def io_read(self, port: int, size: int) -> int:
        if port % size:
            return self._split_read(port, size)
        if port == RESET_CONTROL:
            return self.rcr
        if port < DATA:
            return self.address & ((1 << (8 * size)) - 1)
        target = self._target(port)
        if target is None:
            return (1 << (8 * size)) - 1
        return self.config_read(*target, size)

    def io_write(self, port: int, size: int, value: int) -> None:
        if port % size:
            for i in range(size):
                p = port + i
                if ADDRESS <= p < DATA + 4:
                    self.io_write(p, 1, (value >> (8 * i)) & 0xFF)
            return
        if port == RESET_CONTROL:
            if value & 0x04:
                if self.links.on_reset is not None:
                    self.links.on_reset()
                return
            self.rcr = value & 0x02
            return
        if port < DATA:
            if port == ADDRESS and size == 4:
                self.address = value & 0xFFFFFFFF
            return
        target = self._target(port)
        if target is not None:
            self.config_write(*target, size, value)

    def _split_read(self, port: int, size: int) -> int:
        value = 0
        for i in range(size):
            p = port + i
            byte = self.io_read(p, 1) if ADDRESS <= p < DATA + 4 else 0xFF
            value |= byte << (8 * i)
        return value

    def _target(self, port: int) -> tuple[int, int] | None:
        """(bdf, register) the data port at `port` addresses, or None when disabled."""
        a = self.address
        if not a & 0x80000000:
            return None
        return (a >> 8) & 0xFFFF, (a | (port - DATA)) & 0xFF
