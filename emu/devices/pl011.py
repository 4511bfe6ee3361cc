"""The ARM PrimeCell PL011 UART: the ``virt`` board's serial port (0x09000000, SPI 1).

Model: *ARM PrimeCell UART (PL011) Technical Reference Manual* (DDI 0183),
chapter 3 "Programmers Model": 3.2 summary (Table 3-1), 3.3 register
descriptions, 3.4 interrupts.  Where the TRM leaves a choice (or describes
timing a byte-at-once model has not got), QEMU ``hw/char/pl011.c`` decides,
since guests for ``-M virt`` are written against it.

Registers (word offsets from the base; every register is read and written
as a 32-bit word, a narrower access reads or writes the low bytes of the
word it falls in)::

    0x000 DR      write: transmit a byte; read: a received byte, bits 11:8
                  its error flags (OE BE PE FE)
    0x004 RSR     read: error flags of the last byte read (bits 3:0);
          ECR     write: clear them
    0x018 FR      flags: RI(8) TXFE(7) RXFF(6) TXFF(5) RXFE(4) BUSY(3)
                  DCD(2) DSR(1) CTS(0); read-only
    0x020 ILPR    IrDA low-power counter (stored)
    0x024 IBRD    integer baud divisor (16 bits)
    0x028 FBRD    fractional baud divisor (6 bits)
    0x02C LCR_H   line control: WLEN, FEN (bit 4, FIFOs on), STP2, EPS,
                  PEN, BRK (bit 0)
    0x030 CR      control: UARTEN(0) LBE(7) TXE(8) RXE(9) DTR RTS OUT1
                  OUT2 RTSEn CTSEn; reset 0x300
    0x034 IFLS    FIFO interrupt levels; reset 0x12 (stored)
    0x038 IMSC    interrupt mask set/clear (1 = enabled)
    0x03C RIS     raw interrupt status
    0x040 MIS     masked: RIS & IMSC
    0x044 ICR     write 1s to clear RIS bits
    0x048 DMACR   DMA control (stored; no DMA)
    0xFE0-0xFFC   PeriphID0-3, PCellID0-3: 0x11 0x10 0x14 0x00 0x0D 0xF0
                  0x05 0xB1 (the PL011 r1p4 IDs QEMU returns)

Interrupt bits (RIS/MIS/IMSC/ICR): OE(10) BE(9) PE(8) FE(7) RT(6) TX(5)
RX(4) DSR(3) DCD(2) CTS(1) RI(0).  The one interrupt line (UARTINTR) is
asserted while MIS is non-zero.

Transmit: a byte written to DR goes to the sink at once, so the transmit
FIFO is always empty (FR.TXFE = 1, TXFF = BUSY = 0).  The TX interrupt
follows the TRM's note (3.4.3): it is raised by the transmit FIFO
*passing* the trigger level, so after each byte sent, not at reset or
when merely unmasked; writing DR or ICR.TXIC clears it.  In loopback
(CR.LBE, TRM 3.3.8: "the UARTTXD path is fed through to the UARTRXD
path") the byte also reaches the receiver; it still goes out, as in QEMU
8.1 and later.  (QEMU 7.2, Debian 12's, ignores LBE: nothing loops back.)

Receive: bytes come from an input tape (:mod:`emu.devices.tape`), at
each register access and ``poll()``, as the receive FIFO has room (16
bytes with LCR_H.FEN, else 1), so typed input is never lost to overrun;
a loopback byte that finds the FIFO full is lost and flags an overrun
(RSR.OE, RIS.OE). ``input_gate``, as on the 16550, lets the debugger's
recorder replay when input arrived. The RX interrupt rises when the FIFO
fills to one byte, and falls when it is read empty or by ICR.RXIC:
QEMU's choice (its ``read_trigger`` is always 1) instead of the TRM's
IFLS levels and receive timeout, so an interrupt-driven guest hears the
first byte typed; IFLS is stored and read back.

Deliberate differences from the TRM, as QEMU: CR.UARTEN, TXE and RXE are
not checked (bare-metal programs for QEMU write DR without enabling the
UART); baud rate and frame format have no effect; a DR read with the FIFO
empty returns 0.  The modem status inputs are not connected (FR's CTS,
DSR, DCD, RI read 0, as QEMU's reset flags 0x90), except in loopback,
where they follow CR's RTS, DTR, OUT1 and OUT2 as the TRM's loopback
describes and raise the modem interrupts.
"""

from __future__ import annotations

from typing import Optional

from .device import Device, IrqLine, make_sink, size_mask
from .tape import InputSource, InputTape

# register offsets (TRM Table 3-1)
DR, RSR, FR, ILPR, IBRD, FBRD, LCR_H, CR, IFLS, IMSC, RIS, MIS, ICR, DMACR = (
    0x000, 0x004, 0x018, 0x020, 0x024, 0x028, 0x02C, 0x030, 0x034, 0x038, 0x03C, 0x040,
    0x044, 0x048)
ID_BASE = 0xFE0
IDS = (0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

# FR bits
FR_CTS, FR_DSR, FR_DCD, FR_BUSY, FR_RXFE, FR_TXFF, FR_RXFF, FR_TXFE, FR_RI = (
    1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8)
# interrupt bits
INT_RI, INT_CTS, INT_DCD, INT_DSR, INT_RX, INT_TX, INT_RT, INT_FE, INT_PE, INT_BE, INT_OE = (
    1 << i for i in range(11))
INT_ALL = (1 << 11) - 1
# DR / RSR error flags (DR bits 11:8 = RSR bits 3:0)
ERR_FE, ERR_PE, ERR_BE, ERR_OE = 1, 2, 4, 8
# LCR_H and CR bits
LCR_BRK, LCR_FEN = 1 << 0, 1 << 4
CR_LBE, CR_DTR, CR_RTS, CR_OUT1, CR_OUT2 = 1 << 7, 1 << 10, 1 << 11, 1 << 12, 1 << 13

FIFO_DEPTH = 16
RESET_CR = 0x300            # TXE | RXE
RESET_IFLS = 0x12           # both FIFOs at half full
_LOOPED = 1 << 16           # a FIFO entry that came from loopback, not the tape


class PL011(Device):
    """``PL011(irq=None, source=None, sink=None, name="pl011")``: ``source``
    an input tape or what makes one; ``sink`` as for :func:`make_sink`."""

    name = "pl011"
    region_size = 0x1000
    #: the polled transmit path (Device.quiet_registers)
    quiet_registers = ((DR, True, "_quiet_dr"), (FR, False, "_quiet_fr"))

    @property
    def inline_io(self) -> bool:
        """Served inline (Device.inline_io) unless input is recorded or
        replayed: the input gate names transfers by guest position."""
        return self.input_gate is None

    def __init__(self, irq: Optional[IrqLine] = None, source: InputSource = None,
                 sink=None, name: Optional[str] = None):
        super().__init__(name)
        self.irq = irq if irq is not None else IrqLine()
        self.tape = InputTape.of(source)
        self._emit, self.output = make_sink(sink)
        self.bytes_tx = 0
        self.input_gate = None          # record/replay of arrival times (emu.debug.record)
        self._rx: list[int] = []
        self.reset()

    # ----------------------------------------------------------------- public

    def reset(self) -> None:
        super().reset()
        self.rsr = 0
        self.ilpr = 0
        self.ibrd = 0
        self.fbrd = 0
        self.lcr = 0
        self.cr = RESET_CR
        self.ifls = RESET_IFLS
        self.imsc = 0
        self.ris = 0
        self.dmacr = 0
        self._give_back_rx()
        # input moves in at the guest's first register access or poll(), not
        # now: a guest that reads the shared tape through semihosting only
        # loses nothing to a receiver it never reads
        self.irq.set(False)

    def feed(self, data) -> None:
        """The far end sends ``data``; it reaches the guest as room allows."""
        self.tape.feed(data)
        self._sync()

    def poll(self) -> int:
        """Move available input into the receive FIFO, update the IRQ line;
        return the number of bytes waiting in the FIFO."""
        self._sync()
        return len(self._rx)

    @property
    def fifo_depth(self) -> int:
        return FIFO_DEPTH if self.lcr & LCR_FEN else 1

    @property
    def flags(self) -> int:
        fr = FR_TXFE
        fr |= FR_RXFE if not self._rx else 0
        fr |= FR_RXFF if len(self._rx) >= self.fifo_depth else 0
        return fr | self._modem_status()

    # ----------------------------------------------------------- bus access

    def read(self, offset: int, size: int) -> int:
        mask = size_mask(size)
        shift = 8 * (offset & 3)
        return (self._read_word(offset & ~3) >> shift) & mask

    def write(self, offset: int, size: int, value: int) -> None:
        value = (value & size_mask(size)) << (8 * (offset & 3))
        self._write_word(offset & ~3, value & 0xFFFFFFFF)

    def _read_word(self, off: int) -> int:
        if off == DR:
            return self._read_dr()
        if off == FR:
            self._sync()
            return self.flags
        if ID_BASE <= off < ID_BASE + 4 * len(IDS):
            return IDS[(off - ID_BASE) >> 2]
        if off == MIS:
            self._sync()
            return self.ris & self.imsc
        if off == RIS:
            self._sync()
        return {RSR: self.rsr, ILPR: self.ilpr, IBRD: self.ibrd, FBRD: self.fbrd,
                LCR_H: self.lcr, CR: self.cr, IFLS: self.ifls, IMSC: self.imsc,
                RIS: self.ris, DMACR: self.dmacr}.get(off, 0)

    def _write_word(self, off: int, value: int) -> None:
        if off == DR:
            self._transmit(value & 0xFF)
        elif off == RSR:
            self.rsr = 0                            # ECR: any write clears
        elif off == ILPR:
            self.ilpr = value & 0xFF
        elif off == IBRD:
            self.ibrd = value & 0xFFFF
        elif off == FBRD:
            self.fbrd = value & 0x3F
        elif off == LCR_H:
            self._write_lcr(value & 0xFF)
        elif off == CR:
            self._write_cr(value & 0xFFFF)
        elif off == IFLS:
            self.ifls = value & 0x3F
        elif off == IMSC:
            self.imsc = value & INT_ALL
        elif off == ICR:
            self.ris &= ~value
        elif off == DMACR:
            self.dmacr = value & 0x7
        # FR, RIS, MIS and the IDs are read-only; other offsets are reserved
        self._sync()

    def quiet_io(self, offset: int, size: int, is_write: bool, value: int) -> int:
        """Device.quiet_io: any access while IMSC = 0 (every interrupt
        masked, so the line stays low whatever RIS becomes) and no input is
        recorded or replayed -- except a write unmasking an interrupt.  The
        polled transmit path (read FR, write DR: :meth:`_quiet_fr`,
        :meth:`_quiet_dr`) skips the register dispatch."""
        own = self.own_quiet_server(offset, is_write)
        if own is not None:
            return own(size, value)
        if self.imsc or self.input_gate is not None or self.irq.level or size not in (1, 2, 4):
            return -1
        if is_write:
            if offset & ~3 == IMSC and (value << (8 * (offset & 3))) & INT_ALL:
                return -1
            self.write(offset, size, value)
            return 0
        return self.read(offset, size)

    def _quiet_dr(self, size: int, value: int) -> int:
        """A quiet DR write (quiet_io's conditions): the byte transmitted,
        as write does then; input is pulled in as it pulls it."""
        if self.imsc or self.input_gate is not None or self.irq.level or size not in (1, 2, 4):
            return -1
        self._transmit(value & 0xFF)
        tape = self.tape
        if tape.source is not None or tape.pos != len(tape.data):
            self._pull_input()          # (input_gate is None: no recording)
        return 0

    def _quiet_fr(self, size: int, _value: int) -> int:
        """A quiet FR read (quiet_io's conditions): what read returns."""
        if self.imsc or self.input_gate is not None or self.irq.level or size not in (1, 2, 4):
            return -1
        tape = self.tape
        if tape.source is not None or tape.pos != len(tape.data):
            self._pull_input()          # (input_gate is None: no recording)
        return self.flags & ((1 << (8 * size)) - 1)

    # --------------------------------------------------------------- inside

    def _read_dr(self) -> int:
        self._sync()
        if not self._rx:
            return 0
        c = self._rx.pop(0) & 0xFFF
        self.rsr = c >> 8
        if not self._rx:
            self.ris &= ~(INT_RX | INT_RT)
        self._sync()
        return c

    def _transmit(self, byte: int) -> None:
        self._emit(bytes([byte]))
        self.bytes_tx += 1
        if self.cr & CR_LBE:
            self._receive_looped(byte)
        self.ris |= INT_TX          # the byte left: the TX FIFO passed its level

    def _receive_looped(self, entry: int) -> None:
        if len(self._rx) >= self.fifo_depth:
            # the shift register's byte is lost; the FIFO keeps its contents
            if self._rx:
                self._rx[-1] |= ERR_OE << 8
            self.ris |= INT_OE
            return
        self._push(entry | _LOOPED)
        if entry & (ERR_BE << 8):
            self.ris |= INT_BE

    def _push(self, entry: int) -> None:
        self._rx.append(entry)
        if len(self._rx) == 1:
            self.ris |= INT_RX

    def _write_lcr(self, value: int) -> None:
        if (self.lcr ^ value) & LCR_FEN:
            self._give_back_rx()                    # FIFOs flushed on a mode change
        if (self.lcr ^ value) & value & LCR_BRK and self.cr & CR_LBE:
            self._receive_looped(ERR_BE << 8)       # a break, looped back
        self.lcr = value

    def _write_cr(self, value: int) -> None:
        old = self._modem_status()
        self.cr = value
        new = self._modem_status()
        changed = old ^ new
        for fr_bit, int_bit in ((FR_CTS, INT_CTS), (FR_DSR, INT_DSR), (FR_DCD, INT_DCD),
                                (FR_RI, INT_RI)):
            if changed & fr_bit:
                self.ris |= int_bit

    def _modem_status(self) -> int:
        if not self.cr & CR_LBE:
            return 0
        cr = self.cr
        return ((FR_CTS if cr & CR_RTS else 0) | (FR_DSR if cr & CR_DTR else 0)
                | (FR_DCD if cr & CR_OUT1 else 0) | (FR_RI if cr & CR_OUT2 else 0))

    def _give_back_rx(self) -> None:
        self.tape.give_back(sum(1 for e in self._rx if not e & _LOOPED))
        self._rx.clear()
        self.ris &= ~(INT_RX | INT_RT)

    def _pull_input(self) -> None:
        tape = self.tape
        if tape.pos == len(tape.data) and tape.source is None and self.input_gate is None:
            return                      # nothing offered, nobody to ask (the common case)
        if self.cr & CR_LBE:
            return                      # the receiver is disconnected from the line
        room = self.fifo_depth - len(self._rx)
        if room > 0:
            for b in self.tape.take(room, self.input_gate):
                self._push(b)

    def _sync(self) -> None:
        self._pull_input()
        self.irq.set(bool(self.ris & self.imsc))

    # -------------------------------------------------------------- snapshots

    def snapshot(self) -> dict:
        return {"rsr": self.rsr, "ilpr": self.ilpr, "ibrd": self.ibrd, "fbrd": self.fbrd,
                "lcr": self.lcr, "cr": self.cr, "ifls": self.ifls, "imsc": self.imsc,
                "ris": self.ris, "dmacr": self.dmacr, "rx_fifo": list(self._rx),
                "bytes_tx": self.bytes_tx, "tape": self.tape.snapshot()}

    def restore(self, state: dict) -> None:
        for k in ("rsr", "ilpr", "ibrd", "fbrd", "lcr", "cr", "ifls", "imsc", "ris", "dmacr",
                  "bytes_tx"):
            setattr(self, k, int(state[k]))
        self._rx = [int(e) for e in state["rx_fifo"]]
        self.tape.restore(state["tape"])
        self.stop_request = None
        self.irq.set(bool(self.ris & self.imsc))
