"""A 16550A UART: the PC's COM1 (0x3F8, IRQ 4 on the pc board).

Model: National Semiconductor / Texas Instruments *PC16550D Universal
Asynchronous Receiver/Transmitter with FIFOs* datasheet (SNLS378), section
8 "Registers": Table 2 (register summary), 8.1 LCR, 8.2 divisor latches,
8.4 LSR, 8.5 FIFO control, 8.6 IIR (Table 4, interrupt priorities),
8.7 IER, 8.8 MCR (loopback), 8.9 MSR, 8.10 SCR; Table 3 (reset state).
Behaviour where the datasheet is silent follows QEMU ``hw/char/serial.c``.

Registers (offset from the base, DLAB = LCR bit 7)::

    0  DLAB=0: read RBR / write THR     DLAB=1: DLL (divisor low)
    1  DLAB=0: IER                      DLAB=1: DLM (divisor high)
    2  read IIR / write FCR
    3  LCR      4  MCR      5  LSR      6  MSR      7  SCR

Interrupts, highest priority first (IIR bits 3..1, datasheet Table 4):

    0x06 receiver line status (OE)      cleared by reading LSR
    0x04 received data available        cleared when the RX FIFO drops
                                        below the trigger level (non-FIFO
                                        mode: when RBR is read)
    0x0C character timeout (FIFO mode)  cleared by reading RBR
    0x02 THR empty                      cleared by reading IIR (when it is
                                        the one reported) or writing THR
    0x00 modem status (MSR deltas)      cleared by reading MSR

IIR bit 0 is 0 while an interrupt is pending; bits 7..6 are 11 while the
FIFOs are enabled (FCR bit 0).  The IRQ line is level-style: asserted
exactly while IIR shows a pending interrupt.

Reset state (``reset()``), chosen as a BIOS leaves the port: 9600 baud
(divisor 12, also QEMU's reset divisor), 8 data bits, no parity, 1 stop
bit (LCR = 0x03); IER = 0, FIFOs off, MCR = 0x08 (OUT2, as QEMU), SCR = 0,
LSR = 0x60 (THRE | TEMT).  The far end's modem lines read as a connected
terminal: CTS, DSR and DCD asserted, RI not (MSR = 0xB0, as QEMU).

Transmit: a byte written to THR goes to the output sink at once (None:
collect in ``self.output``; a bytearray; a file-like object; a callable
taking bytes), so THRE and TEMT always read 1.  In loopback mode it goes
to the receiver instead, exactly as the datasheet's MCR bit 4 describes.

Receive: input comes from an *input tape*: bytes given up front
(``source=b"..."``), bytes added with ``feed()``, and bytes pulled from a
callable source (``source=callable``, called with no arguments, returning
bytes, b"" or None; it must not block).  The far end is flow-controlled:
a byte moves from the tape into the receiver only when the receiver has
room (16 bytes with FIFOs on, 1 byte in 16450 mode), so input is never
lost to overrun.  Transfers happen at every register access and on
``poll()``/``feed()``; the Machine should call ``poll()`` now and then so
an interrupt-driven guest hears about input.

Arrival times: ``input_gate`` (None, or an object with ``replaying()``,
``replay(room)`` and ``record(n)``; the debugger's recorder sets it, see
:mod:`emu.debug.record`) decides when tape bytes move into the receiver.
Each transfer is reported with ``record(n)``; while ``replaying()`` is
true the source is not called and only the ``replay(room)`` bytes the
recording moved at the present position move.

Counters: ``bytes_tx`` (bytes handed to the output sink) and ``bytes_rx``
(bytes taken from the input tape).  ``snapshot()`` holds every register,
the RX FIFO, both counters and the unread rest of the input tape;
``restore()`` rewinds the tape to ``bytes_rx`` (input already seen is
replayed identically) and truncates a bytearray sink to ``bytes_tx``.
Output that went to a file or callable cannot be taken back.

Deliberate deviations (from the datasheet unless said otherwise):

* No line timing: transmit and receive are instantaneous; the baud rate,
  LCR framing and the divisor are stored and readable (``baud``) but never
  slow anything down.
* The character-timeout interrupt (FIFO mode, fewer bytes than the trigger
  level) is reported at once, as if four character times had passed.
* Bytes still in the RX FIFO when it is cleared (FCR bit 1, toggling FCR
  bit 0, ``reset()``) that came from the input tape are given back to the
  tape, not lost: a guest that resets its FIFOs during initialisation does
  not eat input given up front.  Bytes that came round through loopback
  are discarded.
* Parity, framing and break errors never happen (no noisy line): LSR bits
  2, 3, 4 and 7 stay 0.  Overrun (OE) can happen only in loopback mode.
* OUT2 does not gate the IRQ unless ``out2_gates_irq=True`` (QEMU ignores
  OUT2 too; on a real PC card OUT2 enables the IRQ driver).
* Reading RBR with no data returns the last byte received.
* Writes to LSR and MSR (factory test on real parts) are ignored.
* DMA mode (FCR bit 3) is stored but has no effect (no RXRDY/TXRDY pins).
"""

from __future__ import annotations

from typing import Callable, Optional, Union

from emu.devices.device import ByteRegisterDevice, IrqLine, make_sink

# Register offsets.
RBR_THR_DLL = 0
IER_DLM = 1
IIR_FCR = 2
LCR = 3
MCR = 4
LSR = 5
MSR = 6
SCR = 7

# IER bits.
IER_ERBFI = 0x01    # received data available (and character timeout)
IER_ETBEI = 0x02    # transmitter holding register empty
IER_ELSI = 0x04     # receiver line status
IER_EDSSI = 0x08    # modem status

# IIR values (bits 3..0) and the FIFO-enabled bits.
IIR_NO_INT = 0x01
IIR_RLS = 0x06
IIR_RDA = 0x04
IIR_CTI = 0x0C
IIR_THRE = 0x02
IIR_MSI = 0x00
IIR_FIFO_ENABLED = 0xC0

# FCR bits.
FCR_ENABLE = 0x01
FCR_CLEAR_RX = 0x02
FCR_CLEAR_TX = 0x04
FCR_DMA = 0x08
FCR_TRIGGER_SHIFT = 6
RX_TRIGGER_LEVELS = (1, 4, 8, 14)

# LCR bits.
LCR_DLAB = 0x80

# MCR bits.
MCR_DTR = 0x01
MCR_RTS = 0x02
MCR_OUT1 = 0x04
MCR_OUT2 = 0x08
MCR_LOOP = 0x10
MCR_MASK = 0x1F

# LSR bits.
LSR_DR = 0x01
LSR_OE = 0x02
LSR_PE = 0x04
LSR_FE = 0x08
LSR_BI = 0x10
LSR_THRE = 0x20
LSR_TEMT = 0x40
LSR_RXFE = 0x80
LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI

# MSR bits.
MSR_DCTS = 0x01
MSR_DDSR = 0x02
MSR_TERI = 0x04
MSR_DDCD = 0x08
MSR_CTS = 0x10
MSR_DSR = 0x20
MSR_RI = 0x40
MSR_DCD = 0x80
MSR_DELTAS = 0x0F

FIFO_SIZE = 16
BAUD_BASE = 115200          # 1.8432 MHz crystal / 16

RESET_DIVISOR = 12          # 9600 baud
RESET_LCR = 0x03            # 8 data bits, no parity, 1 stop bit
RESET_MCR = MCR_OUT2
CONNECTED_LINES = MSR_CTS | MSR_DSR | MSR_DCD

# An RX FIFO entry that came round through loopback carries this flag, so a
# FIFO clear knows which bytes to give back to the input tape.
_LOOPED = 0x100

InputSource = Union[None, bytes, bytearray, str, Callable[[], Optional[bytes]]]


class Uart16550(ByteRegisterDevice):
    """``Uart16550(irq=None, source=None, sink=None, name="serial0",
    out2_gates_irq=False)``."""

    name = "serial0"
    region_size = 8
    #: the polled transmit path (Device.quiet_registers)
    quiet_registers = ((RBR_THR_DLL, True, "_quiet_thr"), (LSR, False, "_quiet_lsr"))

    @property
    def inline_io(self) -> bool:
        """Served inline (Device.inline_io) unless input is recorded or
        replayed: the input gate names transfers by guest position."""
        return self.input_gate is None

    def __init__(self, irq: Optional[IrqLine] = None, source: InputSource = None,
                 sink=None, name: Optional[str] = None, out2_gates_irq: bool = False):
        super().__init__(name)
        self.irq = irq if irq is not None else IrqLine()
        self.out2_gates_irq = out2_gates_irq
        self._emit, self.output = make_sink(sink)
        self._output_base = 0 if self.output is None else len(self.output)
        self._tape = bytearray()        # every input byte the far end has offered
        self._source: Optional[Callable[[], Optional[bytes]]] = None
        if callable(source):
            self._source = source
        elif source is not None:
            self._tape += source.encode() if isinstance(source, str) else bytes(source)
        self.bytes_rx = 0               # bytes taken from the tape (= tape position)
        self.input_gate = None          # record/replay of arrival times (emu.debug.record)
        self.bytes_tx = 0               # bytes handed to the sink
        self.modem_lines = CONNECTED_LINES   # the far end's CTS/DSR/RI/DCD (MSR bits 7..4)
        self._rx: list[int] = []
        self.reset()

    # ----------------------------------------------------------------- public

    def reset(self) -> None:
        """Master reset (datasheet Table 3), then the BIOS's 9600 8N1."""
        super().reset()
        self._give_back_rx()
        self.ier = 0
        self.lcr = RESET_LCR
        self.mcr = RESET_MCR
        self.fcr = 0                    # FCR image: enable, DMA, trigger bits
        self.divisor = RESET_DIVISOR
        self.scr = 0
        self._lsr_errors = 0
        self._msr_deltas = 0
        self._thre_pending = False
        self._rbr = 0
        self._sync()

    def feed(self, data: Union[bytes, bytearray, str]) -> None:
        """The far end sends ``data``; it reaches the guest as room allows."""
        self._tape += data.encode() if isinstance(data, str) else bytes(data)
        self._sync()

    def poll(self) -> int:
        """Move available input into the receiver, update the IRQ line;
        return the number of bytes waiting in the receiver."""
        self._sync()
        return len(self._rx)

    def set_modem_lines(self, cts: Optional[bool] = None, dsr: Optional[bool] = None,
                        ri: Optional[bool] = None, dcd: Optional[bool] = None) -> None:
        """Change the far end's modem outputs (what MSR shows outside loopback)."""
        old = self._msr_status()
        lines = self.modem_lines
        for bit, value in ((MSR_CTS, cts), (MSR_DSR, dsr), (MSR_RI, ri), (MSR_DCD, dcd)):
            if value is not None:
                lines = (lines | bit) if value else (lines & ~bit)
        self.modem_lines = lines
        self._note_msr_change(old)
        self._sync()

    @property
    def baud(self) -> int:
        """The programmed line speed (0 if the divisor is 0)."""
        return BAUD_BASE // self.divisor if self.divisor else 0

    @property
    def fifo_enabled(self) -> bool:
        return bool(self.fcr & FCR_ENABLE)

    @property
    def rx_trigger(self) -> int:
        return RX_TRIGGER_LEVELS[self.fcr >> FCR_TRIGGER_SHIFT]

    @property
    def rx_pending(self) -> bytes:
        """The bytes waiting in the RX FIFO (or RBR), oldest first."""
        return bytes(b & 0xFF for b in self._rx)

    @property
    def input_pending(self) -> bytes:
        """Input the far end has offered that has not entered the receiver."""
        return bytes(self._tape[self.bytes_rx:])

    def iir(self) -> int:
        """The IIR value, without the side effect of a guest read."""
        return self._interrupt_id() | (IIR_FIFO_ENABLED if self.fifo_enabled else 0)

    def lsr(self) -> int:
        """The LSR value, without the side effect of a guest read."""
        return (self._lsr_errors | LSR_THRE | LSR_TEMT
                | (LSR_DR if self._rx else 0))

    def msr(self) -> int:
        """The MSR value, without the side effect of a guest read."""
        return self._msr_status() | self._msr_deltas

    # -------------------------------------------------------- register access

    def read_byte(self, offset: int) -> int:
        self._pull_input()
        dlab = self.lcr & LCR_DLAB
        if offset == LSR:                # first: what a polling guest reads
            value = self.lsr()
            self._lsr_errors = 0
        elif offset == RBR_THR_DLL:
            if dlab:
                value = self.divisor & 0xFF
            else:
                if self._rx:
                    self._rbr = self._rx.pop(0) & 0xFF
                value = self._rbr
        elif offset == IER_DLM:
            value = (self.divisor >> 8) if dlab else self.ier
        elif offset == IIR_FCR:
            value = self.iir()
            if value & 0x0F == IIR_THRE:
                self._thre_pending = False
        elif offset == LCR:
            value = self.lcr
        elif offset == MCR:
            value = self.mcr
        elif offset == MSR:
            value = self.msr()
            self._msr_deltas = 0
        else:
            value = self.scr
        self._sync()
        return value

    def write_byte(self, offset: int, value: int) -> None:
        dlab = self.lcr & LCR_DLAB
        if offset == RBR_THR_DLL:
            if dlab:
                self.divisor = (self.divisor & 0xFF00) | value
            else:
                self._transmit(value)
        elif offset == IER_DLM:
            if dlab:
                self.divisor = (self.divisor & 0x00FF) | (value << 8)
            else:
                self._write_ier(value)
        elif offset == IIR_FCR:
            self._write_fcr(value)
        elif offset == LCR:
            self.lcr = value
        elif offset == MCR:
            old = self._msr_status()
            self.mcr = value & MCR_MASK
            self._note_msr_change(old)
        elif offset == SCR:
            self.scr = value
        # LSR and MSR writes are ignored (factory test).
        self._sync()

    def quiet_io(self, offset: int, size: int, is_write: bool, value: int) -> int:
        """Device.quiet_io: a byte access while IER = 0 (no interrupt can be
        pending, so the IRQ line stays low) and no input is recorded or
        replayed -- except a write enabling an interrupt.  The polled
        transmit path (read LSR, write THR: :meth:`_quiet_lsr`,
        :meth:`_quiet_thr`) skips the register dispatch."""
        own = self.own_quiet_server(offset, is_write)
        if own is not None:
            return own(size, value)
        if self.ier or self.input_gate is not None or size != 1:
            return -1
        if is_write:
            if offset == IER_DLM and not self.lcr & LCR_DLAB and value & 0x0F:
                return -1
            self.write_byte(offset, value)
            return 0
        return self.read_byte(offset)

    def _quiet_thr(self, size: int, value: int) -> int:
        """A quiet write at offset 0 (quiet_io's conditions): THR (to the
        sink, as write_byte does then), or DLL, or in loopback the
        receiver."""
        if self.ier or self.input_gate is not None or size != 1:
            return -1
        if self.lcr & LCR_DLAB or self.mcr & MCR_LOOP:
            self.write_byte(RBR_THR_DLL, value)
            return 0
        self._emit(bytes((value,)))
        self.bytes_tx += 1
        self._thre_pending = False
        if self._source is not None or self.bytes_rx != len(self._tape):
            self._pull_input()
        return 0

    def _quiet_lsr(self, size: int, _value: int) -> int:
        """A quiet LSR read (quiet_io's conditions): what read_byte returns,
        its error bits cleared; input is pulled in before and after."""
        if self.ier or self.input_gate is not None or size != 1:
            return -1
        if self._source is None and self.bytes_rx == len(self._tape):
            value = self.lsr()          # no input offered: none to pull
        else:
            self._pull_input()
            value = self.lsr()
            self._pull_input()
        self._lsr_errors = 0
        return value

    # ---------------------------------------------------------------- helpers

    def _write_ier(self, value: int) -> None:
        changed = (self.ier ^ value) & IER_ETBEI
        self.ier = value & 0x0F
        # QEMU: a rising edge of ETBEI samples THRE (Windows relies on it);
        # a falling edge forgets a pending THRE interrupt.
        if changed:
            self._thre_pending = bool(self.ier & IER_ETBEI)   # THRE is always 1

    def _write_fcr(self, value: int) -> None:
        if not value & FCR_ENABLE:
            # FCR0 = 0: FIFOs off (cleared if they were on); other bits are
            # not programmed (datasheet 8.5).
            if self.fcr & FCR_ENABLE:
                self._give_back_rx()
            self.fcr = 0
            return
        if not self.fcr & FCR_ENABLE or value & FCR_CLEAR_RX:
            self._give_back_rx()        # mode change or explicit clear
        # FCR bit 2 (clear TX) has nothing to clear: transmit is instant.
        self.fcr = value & (FCR_ENABLE | FCR_DMA | (3 << FCR_TRIGGER_SHIFT))

    def _transmit(self, byte: int) -> None:
        if self.mcr & MCR_LOOP:
            self._receive_looped(byte)
        else:
            self._emit(bytes([byte]))
            self.bytes_tx += 1
        # The THR empties at once: writing THR clears the THRE interrupt and
        # the (instant) transmission sets it again.
        self._thre_pending = bool(self.ier & IER_ETBEI)

    def _receive_looped(self, byte: int) -> None:
        if len(self._rx) < self._rx_capacity():
            self._rx.append(byte | _LOOPED)
            return
        self._lsr_errors |= LSR_OE
        if not self.fifo_enabled:
            self._rx[-1] = byte | _LOOPED     # 16450: RBR is overwritten
        # FIFO mode: the new character is lost (datasheet 8.4, LSR bit 1).

    def _rx_capacity(self) -> int:
        return FIFO_SIZE if self.fifo_enabled else 1

    def _pull_input(self) -> None:
        if self.bytes_rx == len(self._tape) and self._source is None and self.input_gate is None:
            return                      # nothing offered, nobody to ask (the common case)
        if self.mcr & MCR_LOOP:
            return                      # receiver is disconnected from the line
        room = self._rx_capacity() - len(self._rx)
        if room <= 0:
            return
        gate = self.input_gate
        if gate is not None and gate.replaying():
            # re-execution: only what the recording moved at this position
            n = min(gate.replay(room), len(self._tape) - self.bytes_rx)
        else:
            if self.bytes_rx == len(self._tape) and self._source is not None:
                data = self._source()
                if data:
                    self._tape += data
            n = min(room, len(self._tape) - self.bytes_rx)
            if n and gate is not None:
                gate.record(n)
        if n <= 0:
            return
        self._rx.extend(self._tape[self.bytes_rx:self.bytes_rx + n])
        self.bytes_rx += n

    def _give_back_rx(self) -> None:
        """Clear the RX FIFO; input-tape bytes go back onto the tape."""
        from_tape = sum(1 for b in self._rx if not b & _LOOPED)
        self.bytes_rx -= from_tape
        self._rx.clear()

    def _msr_status(self) -> int:
        if self.mcr & MCR_LOOP:
            m = self.mcr
            return ((MSR_CTS if m & MCR_RTS else 0) | (MSR_DSR if m & MCR_DTR else 0)
                    | (MSR_RI if m & MCR_OUT1 else 0) | (MSR_DCD if m & MCR_OUT2 else 0))
        return self.modem_lines

    def _note_msr_change(self, old: int) -> None:
        new = self._msr_status()
        changed = old ^ new
        if changed & MSR_CTS:
            self._msr_deltas |= MSR_DCTS
        if changed & MSR_DSR:
            self._msr_deltas |= MSR_DDSR
        if changed & MSR_DCD:
            self._msr_deltas |= MSR_DDCD
        if old & MSR_RI and not new & MSR_RI:
            self._msr_deltas |= MSR_TERI    # trailing edge of RI only

    def _interrupt_id(self) -> int:
        ier = self.ier
        if ier & IER_ELSI and self._lsr_errors:
            return IIR_RLS
        if ier & IER_ERBFI and self._rx:
            if not self.fifo_enabled or len(self._rx) >= self.rx_trigger:
                return IIR_RDA
            return IIR_CTI
        if ier & IER_ETBEI and self._thre_pending:
            return IIR_THRE
        if ier & IER_EDSSI and self._msr_deltas:
            return IIR_MSI
        return IIR_NO_INT

    def _sync(self) -> None:
        self._pull_input()
        self._update_irq()

    def _update_irq(self) -> None:
        level = self._interrupt_id() != IIR_NO_INT
        if self.out2_gates_irq:
            level = level and bool(self.mcr & MCR_OUT2) and not self.mcr & MCR_LOOP
        self.irq.set(level)

    # -------------------------------------------------------------- snapshots

    def snapshot(self) -> dict:
        return {
            "ier": self.ier, "lcr": self.lcr, "mcr": self.mcr, "fcr": self.fcr,
            "divisor": self.divisor, "scr": self.scr,
            "lsr_errors": self._lsr_errors, "msr_deltas": self._msr_deltas,
            "modem_lines": self.modem_lines, "thre_pending": self._thre_pending,
            "rbr": self._rbr, "rx_fifo": list(self._rx),
            "bytes_rx": self.bytes_rx, "bytes_tx": self.bytes_tx,
            "input_pending": self.input_pending,
        }

    def restore(self, state: dict) -> None:
        self.ier = state["ier"]
        self.lcr = state["lcr"]
        self.mcr = state["mcr"]
        self.fcr = state["fcr"]
        self.divisor = state["divisor"]
        self.scr = state["scr"]
        self._lsr_errors = state["lsr_errors"]
        self._msr_deltas = state["msr_deltas"]
        self.modem_lines = state["modem_lines"]
        self._thre_pending = bool(state["thre_pending"])
        self._rbr = state["rbr"]
        self._rx = [int(b) for b in state["rx_fifo"]]
        self.bytes_tx = state["bytes_tx"]
        pos = state["bytes_rx"]
        pending = bytes(state["input_pending"])
        # The tape only grows, so on a rewind it already holds what was
        # pending then (and more).  A fresh device gets the saved rest.
        if bytes(self._tape[pos:pos + len(pending)]) != pending:
            del self._tape[pos:]
            self._tape += bytes(max(0, pos - len(self._tape)))  # unknown history
            self._tape += pending
        self.bytes_rx = pos
        end = self._output_base + self.bytes_tx
        if self.output is not None and len(self.output) > end:
            del self.output[end:]
        self.stop_request = None
        self._update_irq()
