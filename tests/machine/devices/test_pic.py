"""8259A pair: BIOS state, ICW remap, masks, priority, EOI forms, OCW3, cascade, spurious IRQ7."""
from __future__ import annotations

from debugger.machine.devices.pic import Pic


def init(pic: Pic, master_base: int, slave_base: int, icw4: int = 0x01, icw1: int = 0x11) -> None:
    for cmd, data, base, icw3 in ((0x20, 0x21, master_base, 0x04), (0xA0, 0xA1, slave_base, 0x02)):
        pic.io_write(cmd, 1, icw1)
        pic.io_write(data, 1, base)
        pic.io_write(data, 1, icw3)
        pic.io_write(data, 1, icw4)


def eoi(pic: Pic, slave: bool = False) -> None:
    if slave:
        pic.io_write(0xA0, 1, 0x20)
    pic.io_write(0x20, 1, 0x20)


def test_bios_state_bases_and_masks():
    pic = Pic()
    assert pic.io_read(0x21, 1) == 0xB8 and pic.io_read(0xA1, 1) == 0x8E
    assert pic.pending_vector() is None
    pic.raise_irq(0)
    assert pic.pending_vector() == 0x08
    pic.raise_irq(3)                           # masked by the BIOS
    assert pic.acknowledge() == 0x08
    assert pic.in_service(0) and not pic.requested(0)
    assert pic.pending_vector() is None        # IRQ3 masked, IRQ0 in service
    pic.raise_irq(8)
    assert pic.pending_vector() is None        # IR2 (cascade) ranks below IR0 in service
    eoi(pic)
    assert pic.pending_vector() == 0x70


def test_remap_mask_and_eoi_through_ports():
    pic = Pic()
    init(pic, 0x20, 0x28)
    assert pic.io_read(0x21, 1) == 0 and pic.io_read(0xA1, 1) == 0   # ICW1 clears the masks
    pic.io_write(0x21, 1, 0xFF ^ 0x08)         # only IRQ3
    pic.raise_irq(1)
    pic.raise_irq(3)
    assert pic.pending_vector() == 0x23
    assert pic.acknowledge() == 0x23
    assert pic.pending_vector() is None
    pic.io_write(0x21, 1, 0x00)
    assert pic.pending_vector() == 0x21        # IRQ1 is higher priority than IRQ3 in service
    eoi(pic)
    assert not pic.in_service(3)


def test_priority_order_and_nesting():
    pic = Pic()
    init(pic, 0x08, 0x70)
    pic.raise_irq(5)
    pic.raise_irq(3)
    assert pic.acknowledge() == 0x0B
    assert pic.pending_vector() is None        # IRQ5 is lower than IRQ3 in service
    pic.raise_irq(1)
    assert pic.acknowledge() == 0x09           # higher priority nests
    eoi(pic)                                   # non-specific: clears the highest (IRQ1)
    assert pic.in_service(3) and not pic.in_service(1)
    eoi(pic)
    assert pic.acknowledge() == 0x0D


def test_specific_eoi_and_ocw3_reads():
    pic = Pic()
    init(pic, 0x08, 0x70)
    pic.raise_irq(4)
    pic.raise_irq(6)
    assert pic.io_read(0x20, 1) == 0x50        # IRR after init
    pic.acknowledge()
    pic.io_write(0x20, 1, 0x0B)                # OCW3: read ISR
    assert pic.io_read(0x20, 1) == 0x10
    pic.io_write(0x20, 1, 0x0A)                # OCW3: read IRR
    assert pic.io_read(0x20, 1) == 0x40
    pic.io_write(0x20, 1, 0x60 | 4)            # specific EOI for IR4
    assert not pic.in_service(4)
    assert pic.pending_vector() == 0x0E


def test_cascade_needs_eoi_on_both_chips():
    pic = Pic()
    pic.raise_irq(14)
    assert pic.acknowledge() == 0x76
    assert pic.in_service(14) and pic.in_service(2)
    pic.raise_irq(8)
    assert pic.pending_vector() is None        # master IR2 still in service
    pic.io_write(0x20, 1, 0x20)
    assert pic.pending_vector() == 0x70        # slave: IRQ8 outranks IRQ14 in service
    assert pic.acknowledge() == 0x70
    eoi(pic, slave=True)
    eoi(pic, slave=True)
    assert not any(pic.in_service(n) for n in range(16))


def test_edge_triggering_needs_a_new_rising_edge():
    pic = Pic()
    pic.raise_irq(1)
    pic.acknowledge()
    eoi(pic)
    pic.raise_irq(1)                           # line still high: no new edge
    assert pic.pending_vector() is None
    pic.lower_irq(1)
    pic.raise_irq(1)
    assert pic.pending_vector() == 0x09
    pic.lower_irq(1)                           # edge requests stay latched (QEMU)
    assert pic.pending_vector() == 0x09


def test_spurious_irq7_when_a_level_request_goes_away():
    pic = Pic()
    init(pic, 0x08, 0x70, icw1=0x19)           # LTIM: level-triggered
    pic.raise_irq(3)
    assert pic.pending_vector() == 0x0B
    pic.lower_irq(3)
    assert pic.pending_vector() is None
    assert pic.acknowledge() == 0x0F           # INTA with nothing: IR7, not in service
    assert not pic.in_service(7)


def test_auto_eoi_and_poll():
    pic = Pic()
    init(pic, 0x08, 0x70, icw4=0x03)           # 8086 mode + AEOI
    pic.raise_irq(2 + 3)
    assert pic.acknowledge() == 0x0D and not pic.in_service(5)
    init(pic, 0x08, 0x70)
    pic.raise_irq(6)
    pic.io_write(0x20, 1, 0x0C)                # OCW3 poll
    assert pic.io_read(0x20, 1) == 0x86
    assert pic.in_service(6) and pic.pending_vector() is None
    pic.io_write(0x20, 1, 0x0C)
    assert pic.io_read(0x20, 1) == 0x00        # nothing requested


def test_set_priority_rotates():
    pic = Pic()
    init(pic, 0x08, 0x70)
    pic.io_write(0x20, 1, 0xC0 | 3)            # IR3 lowest: IR4 highest
    pic.raise_irq(1)
    pic.raise_irq(5)
    assert pic.pending_vector() == 0x0D
    pic.io_write(0x20, 1, 0xC7)                # back to IR7 lowest
    assert pic.pending_vector() == 0x09


def test_special_mask_mode_lets_lower_levels_in():
    pic = Pic()
    init(pic, 0x08, 0x70)
    pic.raise_irq(3)
    pic.acknowledge()
    pic.raise_irq(5)
    assert pic.pending_vector() is None
    pic.io_write(0x21, 1, 0x08)                # mask the level in service
    pic.io_write(0x20, 1, 0x68)                # OCW3: set special mask mode
    assert pic.pending_vector() == 0x0D
    pic.io_write(0x20, 1, 0x48)                # reset special mask mode
    assert pic.pending_vector() is None


def test_program_like_bios_and_16bit_access():
    pic = Pic()
    pic.program_like_bios(0x20, 0x28, 0xFC, 0xFF)
    assert pic.io_read(0x21, 1) == 0xFC
    assert pic.io_read(0xA0, 2) == 0xFF00      # A0h: IRR 0; A1h: mask FFh
    pic.raise_irq(1)
    assert pic.pending_vector() == 0x21
