"""A 16550A UART (COM1 at 3F8h/IRQ4 by default; COM2 at 2F8h/IRQ3 with other arguments).

Registers from the 16550A data sheet: RBR/THR, IER, IIR/FCR (16-byte FIFOs, trigger levels 1, 4,
8, 14), LCR with the divisor latch (DLAB), MCR with loopback, LSR, MSR (with its delta bits),
SCR.  Interrupt identification follows the chip's priorities: line status, received data
(trigger level reached; "character timeout" when fewer bytes wait and no more are coming),
transmitter empty (set by a THR write or by enabling ETBEI, cleared by reading IIR or writing
THR), modem status.  As on a PC, the interrupt reaches the PIC only while MCR OUT2 is set (and
not in loopback mode, where OUT2 is internal).

Transmission is instant: THRE and TEMT are always set, and each byte written to THR is appended
to `output` and passed to `on_tx` (in loopback mode it is received instead).  Reception is
instant too: `feed(data)` queues scripted input, which moves into the receiver as soon as there
is room (no overrun, as with hardware flow control).  Scripted input is kept across a machine
reset, and bytes the guest has not read yet go back to the queue when it clears the receive
FIFO, so no scripted byte is lost to the guest's initialisation.  No baud-rate pacing: the
divisor is stored (see `baud`).

Reset state = QEMU's (seen at the boot sector): IER 00h, IIR 01h, LCR 00h, MCR 08h, LSR 60h,
MSR B0h, divisor 12 (9600 baud).
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

from debugger.machine.devices._base import Links, NullIrq, PortDevice

__all__ = ["Uart"]

IER_RDA, IER_THRE, IER_RLS, IER_MSR = 1, 2, 4, 8
LSR_DR, LSR_OE, LSR_ERRORS, LSR_THRE, LSR_TEMT = 1, 2, 0x1E, 0x20, 0x40
MCR_DTR, MCR_RTS, MCR_OUT1, MCR_OUT2, MCR_LOOP = 1, 2, 4, 8, 0x10
IIR_NONE, IIR_MSR, IIR_THRE, IIR_RDA, IIR_RLS, IIR_CTI = 1, 0, 2, 4, 6, 0x0C
TRIGGERS = (1, 4, 8, 14)
CLOCK_HZ = 115200


class Uart(PortDevice):
    def __init__(self, irq: Any = None, events: Any = None, *, base: int = 0x3F8,
                 irq_line: int = 4, name: str = "com1",
                 on_tx: Callable[[int], None] | None = None) -> None:
        self.name = name
        self.base = base
        self.irq_line = irq_line
        self.ports = (range(base, base + 8),)
        self.links = Links(irq=irq or NullIrq(), events=events, on_tx=on_tx)
        self.script: deque[int] = deque()
        self.tx = bytearray()
        self.rx: deque[tuple[int, bool]] = deque()       # (byte, came from the script)
        self.reset()

    @property
    def irq(self) -> Any:
        return self.links.irq

    @irq.setter
    def irq(self, sink: Any) -> None:
        self.links.irq = sink

    @property
    def on_tx(self) -> Callable[[int], None] | None:
        return self.links.on_tx

    @on_tx.setter
    def on_tx(self, fn: Callable[[int], None] | None) -> None:
        self.links.on_tx = fn

    @property
    def output(self) -> bytes:
        """Everything the guest transmitted (not cleared by reset)."""
        return bytes(self.tx)

    def reset(self) -> None:
        self._return_to_script()
        self.rx.clear()
        self.ier = 0
        self.lcr = 0
        self.mcr = MCR_OUT2
        self.line_errors = 0
        self.scr = 0
        self.divisor = 12
        self.fifo = False
        self.trigger = 1
        self.thre_pending = False
        self.msr_delta = 0
        self.last_rx = 0
        self.irq_level = False
        self._fill()

    # -- scripted input ----------------------------------------------------------------------------
    def feed(self, data: bytes | str) -> None:
        """Queue bytes for the guest to receive."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.script.extend(data)
        self._fill()
        self._update()

    def pending_input(self) -> int:
        return len(self.script) + sum(1 for _, s in self.rx if s)

    def _capacity(self) -> int:
        return 16 if self.fifo else 1

    def _fill(self) -> None:
        if self.mcr & MCR_LOOP:
            return                               # the line input is disconnected in loopback
        while self.script and len(self.rx) < self._capacity():
            self.rx.append((self.script.popleft(), True))

    def _return_to_script(self) -> None:
        self.script.extendleft(b for b, scripted in reversed(self.rx) if scripted)

    def _receive(self, byte: int) -> None:
        if len(self.rx) >= self._capacity():
            self.line_errors |= LSR_OE
            return
        self.rx.append((byte, False))

    # -- interrupts --------------------------------------------------------------------------------
    def _modem_status(self) -> int:
        if self.mcr & MCR_LOOP:
            m = self.mcr
            return (((m & MCR_RTS) << 3) | ((m & MCR_DTR) << 5) | ((m & MCR_OUT1) << 4)
                    | ((m & MCR_OUT2) << 4))
        return 0xB0                              # CTS, DSR, DCD: a terminal is attached

    def interrupt_id(self) -> int:
        if self.ier & IER_RLS and self.line_errors:
            return IIR_RLS
        if self.ier & IER_RDA and self.rx:
            if not self.fifo or len(self.rx) >= self.trigger:
                return IIR_RDA
            if not self.script:
                return IIR_CTI
        if self.ier & IER_THRE and self.thre_pending:
            return IIR_THRE
        if self.ier & IER_MSR and self.msr_delta:
            return IIR_MSR
        return IIR_NONE

    def _update(self) -> None:
        gate = self.mcr & MCR_OUT2 and not self.mcr & MCR_LOOP
        level = bool(gate) and self.interrupt_id() != IIR_NONE
        if level != self.irq_level:
            self.irq_level = level
            if level:
                self.links.irq.raise_irq(self.irq_line)
            else:
                self.links.irq.lower_irq(self.irq_line)

    # -- ports -------------------------------------------------------------------------------------
    @property
    def baud(self) -> float:
        return CLOCK_HZ / (self.divisor or 0x10000)

    def read8(self, port: int) -> int:
        reg = port - self.base
        dlab = self.lcr & 0x80
        if reg == 0 and dlab:
            v = self.divisor & 0xFF
        elif reg == 1 and dlab:
            v = self.divisor >> 8
        elif reg == 0:
            if self.rx:
                self.last_rx = self.rx.popleft()[0]
                self._fill()
            v = self.last_rx
        elif reg == 1:
            v = self.ier
        elif reg == 2:
            iid = self.interrupt_id()
            if iid == IIR_THRE:
                self.thre_pending = False
            v = iid | (0xC0 if self.fifo else 0)
        elif reg == 3:
            v = self.lcr
        elif reg == 4:
            v = self.mcr
        elif reg == 5:
            v = (LSR_DR if self.rx else 0) | self.line_errors | LSR_THRE | LSR_TEMT
            self.line_errors = 0
        elif reg == 6:
            v = self._modem_status() | self.msr_delta
            self.msr_delta = 0
        else:
            v = self.scr
        self._update()
        return v

    def write8(self, port: int, value: int) -> None:
        reg = port - self.base
        dlab = self.lcr & 0x80
        if reg == 0 and dlab:
            self.divisor = (self.divisor & 0xFF00) | value
        elif reg == 1 and dlab:
            self.divisor = (self.divisor & 0xFF) | (value << 8)
        elif reg == 0:
            self._transmit(value)
        elif reg == 1:
            if value & IER_THRE and not self.ier & IER_THRE:
                self.thre_pending = True         # THR is empty: enabling ETBEI interrupts
            self.ier = value & 0x0F
        elif reg == 2:
            self._fcr(value)
        elif reg == 3:
            self.lcr = value
        elif reg == 4:
            self._mcr(value & 0x1F)
        elif reg == 7:
            self.scr = value
        self._update()

    def transmitted(self, data: bytes) -> None:
        """`data` written to THR elsewhere (the native port path, `hotports.py`), in order: as
        that many THR writes."""
        for value in data:
            self._transmit(value)
        self._update()

    def _transmit(self, value: int) -> None:
        if self.mcr & MCR_LOOP:
            self._receive(value)
        else:
            self.tx.append(value)
            if self.links.on_tx is not None:
                self.links.on_tx(value)
        self.thre_pending = True                 # sent at once: THR empty again

    def _fcr(self, value: int) -> None:
        enable = bool(value & 1)
        if enable != self.fifo or value & 2:
            self._return_to_script()
            self.rx.clear()
        self.fifo = enable
        self.trigger = TRIGGERS[value >> 6] if enable else 1
        self._fill()

    def _mcr(self, value: int) -> None:
        old_status = self._modem_status()
        was_loop = self.mcr & MCR_LOOP
        self.mcr = value
        new_status = self._modem_status()
        changed = old_status ^ new_status
        delta = ((changed >> 4) & 0x0B)          # DCTS, DDSR, DDCD
        if old_status & 0x40 and not new_status & 0x40:
            delta |= 0x04                        # TERI: RI went inactive
        self.msr_delta |= delta
        if was_loop and not value & MCR_LOOP:
            self._fill()
