"""16550A: TX capture, divisor latch, scripted receive, FIFO, interrupts via OUT2, loopback."""
from __future__ import annotations

from debugger.machine.devices.pic import Pic
from debugger.machine.devices.uart import Uart


def test_transmit_is_captured_and_reported():
    seen = []
    u = Uart(on_tx=seen.append)
    for ch in b"Hi\n":
        u.io_write(0x3F8, 1, ch)
    assert u.output == b"Hi\n" and seen == list(b"Hi\n")
    assert u.io_read(0x3FD, 1) == 0x60          # THRE | TEMT, no data
    assert [u.io_read(0x3F8 + r, 1) for r in (1, 2, 3, 4, 6)] == [0x00, 0x01, 0x00, 0x08, 0xB0]


def test_divisor_latch_and_scratch():
    u = Uart()
    u.io_write(0x3FB, 1, 0x80)
    u.io_write(0x3F8, 1, 0x01)
    u.io_write(0x3F9, 1, 0x00)
    assert (u.io_read(0x3F8, 1), u.io_read(0x3F9, 1)) == (0x01, 0x00)
    u.io_write(0x3FB, 1, 0x03)
    assert u.baud == 115200 and u.io_read(0x3FB, 1) == 0x03
    u.io_write(0x3F8, 1, ord("x"))              # DLAB off: THR again
    assert u.output == b"x"
    u.io_write(0x3FF, 1, 0x5A)
    assert u.io_read(0x3FF, 1) == 0x5A


def test_scripted_receive_and_irq4_gated_by_out2():
    pic = Pic()
    pic.io_write(0x21, 1, 0x00)
    u = Uart(pic)
    u.feed(b"ok")
    assert u.io_read(0x3FD, 1) & 0x01
    assert pic.pending_vector() is None          # IER 0
    u.io_write(0x3FC, 1, 0x00)                  # OUT2 off
    u.io_write(0x3F9, 1, 0x01)                  # received-data interrupt
    assert pic.pending_vector() is None
    u.io_write(0x3FC, 1, 0x0B)                  # DTR RTS OUT2
    assert pic.pending_vector() == 0x0C
    assert u.io_read(0x3FA, 1) == 0x04
    assert pic.acknowledge() == 0x0C
    assert bytes([u.io_read(0x3F8, 1), u.io_read(0x3F8, 1)]) == b"ok"
    assert u.io_read(0x3FA, 1) == 0x01 and not u.io_read(0x3FD, 1) & 1
    assert not u.irq_level


def test_thre_interrupt_rules():
    u = Uart()
    u.io_write(0x3F9, 1, 0x02)                  # enabling ETBEI with THR empty interrupts
    assert u.io_read(0x3FA, 1) == 0x02
    assert u.io_read(0x3FA, 1) == 0x01          # reading IIR cleared it
    u.io_write(0x3F8, 1, 0x41)                  # sent at once: empty again
    assert u.io_read(0x3FA, 1) == 0x02


def test_fifo_trigger_level_and_character_timeout():
    u = Uart()
    u.io_write(0x3FA, 1, 0xC7)                  # FIFO on, clear, trigger 14
    u.io_write(0x3F9, 1, 0x01)
    u.feed(b"abc")
    assert u.io_read(0x3FA, 1) == 0xCC          # fewer than 14 and no more coming: timeout
    u.feed(bytes(range(20)))
    assert u.io_read(0x3FA, 1) == 0xC4          # 16 waiting: trigger level
    got = bytes(u.io_read(0x3F8, 1) for _ in range(23))
    assert got == b"abc" + bytes(range(20))


def test_fifo_reset_gives_unread_scripted_bytes_back():
    u = Uart()
    u.feed(b"boot\r")
    u.io_write(0x3FA, 1, 0x07)                  # FIFO on + clear
    u.io_write(0x3FA, 1, 0x00)                  # FIFO off again
    got = []
    while u.io_read(0x3FD, 1) & 1:
        got.append(u.io_read(0x3F8, 1))
    assert bytes(got) == b"boot\r"
    u.feed(b"z")
    u.reset()
    assert u.pending_input() == 1 and u.io_read(0x3F8, 1) == ord("z")


def test_loopback_echoes_and_drives_msr():
    u = Uart()
    u.io_write(0x3FC, 1, 0x10)                  # loopback, all outputs off
    u.io_read(0x3FE, 1)
    u.io_write(0x3FC, 1, 0x1F)                  # DTR RTS OUT1 OUT2 looped to DSR CTS RI DCD
    assert u.io_read(0x3FE, 1) == 0xF0 | 0x0B   # DCTS, DDSR, DDCD
    assert u.io_read(0x3FE, 1) == 0xF0
    u.io_write(0x3F8, 1, 0x55)
    assert u.output == b"" and u.io_read(0x3FD, 1) & 1
    assert u.io_read(0x3F8, 1) == 0x55
    u.io_write(0x3F8, 1, 1)
    u.io_write(0x3F8, 1, 2)                     # no FIFO: second byte overruns
    assert u.io_read(0x3FD, 1) & 0x03 == 0x03
    assert u.io_read(0x3FD, 1) & 0x02 == 0      # error bits clear on read
    u.io_write(0x3FC, 1, 0x1B)                  # OUT1 off: RI trailing edge
    assert u.io_read(0x3FE, 1) & 0x04


def test_com2_port_and_line():
    pic = Pic()
    pic.io_write(0x21, 1, 0x00)
    u = Uart(pic, base=0x2F8, irq_line=3, name="com2")
    assert u.owns(0x2FF) and not u.owns(0x3F8)
    u.io_write(0x2F9, 1, 0x02)
    assert pic.pending_vector() == 0x0B
