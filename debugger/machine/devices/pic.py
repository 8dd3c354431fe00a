"""The 8259A programmable interrupt controller pair: master at 20h/21h, slave at A0h/A1h on IR2.

Implemented from the 8259A data sheet: the ICW1-ICW4 initialisation sequence (vector base, single
or cascade, level or edge triggering, auto-EOI, special fully nested mode), OCW1 masks, OCW2 EOI
and priority rotation (non-specific, specific, rotate on EOI, rotate in AEOI mode, set
priority), OCW3 read IRR/ISR, poll and special mask mode.

Edge-triggered requests are latched in IRR on a rising edge of the line and stay there until
acknowledged, even if the line falls again before (what QEMU does; a real 8259A drops a request
whose line falls before INTA and answers the INTA with IR7).  Level-triggered inputs (ICW1 LTIM)
request while the line is high.  An INTA with no request left answers with IR7 of that chip,
without setting its in-service bit: the spurious IRQ7 (or IRQ15, and then the master's IR2 is in
service, as on hardware).

`reset()` leaves the state the BIOS leaves at the boot sector (seen with qemu-system-i386 and
SeaBIOS, `in al, 21h` / `in al, 0A1h` at 0000:7C00): vector bases 08h and 70h, master mask B8h
(IRQ0 timer, IRQ1 keyboard, IRQ2 cascade, IRQ6 diskette unmasked), slave mask 8Eh (IRQ8 RTC,
IRQ12 mouse, IRQ13 FPU, IRQ14 disk unmasked).  `program_like_bios` programs other values with
the same ICW sequence a BIOS sends.
"""
from __future__ import annotations

from debugger.machine.devices._base import PortDevice

__all__ = ["Pic", "Chip8259", "BIOS_MASTER_MASK", "BIOS_SLAVE_MASK", "CASCADE"]

BIOS_MASTER_MASK = 0xB8
BIOS_SLAVE_MASK = 0x8E
CASCADE = 2            # the slave's INT output is wired to the master's IR2 (ICW3 is stored only)


class Chip8259:
    """One 8259A.  Plain state; the `Pic` pair wires two of them together."""

    def __init__(self, is_master: bool) -> None:
        self.is_master = is_master
        self.reset_chip()

    def reset_chip(self) -> None:
        self.base = 0x08 if self.is_master else 0x70
        self.irr = 0           # latched requests
        self.level = 0         # current line levels (edge detection, level-triggered mode)
        self.imr = 0
        self.isr = 0
        self.priority_add = 0  # the highest-priority line (IR7 lowest after init)
        self.read_isr = False
        self.poll = False
        self.special_mask = False
        self.auto_eoi = False
        self.rotate_on_aeoi = False
        self.sfnm = False
        self.ltim = False
        self.single = False
        self.icw4_needed = True
        self.icw3 = 0x04 if self.is_master else 0x02
        self.init_step = 0     # 0 = operational; 2, 3, 4 = expecting that ICW on the data port

    # -- requests ----------------------------------------------------------------------------------
    def set_line(self, line: int, high: bool) -> None:
        bit = 1 << line
        if self.ltim:
            self.irr = (self.irr | bit) if high else (self.irr & ~bit)
        elif high and not self.level & bit:
            self.irr |= bit
        self.level = (self.level | bit) if high else (self.level & ~bit)

    def _priority(self, mask: int) -> int:
        """Priority rank (0 = highest) of the highest-priority bit in `mask`; 8 if none."""
        if not mask:
            return 8
        p = 0
        while not mask & (1 << ((p + self.priority_add) & 7)):
            p += 1
        return p

    def best(self, requests: int) -> int | None:
        """The line this chip would signal for `requests` (its IRR view), or None."""
        req = requests & ~self.imr
        p = self._priority(req)
        if p == 8:
            return None
        isr = self.isr
        if self.special_mask:
            isr &= ~self.imr
        if self.sfnm and self.is_master:
            isr &= ~(1 << CASCADE)
        if p < self._priority(isr):
            return (p + self.priority_add) & 7
        return None

    def intack(self, line: int) -> None:
        bit = 1 << line
        if self.auto_eoi:
            if self.rotate_on_aeoi:
                self.priority_add = (line + 1) & 7
        else:
            self.isr |= bit
        if not self.ltim:
            self.irr &= ~bit

    # -- port protocol -----------------------------------------------------------------------------
    def write_command(self, value: int) -> None:
        if value & 0x10:                                     # ICW1
            self.irr = self.level if value & 0x08 else 0
            self.imr = 0
            self.isr = 0
            self.priority_add = 0
            self.special_mask = False
            self.read_isr = False
            self.poll = False
            self.auto_eoi = False
            self.rotate_on_aeoi = False
            self.sfnm = False
            self.ltim = bool(value & 0x08)
            self.single = bool(value & 0x02)
            self.icw4_needed = bool(value & 0x01)
            self.init_step = 2
        elif value & 0x08:                                   # OCW3
            if value & 0x04:
                self.poll = True
            if value & 0x02:
                self.read_isr = bool(value & 0x01)
            if value & 0x40:
                self.special_mask = bool(value & 0x20)
        else:                                                # OCW2
            self._ocw2(value)

    def _ocw2(self, value: int) -> None:
        cmd = value >> 5
        level = value & 7
        if cmd in (0, 4):                                    # clear / set rotate in AEOI mode
            self.rotate_on_aeoi = cmd == 4
        elif cmd in (1, 5):                                  # non-specific EOI (and rotate)
            isr = self.isr & ~self.imr if self.special_mask else self.isr
            p = self._priority(isr)
            if p != 8:
                line = (p + self.priority_add) & 7
                self.isr &= ~(1 << line)
                if cmd == 5:
                    self.priority_add = (line + 1) & 7
        elif cmd == 3:                                       # specific EOI
            self.isr &= ~(1 << level)
        elif cmd == 7:                                       # rotate on specific EOI
            self.isr &= ~(1 << level)
            self.priority_add = (level + 1) & 7
        elif cmd == 6:                                       # set priority: `level` lowest
            self.priority_add = (level + 1) & 7

    def write_data(self, value: int) -> None:
        if self.init_step == 2:                              # ICW2
            self.base = value & 0xF8
            self.init_step = 4 if self.single else 3
            if self.single and not self.icw4_needed:
                self.init_step = 0
        elif self.init_step == 3:                            # ICW3
            self.icw3 = value
            self.init_step = 4 if self.icw4_needed else 0
        elif self.init_step == 4:                            # ICW4
            self.auto_eoi = bool(value & 0x02)
            self.sfnm = bool(value & 0x10)
            self.init_step = 0
        else:                                                # OCW1
            self.imr = value

    def read_command_register(self) -> int:
        return self.isr if self.read_isr else self.irr


class Pic(PortDevice):
    """The master/slave 8259A pair; also the machine's `IrqSink`."""

    name = "pic"
    ports = (range(0x20, 0x22), range(0xA0, 0xA2))

    def __init__(self) -> None:
        self.master = Chip8259(True)
        self.slave = Chip8259(False)
        self.reset()

    def reset(self) -> None:
        self.master.reset_chip()
        self.slave.reset_chip()
        self.program_like_bios()

    def program_like_bios(self, master_base: int = 0x08, slave_base: int = 0x70,
                          master_mask: int = BIOS_MASTER_MASK,
                          slave_mask: int = BIOS_SLAVE_MASK) -> None:
        """The ICW1-ICW4 and OCW1 sequence a PC BIOS sends (edge, cascade, 8086 mode)."""
        for chip, base, icw3, mask in ((self.master, master_base, 0x04, master_mask),
                                       (self.slave, slave_base, 0x02, slave_mask)):
            chip.write_command(0x11)
            chip.write_data(base)
            chip.write_data(icw3)
            chip.write_data(0x01)
            chip.write_data(mask)

    # -- IrqSink -----------------------------------------------------------------------------------
    def raise_irq(self, line: int) -> None:
        self._chip(line).set_line(line & 7, True)

    def lower_irq(self, line: int) -> None:
        self._chip(line).set_line(line & 7, False)

    def _chip(self, line: int) -> Chip8259:
        if not 0 <= line <= 15:
            raise ValueError(f"IRQ line {line} out of range 0-15")
        return self.master if line < 8 else self.slave

    # -- the CPU side ------------------------------------------------------------------------------
    def _master_requests(self) -> int:
        req = self.master.irr
        if not self.master.single and self.slave.best(self.slave.irr) is not None:
            req |= 1 << CASCADE
        return req

    def pending_vector(self) -> int | None:
        """The vector the next INTA would return, or None if the pair is not interrupting."""
        if not self.master.irr and not self.slave.irr:
            return None                 # the common case, asked before every step
        line = self.master.best(self._master_requests())
        if line is None:
            return None
        if not self.master.single and line == CASCADE:
            sline = self.slave.best(self.slave.irr)
            if sline is None:
                return self.slave.base + 7
            return self.slave.base + sline
        return self.master.base + line

    def deliverable_lines(self) -> int:
        """The IRQ lines (a mask of 0-15) whose request the pair would signal to the CPU in
        its present state (masks, in-service levels, priorities): what can still wake a halted
        CPU, since none of that state changes while no instruction executes."""
        m, s = self.master, self.slave
        out = 0
        for line in range(8):
            if not m.single and line == CASCADE:
                if m.best(1 << CASCADE) is not None:
                    for sline in range(8):
                        if s.best(1 << sline) is not None:
                            out |= 1 << (8 + sline)
            elif m.best(1 << line) is not None:
                out |= 1 << line
        return out

    def acknowledge(self) -> int:
        """INTA: move the request to in-service and return its vector (spurious: IR7 of a chip)."""
        m = self.master
        line = m.best(self._master_requests())
        if line is None:
            return m.base + 7                                  # spurious IRQ7
        cascade = not m.single and line == CASCADE
        m.intack(line)
        if not cascade:
            return m.base + line
        sline = self.slave.best(self.slave.irr)
        if sline is None:
            return self.slave.base + 7                         # spurious IRQ15
        self.slave.intack(sline)
        return self.slave.base + sline

    def in_service(self, line: int) -> bool:
        """Whether IRQ `line` (0-15) is in service (set by INTA, cleared by EOI)."""
        return bool(self._chip(line).isr & (1 << (line & 7)))

    def requested(self, line: int) -> bool:
        return bool(self._chip(line).irr & (1 << (line & 7)))

    def masked(self, line: int) -> bool:
        return bool(self._chip(line).imr & (1 << (line & 7)))

    # -- ports -------------------------------------------------------------------------------------
    def read8(self, port: int) -> int:
        chip = self.master if port < 0xA0 else self.slave
        if port & 1:
            return chip.imr
        if chip.poll:
            chip.poll = False
            return self._poll(chip)
        return chip.read_command_register()

    def _poll(self, chip: Chip8259) -> int:
        """OCW3 poll: the highest request as 80h | level, acknowledged as by an INTA."""
        requests = self._master_requests() if chip is self.master else chip.irr
        line = chip.best(requests)
        if line is None:
            return 0x00
        if chip is self.master and not chip.single and line == CASCADE:
            sline = self.slave.best(self.slave.irr)
            if sline is not None:
                self.slave.intack(sline)
        chip.intack(line)
        return 0x80 | line

    def write8(self, port: int, value: int) -> None:
        chip = self.master if port < 0xA0 else self.slave
        if port & 1:
            chip.write_data(value)
        else:
            chip.write_command(value)

    def describe(self) -> str:
        """One line per chip, like QEMU's `info pic`."""
        out = []
        for label, c in (("master", self.master), ("slave", self.slave)):
            out.append(f"{label}: irr={c.irr:02x} imr={c.imr:02x} isr={c.isr:02x} "
                       f"hprio={c.priority_add} irq_base={c.base:02x} "
                       f"{'level' if c.ltim else 'edge'}{' aeoi' if c.auto_eoi else ''}"
                       f"{' sfnm' if c.sfnm else ''}{' smm' if c.special_mask else ''}")
        return "\n".join(out)
