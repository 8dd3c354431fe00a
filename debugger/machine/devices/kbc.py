"""The 8042 keyboard controller (data 60h, status/command 64h), its keyboard, and port 92h.

Controller commands: 20h-3Fh/60h-7Fh read/write the command byte and internal RAM, A7h/A8h/A9h
auxiliary port disable/enable/test, AAh self-test (55h), ABh keyboard interface test (00h),
ADh/AEh keyboard interface disable/enable, C0h input port, D0h/D1h output port read/write (bit 0
= system reset, active low; bit 1 = A20), D2h/D3h write the keyboard/auxiliary output buffer,
DDh/DFh A20 off/on (some chipsets), E0h test inputs, F0h-FFh pulse output-port bits (FEh: reset).
A PS/2 mouse (`ps2mouse.Ps2Mouse`) is attached: D4h sends it a byte (and, as in QEMU, clears
the auxiliary-disable bit); its replies enter the output buffer with the auxiliary flag while
the auxiliary interface is enabled, after controller replies and keyboard bytes.

Keyboard commands written to port 60h are answered as a PS/2 keyboard does: EDh LEDs, EEh echo,
F0h scan-code set, F2h identify (ABh 83h, or ABh 41h through translation), F3h typematic,
F4h/F5h/F6h enable/disable/defaults, FEh resend, FFh reset (FAh AAh); unknown ones get FEh.

Scripted input (`type_keys`) is kept outside the machine state proper: a machine reset keeps
it.  Scripted bytes enter the output buffer one at a time, at least `key_gap_ns` of virtual time
apart (1 ms by default: a real keyboard sends a byte in about that time), only while the output
buffer is empty, the keyboard interface enabled and the keyboard scanning; each byte in the
buffer raises IRQ1 when the command byte enables it (IRQ12 for the auxiliary buffer).  Set-1
codes are queued; with translation off (command byte bit 6) they are delivered in set 2.

A20: the gate follows whichever of the 8042 output port (bit 1) and port 92h (bit 1) was written
last (what QEMU does; Intel chipsets OR the two).  `on_a20(enabled)` is called when the gate
changes, `on_reset()` when the guest pulses reset (8042 output port bit 0 low, or a 0-to-1 write
of port 92h bit 0); both are also logged ("a20", "reset").  `reset()` does not call them.

Reset state = what qemu-system-i386 + SeaBIOS leave at the boot sector: command byte 61h
(keyboard IRQ, auxiliary disabled, translation), status 1Ch, output port CFh, port 92h 02h.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Iterable

from debugger.machine.devices._base import Links, NullIrq, PortDevice
from debugger.machine.devices.ps2mouse import Ps2Mouse
from debugger.machine.devices.scancodes import Set2Converter, text_to_scancodes

__all__ = ["Kbc", "KEY_GAP_NS"]

KEY_GAP_NS = 1_000_000
ACK, RESEND, BAT_OK = 0xFA, 0xFE, 0xAA
CMD_KBD_INT, CMD_AUX_INT, CMD_SYS, CMD_KBD_OFF, CMD_AUX_OFF, CMD_XLATE = 1, 2, 4, 0x10, 0x20, 0x40
ST_OBF, ST_SYS, ST_CMD, ST_UNLOCKED, ST_AUXB, ST_TIMEOUT = 1, 4, 8, 0x10, 0x20, 0x40


class Kbc(PortDevice):
    name = "kbc"
    irq_lines = (1, 12)
    ports = (range(0x60, 0x61), range(0x64, 0x65), range(0x92, 0x93))

    def __init__(self, clock: Any, irq: Any = None, events: Any = None, *,
                 on_a20: Callable[[bool], None] | None = None,
                 on_reset: Callable[[], None] | None = None,
                 key_gap_ns: int = KEY_GAP_NS) -> None:
        self.links = Links(clock=clock, irq=irq or NullIrq(), events=events, on_a20=on_a20,
                           on_reset=on_reset)
        self.key_gap_ns = key_gap_ns
        self.script: deque[int] = deque()
        self.reset()

    @property
    def irq(self) -> Any:
        return self.links.irq

    @irq.setter
    def irq(self, sink: Any) -> None:
        self.links.irq = sink

    def _now(self) -> int:
        return int(self.links.clock.ns())

    def reset(self) -> None:
        self.command_byte = CMD_KBD_INT | CMD_AUX_OFF | CMD_XLATE
        self.ram = bytearray(32)
        self.sys_flag = True
        self.last_was_command = True
        self.timeout = False
        self.output_port = 0xCF
        self.port92 = 0x02
        self.a20 = True
        self.obf = False
        self.out_byte = 0
        self.out_aux = False
        self.expect: int | None = None          # controller command waiting for its data byte
        self.replies: deque[tuple[int, bool]] = deque()    # controller output (byte, aux)
        self.kbd_replies: deque[int] = deque()
        self.kbd_expect: int | None = None      # keyboard command waiting for its parameter
        self.kbd_last = 0
        self.scanning = True
        self.scancode_set = 2
        self.leds = 0
        self.set2 = Set2Converter()
        self.next_key_ns = self._now() + self.key_gap_ns
        self._irq_levels = 0
        self.mouse = Ps2Mouse()

    # -- scripted input ----------------------------------------------------------------------------
    def type_keys(self, keys: str | bytes | Iterable[int]) -> None:
        """Queue keystrokes: text (see `scancodes.text_to_scancodes`) or raw set-1 bytes."""
        data = text_to_scancodes(keys) if isinstance(keys, str) else bytes(keys)
        self.script.extend(data)
        self._pump()

    def pending_keys(self) -> int:
        """Scripted bytes not yet delivered to the output buffer."""
        return len(self.script)

    # -- output buffer -----------------------------------------------------------------------------
    def _kbd_enabled(self) -> bool:
        return not self.command_byte & CMD_KBD_OFF

    def _pump(self) -> None:
        if self.obf:
            return
        if self.replies:
            byte, aux = self.replies.popleft()
            self._fill(byte, aux)
        elif self.kbd_replies and self._kbd_enabled():
            self._fill(self.kbd_replies.popleft(), False)
        elif self.script and self._kbd_enabled() and self.scanning \
                and self._now() >= self.next_key_ns:
            byte = self.script.popleft()
            self.next_key_ns = self._now() + self.key_gap_ns
            if self.command_byte & CMD_XLATE:
                self._fill(byte, False)
            else:
                first, *rest = self.set2.convert(byte)
                self.kbd_replies.extend(rest)
                self._fill(first, False)
        elif self.mouse.queue and not self.command_byte & CMD_AUX_OFF:
            self._fill(self.mouse.queue.popleft(), True)

    def _fill(self, byte: int, aux: bool) -> None:
        self.obf, self.out_byte, self.out_aux = True, byte & 0xFF, aux
        self._update_irq()

    def _update_irq(self) -> None:
        want = 0
        if self.obf and not self.out_aux and self.command_byte & CMD_KBD_INT:
            want |= 1
        if self.obf and self.out_aux and self.command_byte & CMD_AUX_INT:
            want |= 2
        for bit, line in ((1, 1), (2, 12)):
            if want & bit and not self._irq_levels & bit:
                self.links.irq.raise_irq(line)
            elif not want & bit and self._irq_levels & bit:
                self.links.irq.lower_irq(line)
        self._irq_levels = want

    def next_deadline(self) -> int | None:
        if self.obf or self.replies or not self.script or not self.scanning \
                or not self._kbd_enabled():
            return None
        return self.links.clock.insns_for_ns(self.next_key_ns)

    def tick(self, icount: int) -> None:
        self._pump()

    # -- ports -------------------------------------------------------------------------------------
    def status(self) -> int:
        return ((ST_OBF if self.obf else 0) | (ST_SYS if self.sys_flag else 0)
                | (ST_CMD if self.last_was_command else 0) | ST_UNLOCKED
                | (ST_AUXB if self.obf and self.out_aux else 0)
                | (ST_TIMEOUT if self.timeout else 0))

    def read8(self, port: int) -> int:
        self._pump()
        if port == 0x92:
            return self.port92
        if port == 0x64:
            return self.status()
        value = self.out_byte
        if self.obf:
            self.obf = False
            self._update_irq()
            self._pump()
        return value

    def write8(self, port: int, value: int) -> None:
        self._pump()
        if port == 0x92:
            self._write_port92(value)
        elif port == 0x64:
            self.last_was_command = True
            self._command(value)
        else:
            self.last_was_command = False
            self._data(value)
        self._pump()

    # -- controller --------------------------------------------------------------------------------
    def _reply(self, byte: int, aux: bool = False) -> None:
        self.replies.append((byte & 0xFF, aux))

    def _command(self, cmd: int) -> None:
        self.expect = None
        if cmd == 0x20:
            self._reply(self.command_byte)
        elif 0x21 <= cmd <= 0x3F:
            self._reply(self.ram[cmd & 0x1F])
        elif 0x60 <= cmd <= 0x7F or cmd in (0xD1, 0xD2, 0xD3, 0xD4):
            self.expect = cmd
        elif cmd == 0xA7:
            self.command_byte |= CMD_AUX_OFF
        elif cmd == 0xA8:
            self.command_byte &= ~CMD_AUX_OFF
        elif cmd == 0xA9:
            self._reply(0x00)
        elif cmd == 0xAA:
            self.sys_flag = True
            self._reply(0x55)
        elif cmd == 0xAB:
            self._reply(0x00)
        elif cmd == 0xAD:
            self.command_byte |= CMD_KBD_OFF
        elif cmd == 0xAE:
            self.command_byte &= ~CMD_KBD_OFF
        elif cmd == 0xC0:
            self._reply(0x80)                     # keyboard not inhibited
        elif cmd == 0xD0:
            self._reply(self._output_port_value())
        elif cmd == 0xDD:
            self._set_a20(False, "8042 command DDh")
        elif cmd == 0xDF:
            self._set_a20(True, "8042 command DFh")
        elif cmd == 0xE0:
            self._reply(0x00)
        elif cmd >= 0xF0:
            if not cmd & 1:
                self._reset(f"8042 command {cmd:02X}h (pulse reset line)")
        else:
            self._event("kbc", f"8042: unknown command {cmd:02X}h ignored", command=cmd)
        self._update_irq()

    def _output_port_value(self) -> int:
        v = self.output_port & 0xCF
        if self.obf:
            v |= 0x20 if self.out_aux else 0x10
        return v

    def _data(self, value: int) -> None:
        cmd, self.expect = self.expect, None
        if cmd is None:
            self.command_byte &= ~CMD_KBD_OFF     # sending to the keyboard enables its interface
            self._keyboard(value)
        elif cmd == 0x60:
            self.command_byte = value
            self.sys_flag = bool(value & CMD_SYS)
            self._update_irq()
        elif 0x61 <= cmd <= 0x7F:
            self.ram[cmd & 0x1F] = value
        elif cmd == 0xD1:
            self._write_output_port(value)
        elif cmd == 0xD2:
            self._reply(value)
        elif cmd == 0xD3:
            self._reply(value, aux=True)
        elif cmd == 0xD4:
            self.mouse.write(value)
            self.command_byte &= ~CMD_AUX_OFF     # (sending to the mouse enables its interface)

    # -- the BIOS's side of the auxiliary port (INT 15h AH=C2h) ------------------------------------
    def aux_command(self, *data: int, replies: int = 0) -> list[int] | None:
        """What a BIOS's polled command to the mouse gets: mouse bytes waiting in the output
        buffer are flushed, `data` is sent, and the `replies` bytes after one ACK per byte sent
        are returned (None when the mouse did not answer so)."""
        if self.obf and self.out_aux:
            self.obf = False
        self.mouse.queue.clear()
        for b in data:
            self.mouse.write(b)
        out = list(self.mouse.queue)
        self.mouse.queue.clear()
        self._update_irq()
        got = out[len(data):len(data) + replies]
        if any(a != ACK for a in out[:len(data)]) or len(got) < replies:
            return None
        return got

    def set_aux(self, enabled: bool) -> None:
        """Enable (interface on, its interrupt on) or disable the auxiliary port, as a BIOS
        does through the command byte."""
        cb = self.command_byte
        self.command_byte = (cb & ~CMD_AUX_OFF | CMD_AUX_INT) if enabled else \
            (cb | CMD_AUX_OFF) & ~CMD_AUX_INT
        self._update_irq()

    def _write_output_port(self, value: int) -> None:
        self.output_port = value
        self._set_a20(bool(value & 2), "8042 output port")
        if not value & 1:
            self._reset("8042 output port bit 0 cleared")

    def _write_port92(self, value: int) -> None:
        old = self.port92
        self.port92 = value & 0xFF
        self._set_a20(bool(value & 2), "port 92h")
        if value & 1 and not old & 1:
            self._reset("port 92h fast reset")

    # -- A20 and reset ---------------------------------------------------------------------------
    @property
    def a20_enabled(self) -> bool:
        return self.a20

    def _set_a20(self, enabled: bool, source: str) -> None:
        if source.startswith("8042"):
            self.output_port = (self.output_port & ~2) | (2 if enabled else 0)
        if enabled == self.a20:
            return
        self.a20 = enabled
        self._event("a20", f"A20 {'enabled' if enabled else 'disabled'} by {source}",
                    enabled=enabled, source=source)
        if self.links.on_a20 is not None:
            self.links.on_a20(enabled)

    def _reset(self, source: str) -> None:
        self._event("reset", f"reset requested by {source}", source=source)
        if self.links.on_reset is not None:
            self.links.on_reset()

    def _event(self, kind: str, message: str, **details: Any) -> None:
        if self.links.events is not None:
            self.links.events.emit(kind, message, **details)

    # -- the keyboard ----------------------------------------------------------------------------
    def _send(self, *data: int) -> None:
        self.kbd_replies.extend(data)
        self.kbd_last = data[-1]

    def _keyboard(self, value: int) -> None:
        pending, self.kbd_expect = self.kbd_expect, None
        if pending == 0xED:
            self.leds = value & 7
            self._send(ACK)
        elif pending == 0xF0:
            if value == 0:
                self._send(ACK, 0x41 if self.command_byte & CMD_XLATE else self.scancode_set)
            elif value in (1, 2, 3):
                self.scancode_set = value
                self._send(ACK)
            else:
                self._send(RESEND)
        elif pending == 0xF3:
            self._send(ACK)
        elif value in (0xED, 0xF0, 0xF3):
            self.kbd_expect = value
            self._send(ACK)
        elif value == 0xEE:
            self._send(0xEE)
        elif value == 0xF2:
            self._send(ACK, 0xAB, 0x41 if self.command_byte & CMD_XLATE else 0x83)
        elif value == 0xF4:
            self.scanning = True
            self._send(ACK)
        elif value in (0xF5, 0xF6):              # F5h also stops scanning; both load defaults
            if value == 0xF5:
                self.scanning = False
            self._send(ACK)
        elif 0xF7 <= value <= 0xFD:
            self._send(ACK)
        elif value == 0xFE:
            self._send(self.kbd_last)
        elif value == 0xFF:
            self.scanning = True
            self.scancode_set = 2
            self.leds = 0
            self.kbd_replies.clear()
            self._send(ACK, BAT_OK)
        else:
            self._send(RESEND)
