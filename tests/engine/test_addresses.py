"""Locations: seg:off aliases meet at one linear address, gdb's *EXPR, Bochs hex seg:off,
physical locations, and showing a linear address in the current mode."""
from __future__ import annotations

import pytest

from debugger.cpustate import CR0_PE, CR0_PG, EFER_LMA, EFER_LME, RF_VM, CpuState, \
    DescriptorTable, Segment
from debugger.engine.addresses import Location, format_location, parse_location, parse_physical
from debugger.engine.expr import ExprError, StateContext

REAL = CpuState(rip=0x0010, rsi=0x20, cs=Segment.real(0x07C0, code=True), ds=Segment.real(0x1000))


class Memory:
    def __init__(self) -> None:
        self.bytes: dict[int, int] = {}

    def write(self, addr: int, data: bytes) -> None:
        for i, b in enumerate(data):
            self.bytes[addr + i] = b

    def read(self, addr: int, size: int) -> int:
        return int.from_bytes(bytes(self.bytes.get(addr + i, 0) for i in range(size)), "little")


def ctx(state: CpuState = REAL, mem: Memory | None = None, **variables: int) -> StateContext:
    m = mem or Memory()
    return StateContext(state, m.read, m.read, variables)


@pytest.mark.parametrize("text", ["0000:7c00", "07c0:0", "07C0:0000", "0x7c0:0", "0:0x7c00",
                                  "*0x7c00", "* 0x7c00", "0x7c00", "7c00h", "31744", "*31744",
                                  "*0000:7c00", "0x7b00 + 256", "  0x7C00  ", "cs:0",
                                  "$cs:$ip - 0x10", "0700:0c00", "7c0:0"])
def test_aliases_of_7c00_are_one_linear_address(text: str) -> None:
    loc = parse_location(text, ctx())
    assert loc.kind == "linear" and loc.value == 0x7C00
    assert loc.text == text.strip()


def test_segoff_records_selector_and_offset() -> None:
    loc = parse_location("07c0:0010", ctx())
    assert loc == Location("linear", 0x7C10, "07c0:0010", 0x07C0, 0x10) and loc.is_segoff
    loc = parse_location("cs:ip", ctx())
    assert (loc.value, loc.seg, loc.off) == (0x7C10, 0x07C0, 0x10)
    loc = parse_location("ds:si+4", ctx())
    assert (loc.value, loc.seg, loc.off) == (0x10024, 0x1000, 0x24)
    plain = parse_location("*0x7c00", ctx())
    assert plain.seg is None and plain.off is None and not plain.is_segoff


def test_plain_numbers_are_decimal_and_bare_hex_is_an_error() -> None:
    assert parse_location("100", ctx()).value == 100
    assert parse_location("0:100", ctx()).value == 0x100          # seg:off sides: hex
    assert parse_location("ds:100", ctx()).value == 0x10100
    with pytest.raises(ExprError) as info:
        parse_location("7c00", ctx())
    assert str(info.value) == ("bad number '7c00' (hex needs 0x or an h suffix: 0x7c00 or "
                               "7c00h) at column 1")
    with pytest.raises(ExprError, match="0xb800"):
        parse_location("b800", ctx())


def test_error_columns_count_from_the_text_given() -> None:
    with pytest.raises(ExprError, match="^unexpected '\\)' at column 5$"):
        parse_location("* 1 )", ctx())
    with pytest.raises(ExprError, match="end of expression at column 5$"):
        parse_location("* (1", ctx())
    with pytest.raises(ExprError, match="at column 3$"):
        parse_location("  eaz", ctx())
    with pytest.raises(ExprError, match="an address is needed"):
        parse_location(" * ", ctx())
    with pytest.raises(ExprError, match="an address is needed"):
        parse_location("", ctx())


def test_expressions_variables_and_memory_in_locations() -> None:
    m = Memory()
    m.write(0x4C, bytes([0x34, 0x12, 0x00, 0xF0]))               # INT 13h vector F000:1234
    c = ctx(mem=m, ret=0x7D00)
    assert parse_location("word[0x4e]:word[0x4c]", c).value == 0xF1234
    assert parse_location("*$ret", c).value == 0x7D00
    assert parse_location("pc", c).value == REAL.pc == 0x7C10
    assert parse_location("b800:0", c).value == 0xB8000
    assert parse_location("ffff:10", c).value == 0x100000         # no 20-bit wrap: linear


def _gdt_memory() -> Memory:
    m = Memory()
    for i, raw in enumerate([0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF, 0x00009A010000FFFF]):
        m.write(0x600 + 8 * i, raw.to_bytes(8, "little"))
    return m


PM32 = CpuState(cr0=0x11, gdtr=DescriptorTable(0x600, 31), rip=0x1000,
                cs=Segment(0x18, 0x10000, 0xFFFF, 0x009B), ds=Segment(0x10, 0, 0xFFFFFFFF, 0xC093))


def test_protected_mode_selector_resolves_through_the_gdt() -> None:
    c = ctx(PM32, _gdt_memory())
    assert parse_location("0x08:0x1000", c).value == 0x1000
    assert parse_location("0x18:0x1000", c).value == 0x11000
    assert parse_location("cs:eip", c).value == 0x11000 == PM32.pc
    with pytest.raises(ExprError, match="outside the GDT"):
        parse_location("0x20:0", c)


def test_long_mode_segoff_is_the_offset() -> None:
    lm = CpuState(cr0=CR0_PE | CR0_PG | 0x10, cr4=0x20, efer=EFER_LME | EFER_LMA,
                  rip=0xFFFFFFFF80001000, cs=Segment(0x08, 0, 0xFFFFFFFF, 0xA09B))
    c = ctx(lm)
    assert parse_location("cs:rip", c).value == 0xFFFFFFFF80001000
    assert parse_location("0x08:0x2000", c).value == 0x2000


def test_physical_locations() -> None:
    assert parse_physical("0xfee00000", ctx()) == Location("physical", 0xFEE00000, "0xfee00000")
    assert parse_physical("*0x1000", ctx()).value == 0x1000
    assert parse_physical("ffff:0010", ctx()).value == 0x100000
    assert parse_physical("ffff:0010", ctx(REAL.replace(a20=False))).value == 0   # A20 masked
    paged = PM32.replace(cr0=PM32.cr0 | CR0_PG)
    with pytest.raises(ExprError, match="paging is on"):
        parse_physical("0x08:0x1000", ctx(paged, _gdt_memory()))
    assert parse_physical("0x1000", ctx(paged)).value == 0x1000


@pytest.mark.parametrize("state,linear,text", [
    (REAL, 0x7C10, "07c0:0010 (linear 0x7c10)"),
    (REAL, 0x7C00 + 0xFFFF, "07c0:ffff (linear 0x17bff)"),
    (REAL, 0x500, "0050:0000 (linear 0x500)"),                    # below CS: canonical seg:off
    (REAL, 0x100000, "ffff:0010 (linear 0x100000)"),              # the HMA
    (REAL, 0x200000, "linear 0x200000"),
    (CpuState(cr0=0x11, rflags=0x2 | RF_VM, cs=Segment.vm86(0x1234)), 0x12345,
     "1234:0005 (linear 0x12345)"),
    (CpuState(cs=Segment(0, 0, 0xFFFFFFFF, 0x9B)), 0x123456, "0000:00123456 (linear 0x123456)"),
    (PM32, 0x10020, "0018:0020 (linear 0x10020)"),                # 16-bit code segment
    (PM32, 0x30000, "linear 0x30000"),                            # beyond CS's limit
    (PM32.replace(cs=Segment(0x08, 0, 0xFFFFFFFF, 0xC09B)), 0x7C00,
     "0008:00007c00 (linear 0x7c00)"),
    (CpuState(cr0=CR0_PE | CR0_PG, efer=EFER_LME | EFER_LMA,
              cs=Segment(0x10, 0, 0xFFFFFFFF, 0xA09B)), 0x401000,
     "0010:0000000000401000 (linear 0x401000)"),
])
def test_format_location(state: CpuState, linear: int, text: str) -> None:
    assert format_location(state, linear) == text


def test_format_and_parse_round_trip_in_real_mode() -> None:
    for linear in (0, 0x7C00, 0x7C00 + 0x1234, 0x9FFFF, 0xFFFFF, 0x10FFEF):
        shown = format_location(REAL, linear)
        segoff = shown.split()[0]
        assert parse_location(segoff, ctx()).value == linear, shown
