"""8042 + keyboard + port 92h: commands, A20 and reset callbacks, scripted keys through IRQ1."""
from __future__ import annotations

import pytest

from debugger.machine.devices.kbc import Kbc
from debugger.machine.devices.pic import Pic
from debugger.machine.devices.scancodes import text_to_scancodes

MS = 100_000                           # instructions per virtual millisecond


class Calls:
    def __init__(self) -> None:
        self.a20: list[bool] = []
        self.resets = 0

    def on_a20(self, enabled: bool) -> None:
        self.a20.append(enabled)

    def on_reset(self) -> None:
        self.resets += 1


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def kbc(clock, events, calls) -> Kbc:
    return Kbc(clock, Pic(), events, on_a20=calls.on_a20, on_reset=calls.on_reset)


def command(kbc: Kbc, cmd: int, data: int | None = None) -> None:
    kbc.io_write(0x64, 1, cmd)
    if data is not None:
        kbc.io_write(0x60, 1, data)


def drain(kbc: Kbc) -> list[int]:
    out = []
    while kbc.io_read(0x64, 1) & 1:
        out.append(kbc.io_read(0x60, 1))
    return out


def test_reset_state_and_controller_tests(kbc):
    assert kbc.io_read(0x64, 1) == 0x1C
    command(kbc, 0x20)
    assert drain(kbc) == [0x61]
    command(kbc, 0xAA)
    assert kbc.io_read(0x64, 1) & 0x01 and drain(kbc) == [0x55]
    command(kbc, 0xAB)
    command(kbc, 0xA9)
    assert drain(kbc) == [0x00, 0x00]
    command(kbc, 0x60, 0x45)
    command(kbc, 0x20)
    assert drain(kbc) == [0x45]
    assert kbc.io_read(0x64, 1) & 0x0C == 0x0C   # SYS from command byte bit 2, last was command
    command(kbc, 0xA8)
    command(kbc, 0xAD)
    command(kbc, 0x20)
    assert drain(kbc) == [0x55]                  # aux enabled (bit 5 clear), keyboard off (bit 4)
    command(kbc, 0x72, 0x99)
    command(kbc, 0x32)
    assert drain(kbc) == [0x99]


def test_a20_through_the_output_port(kbc, calls, events):
    command(kbc, 0xD0)
    assert drain(kbc) == [0xCF]
    command(kbc, 0xD1, 0xDD)                     # A20 off, reset line high
    assert calls.a20 == [False] and not kbc.a20_enabled and calls.resets == 0
    command(kbc, 0xD0)
    assert drain(kbc)[0] & 0x03 == 0x01
    command(kbc, 0xD1, 0xDF)
    assert calls.a20 == [False, True] and kbc.a20_enabled
    command(kbc, 0xDD)
    command(kbc, 0xDF)
    assert calls.a20 == [False, True, False, True]
    assert [e.details["enabled"] for e in events if e.kind == "a20"] == [False, True, False, True]


def test_port92_a20_and_fast_reset(kbc, calls, events):
    assert kbc.io_read(0x92, 1) == 0x02
    kbc.io_write(0x92, 1, 0x00)
    assert calls.a20 == [False] and kbc.io_read(0x92, 1) == 0x00
    kbc.io_write(0x92, 1, 0x02)
    assert calls.a20 == [False, True] and calls.resets == 0
    kbc.io_write(0x92, 1, 0x03)                  # bit 0 rising: reset
    assert calls.resets == 1
    kbc.io_write(0x92, 1, 0x03)                  # no new edge
    assert calls.resets == 1
    command(kbc, 0xD1, 0x00)                     # last writer wins: the 8042 disables A20
    assert calls.a20 == [False, True, False] and calls.resets == 2
    assert [e.kind for e in events].count("reset") == 2


def test_pulse_reset_commands(kbc, calls):
    command(kbc, 0xFF)                           # pulses nothing
    command(kbc, 0xFD)                           # bit 1 only
    assert calls.resets == 0
    command(kbc, 0xFE)
    assert calls.resets == 1


def test_keyboard_commands_answer_like_a_ps2_keyboard(kbc):
    kbc.io_write(0x60, 1, 0xFF)
    assert drain(kbc) == [0xFA, 0xAA]
    kbc.io_write(0x60, 1, 0xF2)
    assert drain(kbc) == [0xFA, 0xAB, 0x41]      # translated ID
    kbc.io_write(0x60, 1, 0xED)
    kbc.io_write(0x60, 1, 0x07)
    assert drain(kbc) == [0xFA, 0xFA] and kbc.leds == 7
    kbc.io_write(0x60, 1, 0xF0)
    kbc.io_write(0x60, 1, 0x00)
    assert drain(kbc) == [0xFA, 0xFA, 0x41]
    kbc.io_write(0x60, 1, 0xEE)
    kbc.io_write(0x60, 1, 0xF4)
    kbc.io_write(0x60, 1, 0x12)
    assert drain(kbc) == [0xEE, 0xFA, 0xFE]
    kbc.io_write(0x60, 1, 0xFE)
    assert drain(kbc) == [0xFE]
    assert kbc.io_read(0x64, 1) & 0x08 == 0      # last write went to the data port


def test_scripted_keys_arrive_a_gap_apart_through_irq1(clock):
    pic = Pic()
    kbc = Kbc(clock, pic)
    kbc.type_keys("aB\n")
    assert kbc.pending_keys() == 8
    assert not kbc.io_read(0x64, 1) & 1          # the first byte comes 1 ms after reset
    assert kbc.next_deadline() == MS
    clock.icount = MS
    kbc.tick(clock.icount)
    assert pic.pending_vector() == 0x09
    assert pic.acknowledge() == 0x09
    got = [kbc.io_read(0x60, 1)]
    pic.io_write(0x20, 1, 0x20)
    assert kbc.io_read(0x60, 1) == 0x1E          # reading again: same byte, buffer empty
    assert not kbc.io_read(0x64, 1) & 1
    while kbc.pending_keys():
        clock.icount = kbc.next_deadline()
        kbc.tick(clock.icount)
        assert pic.acknowledge() == 0x09
        got.append(kbc.io_read(0x60, 1))
        pic.io_write(0x20, 1, 0x20)
    assert got == [0x1E, 0x9E, 0x2A, 0x30, 0xB0, 0xAA, 0x1C, 0x9C]
    assert clock.icount == 8 * MS and kbc.next_deadline() is None


def test_flush_loop_takes_only_what_has_arrived(clock):
    kbc = Kbc(clock)
    kbc.type_keys(b"\x10\x90\x11\x91")
    clock.icount = 10 * MS                       # long after: only one byte is in the buffer
    assert drain(kbc) == [0x10]
    assert kbc.pending_keys() == 3
    kbc.reset()                                  # a machine reset keeps the script
    assert kbc.pending_keys() == 3


def test_disabled_keyboard_holds_keys_and_translation_off_gives_set2(clock):
    kbc = Kbc(clock)
    command(kbc, 0xAD)
    kbc.type_keys("a")
    clock.icount = 5 * MS
    assert drain(kbc) == [] and kbc.next_deadline() is None
    command(kbc, 0x60, 0x01)                     # keyboard on, IRQ on, translation off
    got = drain(kbc)
    while kbc.pending_keys() or not got or len(got) < 3:
        clock.icount += MS
        got += drain(kbc)
    assert got == [0x1C, 0xF0, 0x1C]


def test_text_to_scancodes():
    assert text_to_scancodes("{up}") == bytes([0xE0, 0x48, 0xE0, 0xC8])
    assert text_to_scancodes("{ctrl+c}") == bytes([0x1D, 0x2E, 0xAE, 0x9D])
    assert text_to_scancodes("\x03") == text_to_scancodes("{ctrl+c}")
    assert text_to_scancodes("{Enter}\t\b\x1b") == bytes([0x1C, 0x9C, 0x0F, 0x8F, 0x0E, 0x8E,
                                                          0x01, 0x81])
    assert text_to_scancodes("{{") == bytes([0x2A, 0x1A, 0x9A, 0xAA])
    assert text_to_scancodes("{f12} ") == bytes([0x58, 0xD8, 0x39, 0xB9])
    with pytest.raises(ValueError, match="unknown key name"):
        text_to_scancodes("{nosuchkey}")
    with pytest.raises(ValueError, match="cannot type"):
        text_to_scancodes("é")
