"""8259A pair; expected values from the Intel 8259A datasheet (ICW/OCW
formats, INTA sequence, spurious IR7) and the PC/AT programming convention."""

import pytest

from emu.devices.device import IrqLine
from emu.devices.i8259 import I8259, I8259Pair

EOI = 0x20


def out(chip, port_offset, value):
    chip.write(port_offset, 1, value)


def inb(chip, port_offset):
    return chip.read(port_offset, 1)


def init_pair(pair, master_base, slave_base, icw4=0x01):
    """The sequence a BIOS and Linux use: ICW1=0x11, ICW2, ICW3, ICW4."""
    m, s = pair.master, pair.slave
    out(m, 0, 0x11)
    out(s, 0, 0x11)
    out(m, 1, master_base)
    out(s, 1, slave_base)
    out(m, 1, 0x04)          # master: a slave on IR2
    out(s, 1, 0x02)          # slave: my ID is 2
    out(m, 1, icw4)
    out(s, 1, icw4)


@pytest.fixture
def pic():
    cpu = IrqLine()
    pair = I8259Pair(intr=cpu)
    init_pair(pair, 0x08, 0x70)     # BIOS vectors
    return pair


def test_bios_then_linux_initialisation():
    pair = I8259Pair()
    init_pair(pair, 0x08, 0x70)
    assert (pair.master.irq_base, pair.slave.irq_base) == (0x08, 0x70)
    out(pair.master, 1, 0xFB)       # BIOS-ish mask
    init_pair(pair, 0x20, 0x28)     # Linux remaps
    assert (pair.master.irq_base, pair.slave.irq_base) == (0x20, 0x28)
    assert inb(pair.master, 1) == 0x00      # ICW1 cleared IMR
    assert (pair.master.icw3, pair.slave.icw3) == (0x04, 0x02)
    pair.set_irq(0, True)
    assert pair.acknowledge() == 0x20
    pair.set_irq(9, True)
    out(pair.master, 0, EOI)
    assert pair.acknowledge() == 0x29


def test_icw2_low_bits_are_ignored_in_8086_mode():
    pair = I8259Pair()
    init_pair(pair, 0x0F, 0x77)
    pair.set_irq(1, True)
    assert pair.acknowledge() == 0x09


def test_irq_raises_intr_ack_sets_isr_eoi_clears(pic):
    cpu = pic.intr
    pic.set_irq(1, True)
    assert cpu.level is True
    assert pic.pending_vector() == 0x09
    assert pic.acknowledge() == 0x09
    assert pic.master.isr == 0x02 and pic.master.irr == 0x00
    assert cpu.level is False
    out(pic.master, 0, EOI)
    assert pic.master.isr == 0x00


def test_ocw3_selects_irr_or_isr_read(pic):
    pic.set_irq(3, True)
    pic.set_irq(5, True)
    out(pic.master, 0, 0x0A)        # read IRR
    assert inb(pic.master, 0) == 0x28
    pic.acknowledge()
    out(pic.master, 0, 0x0B)        # read ISR
    assert inb(pic.master, 0) == 0x08
    assert inb(pic.master, 0) == 0x08   # selection sticks
    out(pic.master, 0, 0x0A)
    assert inb(pic.master, 0) == 0x20


def test_mask_blocks_and_unmask_delivers(pic):
    out(pic.master, 1, 0x10)        # mask IRQ4
    assert inb(pic.master, 1) == 0x10
    pic.set_irq(4, True)
    assert pic.intr.level is False
    assert pic.pending_vector() is None
    out(pic.master, 1, 0x00)
    assert pic.intr.level is True
    assert pic.acknowledge() == 0x0C


def test_priority_order_and_nesting(pic):
    pic.set_irq(3, True)
    pic.set_irq(1, True)
    assert pic.acknowledge() == 0x09        # IR1 beats IR3
    assert pic.intr.level is False          # IR3 waits behind ISR1
    pic.set_irq(0, True)
    assert pic.intr.level is True           # IR0 may nest
    assert pic.acknowledge() == 0x08
    out(pic.master, 0, EOI)                 # non-specific: clears IR0
    assert pic.master.isr == 0x02
    out(pic.master, 0, EOI)
    assert pic.acknowledge() == 0x0B


def test_specific_eoi(pic):
    pic.set_irq(3, True)
    pic.acknowledge()
    pic.set_irq(1, True)
    pic.acknowledge()
    assert pic.master.isr == 0x0A
    out(pic.master, 0, 0x63)                # specific EOI for IR3
    assert pic.master.isr == 0x02


def test_edge_mode_needs_a_new_rising_edge(pic):
    pic.set_irq(6, True)
    assert pic.acknowledge() == 0x0E
    out(pic.master, 0, EOI)
    assert pic.intr.level is False          # still high, but no new edge
    pic.set_irq(6, True)
    assert pic.intr.level is False
    pic.set_irq(6, False)
    pic.set_irq(6, True)
    assert pic.acknowledge() == 0x0E


def test_cascade_to_slave(pic):
    pic.set_irq(12, True)                   # slave IR4
    assert pic.slave.intr.level is True
    assert pic.intr.level is True
    assert pic.pending_vector() == 0x74
    assert pic.acknowledge() == 0x74
    assert pic.master.isr == 0x04
    assert pic.slave.isr == 0x10
    out(pic.slave, 0, EOI)
    out(pic.master, 0, EOI)
    assert (pic.master.isr, pic.slave.isr) == (0, 0)


def test_slave_irqs_rank_at_master_ir2(pic):
    pic.set_irq(8, True)
    pic.set_irq(3, True)
    pic.set_irq(1, True)
    assert pic.acknowledge() == 0x09
    out(pic.master, 0, EOI)
    assert pic.acknowledge() == 0x70
    out(pic.slave, 0, EOI)
    out(pic.master, 0, EOI)
    assert pic.acknowledge() == 0x0B


def test_spurious_irq7_when_request_vanishes(pic):
    pic.set_irq(5, True)
    assert pic.intr.level is True
    out(pic.master, 1, 0x20)                # masked before the INTA cycle
    assert pic.acknowledge() == 0x0F
    assert pic.master.isr == 0x00           # spurious: no ISR bit


def test_spurious_irq15_on_slave(pic):
    pic.set_irq(10, True)
    out(pic.slave, 1, 0x04)                 # slave masks IR2 (IRQ10)
    assert pic.acknowledge() == 0x77
    assert pic.slave.isr == 0x00
    assert pic.master.isr == 0x04           # master did acknowledge IR2


def test_poll_command(pic):
    out(pic.master, 1, 0x40)
    pic.set_irq(5, True)
    out(pic.master, 0, 0x0C)                # OCW3 poll
    assert inb(pic.master, 0) == 0x85       # D7 = request, D2-D0 = level
    assert pic.master.isr == 0x20           # the read acted as INTA
    assert inb(pic.master, 1) == 0x40       # poll covers one read only
    out(pic.master, 0, 0x0C)
    assert inb(pic.master, 1) == 0x00       # no request: D7 = 0


def test_auto_eoi_mode():
    pair = I8259Pair()
    init_pair(pair, 0x08, 0x70, icw4=0x03)
    pair.set_irq(1, True)
    assert pair.acknowledge() == 0x09
    assert pair.master.isr == 0
    pair.set_irq(3, True)
    assert pair.intr.level is True          # nothing in service blocks it


def test_rotate_on_nonspecific_eoi(pic):
    pic.set_irq(0, True)
    pic.acknowledge()
    out(pic.master, 0, 0xA0)                # rotate on non-specific EOI
    assert pic.master.priority_add == 1     # IR0 now lowest
    pic.set_irq(0, False)
    pic.set_irq(0, True)
    pic.set_irq(5, True)
    assert pic.acknowledge() == 0x0D        # IR5 beats IR0 now


def test_set_priority_command(pic):
    out(pic.master, 0, 0xC4)                # IR4 lowest -> IR5 highest
    pic.set_irq(1, True)
    pic.set_irq(6, True)
    assert pic.acknowledge() == 0x0E


def test_special_mask_mode(pic):
    pic.set_irq(3, True)
    pic.acknowledge()                       # IR3 in service
    pic.set_irq(5, True)
    assert pic.intr.level is False
    out(pic.master, 1, 0x08)                # mask IR3
    out(pic.master, 0, 0x68)                # OCW3: set special mask
    assert pic.intr.level is True
    assert pic.acknowledge() == 0x0D
    out(pic.master, 0, 0x48)                # reset special mask
    assert pic.master.special_mask is False


def test_level_triggered_mode():
    chip = I8259(master=True)
    out(chip, 0, 0x1B)                      # ICW1: LTIM, single, IC4
    out(chip, 1, 0x20)
    out(chip, 1, 0x01)                      # ICW4 (no ICW3 in single mode)
    chip.set_irq(4, True)
    assert chip.intr.level is True
    assert chip.best_request() == 4
    chip.intack(4)
    assert chip.irr == 0x10                 # level request not cleared by INTA
    chip.write(0, 1, EOI)
    assert chip.intr.level is True          # still asserted: interrupts again
    chip.set_irq(4, False)
    assert chip.irr == 0 and chip.intr.level is False


def test_level_mode_request_gone_before_ack_is_spurious():
    pair = I8259Pair()
    m = pair.master
    out(m, 0, 0x19)                         # LTIM, cascade, IC4
    out(m, 1, 0x08)
    out(m, 1, 0x04)
    out(m, 1, 0x01)
    pair.set_irq(3, True)
    pair.set_irq(3, False)
    assert pair.acknowledge() == 0x0F


def test_icw1_resets_edge_sense(pic):
    pic.set_irq(4, True)
    init_pair(pic, 0x08, 0x70)
    assert pic.master.irr == 0
    assert pic.intr.level is False
    pic.set_irq(4, True)                    # still high: no edge
    assert pic.intr.level is False


def test_reset_and_snapshot_round_trip(pic):
    out(pic.master, 1, 0x80)
    pic.set_irq(1, True)
    pic.set_irq(11, True)
    pic.acknowledge()
    state = pic.snapshot()
    vec = pic.pending_vector()
    pic.reset()
    assert pic.master.irq_base == 0 and pic.intr.level is False
    pic.restore(state)
    assert pic.snapshot() == state
    assert vec is None                      # IRQ11 waits behind IRQ1
    assert pic.pending_vector() is None
    out(pic.master, 0, EOI)
    assert pic.acknowledge() == 0x73


def test_irq_line_helper_wires_a_device(pic):
    line = pic.irq_line(4)
    line.raise_()
    assert pic.acknowledge() == 0x0C


def test_set_irq_range_checked(pic):
    with pytest.raises(ValueError):
        pic.set_irq(16, True)


def test_bios_init_helper_programs_like_a_bios():
    pair = I8259Pair()
    pair.bios_init()
    assert (pair.master.irq_base, pair.slave.irq_base) == (0x08, 0x70)
    assert (inb(pair.master, 1), inb(pair.slave, 1)) == (0xF8, 0xFF)
    pair.set_irq(4, True)                   # COM1 masked by default
    assert pair.intr.level is False
    pair.set_irq(0, True)
    assert pair.acknowledge() == 0x08
