"""The PL011 UART (emu/devices/pl011.py) against the PL011 TRM (DDI 0183,
chapter 3): reset values (Table 3-1), FR's FIFO flags, DR and RSR error
flags, the interrupt registers (3.4), loopback, and QEMU's ID words."""

import pytest

from emu.devices import pl011 as P
from emu.devices.device import IrqLine
from emu.devices.tape import InputTape


def make(source=None, fifo=False):
    irq = IrqLine()
    out = bytearray()
    u = P.PL011(irq=irq, source=source, sink=out)
    if fifo:
        u.write(P.LCR_H, 4, P.LCR_FEN | 0x60)
    return u, irq, out


def test_reset_values_are_the_trms():
    u, irq, _ = make()
    # Table 3-1: FR 0b-10010-111 with nothing received: TXFE | RXFE (QEMU: 0x90)
    assert u.read(P.FR, 4) == 0x90
    assert u.read(P.CR, 4) == 0x300           # TXE | RXE
    assert u.read(P.IFLS, 4) == 0x12
    for reg in (P.RSR, P.ILPR, P.IBRD, P.FBRD, P.LCR_H, P.IMSC, P.RIS, P.MIS, P.DMACR):
        assert u.read(reg, 4) == 0, hex(reg)
    assert not irq.level


def test_the_id_registers_read_as_a_pl011():
    u, _, _ = make()
    ids = [u.read(0xFE0 + 4 * i, 4) for i in range(8)]
    # PeriphID: part number 0x011, designer 0x41 ('A'), revision 1; PrimeCell ID 0xB105F00D
    part = ids[0] | (ids[1] & 0xF) << 8
    designer = ids[1] >> 4 | (ids[2] & 0xF) << 4
    assert (part, designer) == (0x011, 0x41)
    assert ids[4] | ids[5] << 8 | ids[6] << 16 | ids[7] << 24 == 0xB105F00D


def test_a_byte_written_to_dr_goes_out_and_raises_tx_only_when_unmasked():
    u, irq, out = make()
    u.write(P.DR, 4, 0x141)                 # bits above 7:0 are not data
    assert out == b"A"
    assert u.read(P.RIS, 4) == P.INT_TX and u.read(P.MIS, 4) == 0 and not irq.level
    u.write(P.IMSC, 4, P.INT_TX)
    assert u.read(P.MIS, 4) == P.INT_TX and irq.level
    u.write(P.ICR, 4, P.INT_TX)             # write-1-to-clear
    assert u.read(P.RIS, 4) == 0 and not irq.level


def test_tx_is_not_raised_by_reset_or_unmasking_alone():
    # TRM 3.4.3: the transmit interrupt is edge-like, set by the FIFO
    # passing its level, not by an empty FIFO when the UART is enabled
    u, irq, _ = make()
    u.write(P.IMSC, 4, P.INT_TX)
    assert not irq.level


def test_receive_sets_rx_and_clears_rxfe_and_reading_empties():
    u, irq, _ = make(source=b"hi")
    u.write(P.IMSC, 4, P.INT_RX)
    # FIFOs off: a one-character holding register
    assert u.read(P.FR, 4) & (P.FR_RXFE | P.FR_RXFF) == P.FR_RXFF
    assert irq.level
    assert u.read(P.DR, 4) == ord("h")
    assert u.read(P.DR, 4) == ord("i")
    assert u.read(P.FR, 4) & P.FR_RXFE and not irq.level
    assert u.read(P.DR, 4) == 0             # empty: nothing more


def test_the_fifo_holds_sixteen_and_flags_full():
    u, _, _ = make(source=bytes(range(65, 65 + 20)), fifo=True)
    assert u.poll() == 16
    assert u.read(P.FR, 4) & P.FR_RXFF
    got = bytes(u.read(P.DR, 4) for _ in range(20))
    assert got == bytes(range(65, 65 + 20))     # flow-controlled: nothing lost


def test_switching_the_fifo_off_gives_unread_input_back():
    tape = InputTape(b"abc")
    u, _, _ = make(source=tape, fifo=True)
    assert u.poll() == 3
    u.write(P.LCR_H, 4, 0x60)               # FEN off: FIFO flushed (TRM 3.3.7)
    assert bytes(u.read(P.DR, 4) for _ in range(3)) == b"abc"


def test_loopback_overrun_sets_oe_in_rsr_and_ris():
    u, _, out = make()
    u.write(P.CR, 4, P.RESET_CR | P.CR_LBE | 1)
    u.write(P.DR, 4, ord("x"))
    u.write(P.DR, 4, ord("y"))              # no FIFO: the second is lost
    assert out == b"xy"                     # both still go out
    assert u.read(P.RIS, 4) & P.INT_OE
    c = u.read(P.DR, 4)
    assert c & 0xFF == ord("x") and c >> 8 == P.ERR_OE
    assert u.read(P.RSR, 4) == P.ERR_OE
    u.write(P.RSR, 4, 0)                    # ECR: a write clears
    assert u.read(P.RSR, 4) == 0


def test_loopback_modem_lines_follow_cr():
    u, _, _ = make()
    u.write(P.CR, 4, P.RESET_CR | P.CR_LBE | P.CR_RTS | P.CR_DTR)
    fr = u.read(P.FR, 4)
    assert fr & (P.FR_CTS | P.FR_DSR) == P.FR_CTS | P.FR_DSR and not fr & (P.FR_DCD | P.FR_RI)
    assert u.read(P.RIS, 4) & (P.INT_CTS | P.INT_DSR) == P.INT_CTS | P.INT_DSR


def test_divisor_and_control_registers_keep_their_widths():
    u, _, _ = make()
    u.write(P.IBRD, 4, 0x12345)
    u.write(P.FBRD, 4, 0xFF)
    u.write(P.IMSC, 4, 0xFFFFFFFF)
    assert (u.read(P.IBRD, 4), u.read(P.FBRD, 4), u.read(P.IMSC, 4)) == (0x2345, 0x3F, 0x7FF)
    u.write(P.FR, 4, 0)                     # read-only
    assert u.read(P.FR, 4) == 0x90


def test_a_byte_store_to_dr_transmits():
    u, _, out = make()
    u.write(P.DR, 1, ord("Z"))
    assert out == b"Z"
    assert u.read(P.FR, 1) == 0x90 and u.read(P.FR + 1, 1) == 0


def test_snapshot_and_restore_bring_back_fifo_and_registers():
    u, irq, _ = make(source=b"xyz", fifo=True)
    u.write(P.IMSC, 4, P.INT_RX)
    u.poll()
    snap = u.snapshot()
    assert u.read(P.DR, 4) == ord("x")
    u.restore(snap)
    assert bytes(u.read(P.DR, 4) for _ in range(3)) == b"xyz"


class ByServers:
    """quiet_io made through the servers ``quiet_access`` gives, one per
    register and direction (the polled FR and DR have their own)."""

    def __init__(self, u):
        self.u = u
        self.servers = {}

    def quiet_io(self, offset, size, is_write, value):
        serve = self.servers.get((offset, is_write))
        if serve is None:
            serve = self.servers[(offset, is_write)] = self.u.quiet_access(offset, is_write)
        return serve(size, value)

    def __getattr__(self, name):
        return getattr(self.u, name)


@pytest.mark.parametrize("via", ["quiet_io", "quiet_access"])
def test_quiet_io_serves_what_read_and_write_do_while_interrupts_are_masked(via):
    """Device.quiet_io: with IMSC = 0 the line cannot rise, so FR reads,
    DR writes and other registers are served (values as read/write give
    them); a write unmasking an interrupt, or any access while one is
    unmasked, is left to the ordinary path (-1, nothing done).  Likewise
    through quiet_access's servers."""
    u, irq, out = make(source=b"")
    if via == "quiet_access":
        u = ByServers(u)
    ref, _, ref_out = make(source=b"")
    assert u.quiet_io(P.FR, 4, False, 0) == ref.read(P.FR, 4) == 0x90
    assert u.quiet_io(P.DR, 4, True, 0x141) == 0
    ref.write(P.DR, 4, 0x141)
    assert (bytes(out), u.bytes_tx, u.ris) == (bytes(ref_out), 1, ref.ris) == (b"A", 1, P.INT_TX)
    assert u.quiet_io(P.IFLS, 4, True, 0x09) == 0 and u.ifls == 0x09
    assert u.quiet_io(P.FR, 1, False, 0) == 0x90
    assert u.quiet_io(P.IMSC, 4, True, P.INT_TX) == -1 and u.imsc == 0
    assert u.quiet_io(P.IMSC + 1, 1, True, 0x04) == -1          # bit 10 (OE) from its byte
    assert u.quiet_io(P.IMSC, 4, True, 0) == 0
    u.write(P.IMSC, 4, P.INT_RX)
    assert u.quiet_io(P.FR, 4, False, 0) == -1 and u.quiet_io(P.DR, 4, True, 0x42) == -1
    assert bytes(out) == b"A" and not irq.level


def test_quiet_io_pulls_input_as_a_read_does():
    u, irq, _ = make(source=b"xy")
    assert u.quiet_io(P.FR, 4, False, 0) & P.FR_RXFE == 0
    assert u.quiet_io(P.DR, 4, False, 0) == ord("x") and not irq.level
