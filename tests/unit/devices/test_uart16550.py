"""16550A UART register model; expected values from the PC16550D datasheet."""

import pytest

from emu.devices.device import IrqLine
from emu.devices.uart16550 import Uart16550

RBR = THR = DLL = 0
IER = DLM = 1
IIR = FCR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7


def rd(u, off):
    return u.read(off, 1)


def wr(u, off, val):
    u.write(off, 1, val)


def make(**kw):
    irq = IrqLine()
    return Uart16550(irq=irq, **kw), irq


# ------------------------------------------------------------- reset state

def test_reset_state_is_9600_8n1_with_thr_empty():
    u, irq = make()
    assert rd(u, LCR) == 0x03
    assert rd(u, LSR) == 0x60            # THRE | TEMT
    assert rd(u, IIR) == 0x01            # no interrupt, FIFOs off
    assert rd(u, IER) == 0x00
    assert rd(u, MCR) == 0x08            # OUT2
    assert rd(u, MSR) == 0xB0            # DCD, DSR, CTS from the far end
    assert rd(u, SCR) == 0x00
    assert u.divisor == 12 and u.baud == 9600
    assert irq.level is False


def test_name_and_region():
    u = Uart16550()
    assert u.name == "serial0" and u.region_size == 8
    assert Uart16550(name="serial1").name == "serial1"


# -------------------------------------------------------- DLAB and divisor

def test_dlab_switches_offsets_0_and_1_to_the_divisor_latch():
    u, _ = make()
    wr(u, IER, 0x05)
    wr(u, LCR, 0x83)                     # DLAB=1
    wr(u, DLL, 0x01)
    wr(u, DLM, 0x00)
    assert rd(u, DLL) == 0x01
    assert rd(u, DLM) == 0x00
    assert u.output == bytearray()       # DLL write did not transmit
    wr(u, LCR, 0x03)                     # DLAB=0
    assert rd(u, IER) == 0x05            # IER untouched by the DLM write
    assert u.divisor == 1 and u.baud == 115200


def test_divisor_is_sixteen_bits():
    u, _ = make()
    wr(u, LCR, 0x80)
    wr(u, DLL, 0x80)
    wr(u, DLM, 0x01)                     # 0x180 = 384 -> 300 baud
    assert (rd(u, DLL), rd(u, DLM)) == (0x80, 0x01)
    assert u.baud == 300


def test_lcr_and_scr_read_back():
    u, _ = make()
    wr(u, LCR, 0x1F)
    assert rd(u, LCR) == 0x1F
    wr(u, SCR, 0xA5)
    assert rd(u, SCR) == 0xA5


def test_ier_upper_bits_read_as_zero():
    u, _ = make()
    wr(u, IER, 0xFF)
    assert rd(u, IER) == 0x0F


def test_mcr_upper_bits_read_as_zero():
    u, _ = make()
    wr(u, MCR, 0xFF & ~0x10)
    assert rd(u, MCR) == 0x0F


# ---------------------------------------------------------------- transmit

def test_thr_write_goes_to_output_and_lsr_stays_empty():
    u, _ = make()
    for ch in b"ok":
        wr(u, THR, ch)
    assert u.output == bytearray(b"ok")
    assert u.bytes_tx == 2
    assert rd(u, LSR) & 0x60 == 0x60


def test_callable_sink():
    got = []
    u = Uart16550(sink=got.append)
    wr(u, THR, 0x41)
    assert got == [b"A"]


# ----------------------------------------------------------------- receive

def test_input_string_is_received_in_order_with_dr():
    u, _ = make(source=b"hey")
    got = []
    while rd(u, LSR) & 0x01:
        got.append(rd(u, RBR))
    assert bytes(got) == b"hey"
    assert rd(u, LSR) == 0x60
    assert u.bytes_rx == 3


def test_feed_adds_input():
    u, _ = make()
    assert rd(u, LSR) & 0x01 == 0
    u.feed(b"z")
    assert rd(u, LSR) & 0x01 == 1
    assert rd(u, RBR) == ord("z")


def test_callable_source_is_polled():
    chunks = [b"ab", None, b"c"]
    u, _ = make(source=lambda: chunks.pop(0) if chunks else None)
    got = bytearray()
    for _ in range(10):
        if rd(u, LSR) & 0x01:
            got.append(rd(u, RBR))
    assert got == b"abc"


def test_fifo_holds_16_bytes_and_16450_mode_holds_one():
    u, _ = make(source=bytes(range(40)))
    assert u.poll() == 1                  # 16450 mode: RBR only
    wr(u, FCR, 0x01)
    assert u.poll() == 16
    assert u.rx_pending == bytes(range(16))   # nothing was lost


def test_fifo_clear_keeps_input_from_the_tape():
    u, _ = make(source=b"abc")
    u.poll()
    wr(u, FCR, 0x07)                     # enable + clear RX/TX
    got = bytes(rd(u, RBR) for _ in range(3))
    assert got == b"abc"


# ----------------------------------------------------------------- FCR/IIR

def test_iir_fifo_bits_follow_fcr_enable():
    u, _ = make()
    wr(u, FCR, 0x01)
    assert rd(u, IIR) == 0xC1
    wr(u, FCR, 0x00)
    assert rd(u, IIR) == 0x01


@pytest.mark.parametrize("fcr,trigger", [(0x01, 1), (0x41, 4), (0x81, 8), (0xC1, 14)])
def test_fifo_trigger_level(fcr, trigger):
    u, irq = make()
    wr(u, FCR, fcr)
    wr(u, IER, 0x01)
    if trigger > 1:
        u.feed(bytes(trigger - 1))
        assert rd(u, IIR) == 0xCC        # below trigger: character timeout
    u.feed(b"\x00")
    assert rd(u, IIR) == 0xC4            # at trigger: received data available
    assert irq.level is True


def test_rda_clears_when_fifo_drops_below_trigger():
    u, irq = make()
    wr(u, FCR, 0x41)                     # trigger 4
    wr(u, IER, 0x01)
    u.feed(b"abcd")
    assert rd(u, IIR) == 0xC4
    rd(u, RBR)
    assert rd(u, IIR) == 0xCC            # 3 left: timeout indication
    rd(u, RBR), rd(u, RBR), rd(u, RBR)
    assert rd(u, IIR) == 0xC1
    assert irq.level is False


def test_thre_interrupt_on_enable_and_cleared_by_iir_read():
    u, irq = make()
    wr(u, IER, 0x02)
    assert irq.level is True
    assert rd(u, IIR) == 0x02
    assert irq.level is False            # reading IIR cleared THRE
    assert rd(u, IIR) == 0x01


def test_thre_interrupt_comes_back_after_thr_write():
    u, irq = make()
    wr(u, IER, 0x02)
    rd(u, IIR)
    wr(u, THR, 0x41)
    assert irq.level is True
    assert rd(u, IIR) == 0x02


def test_iir_priority_line_status_over_data_over_thre_over_modem():
    u, irq = make()
    wr(u, MCR, 0x10)                     # loopback: CTS/DSR/DCD drop -> deltas
    wr(u, IER, 0x0F)
    wr(u, MCR, 0x13)                     # RTS+DTR on: CTS/DSR rise
    wr(u, THR, 1)                        # fills RBR (16450 mode)
    wr(u, THR, 2)                        # overrun -> OE
    assert rd(u, IIR) == 0x06            # line status first
    assert rd(u, LSR) & 0x02             # reading LSR clears it
    assert rd(u, IIR) == 0x04            # then received data
    assert rd(u, RBR) == 2               # 16450 overrun overwrote RBR
    assert rd(u, IIR) == 0x02            # then THR empty (read clears it)
    assert rd(u, IIR) == 0x00            # then modem status
    assert irq.level is True
    assert rd(u, MSR) == 0x3B            # CTS, DSR; DCTS, DDSR, DDCD
    assert rd(u, IIR) == 0x01
    assert irq.level is False


def test_disabled_sources_do_not_interrupt():
    u, irq = make(source=b"x")
    wr(u, IER, 0x00)
    assert rd(u, LSR) & 0x01
    assert rd(u, IIR) == 0x01
    assert irq.level is False


def test_rx_interrupt_raised_and_lowered_on_the_line():
    levels = []
    u = Uart16550(irq=IrqLine(levels.append))
    wr(u, IER, 0x01)
    u.feed(b"q")
    assert levels == [True]
    rd(u, RBR)
    assert levels == [True, False]


def test_out2_gating_option():
    u, irq = make(out2_gates_irq=True)
    wr(u, MCR, 0x00)
    wr(u, IER, 0x02)
    assert irq.level is False
    wr(u, MCR, 0x08)
    assert irq.level is True


# ------------------------------------------------------------------ LSR

def test_lsr_overrun_in_fifo_mode_drops_new_byte_and_read_clears_oe():
    u, _ = make()
    wr(u, FCR, 0x01)
    wr(u, MCR, 0x10)
    for i in range(17):
        wr(u, THR, i)
    assert rd(u, LSR) == 0x63            # DR | OE | THRE | TEMT
    assert rd(u, LSR) == 0x61            # OE cleared by the read
    got = [rd(u, RBR) for _ in range(16)]
    assert got == list(range(16))        # the 17th byte was lost
    assert rd(u, LSR) & 0x01 == 0


@pytest.mark.parametrize("fcr,received", [(0x01, list(range(16))), (0x00, [16])],
                         ids=["fifo", "16450"])
def test_lsr_after_draining_the_receiver_with_an_overrun_pending(fcr, received):
    """Datasheet 8.4: DR is reset when every received character has been read
    (the RX FIFO is empty, or RBR read in 16450 mode); OE is reset only by a
    read of LSR.  So after the receiver is drained without an LSR read, LSR
    shows OE without DR, and the receiver-line-status interrupt is still
    pending (IIR 0x06) and on the line until that read."""
    u, irq = make()
    wr(u, FCR, fcr)
    wr(u, MCR, 0x10)                     # loopback: THR goes to the receiver
    wr(u, IER, 0x05)                     # line status and received data interrupts
    for i in range(17):
        wr(u, THR, i)                    # one more than the receiver holds
    assert [rd(u, RBR) for _ in range(len(received))] == received
    assert rd(u, IIR) & 0x0F == 0x06
    assert irq.level is True
    assert rd(u, LSR) == 0x62            # OE | THRE | TEMT; DR clear: nothing left
    assert rd(u, LSR) == 0x60            # the read reset OE
    assert rd(u, IIR) & 0x0F == 0x01
    assert irq.level is False


# ------------------------------------------------------------- loopback/MSR

def test_loopback_tx_goes_to_rx_not_output():
    u, _ = make()
    wr(u, FCR, 0x07)
    wr(u, MCR, 0x10)
    u.feed(b"ext")
    wr(u, THR, 0x55)
    assert u.output == bytearray()
    assert u.bytes_tx == 0
    assert rd(u, LSR) & 0x01
    assert rd(u, RBR) == 0x55
    assert rd(u, LSR) & 0x01 == 0        # receiver is cut off from the line
    wr(u, MCR, 0x00)
    assert rd(u, RBR) == ord("e")        # external input again


@pytest.mark.parametrize("mcr,msr_high", [
    (0x10, 0x00),
    (0x11, 0x20),    # DTR -> DSR
    (0x12, 0x10),    # RTS -> CTS
    (0x14, 0x40),    # OUT1 -> RI
    (0x18, 0x80),    # OUT2 -> DCD
    (0x1F, 0xF0),
])
def test_loopback_msr_reflects_mcr(mcr, msr_high):
    u, _ = make()
    wr(u, MCR, mcr)
    assert rd(u, MSR) & 0xF0 == msr_high


def test_msr_delta_bits_and_trailing_edge_ri():
    u, _ = make()
    wr(u, MCR, 0x10)                     # loopback, all outputs off
    rd(u, MSR)
    wr(u, MCR, 0x1F)
    assert rd(u, MSR) == 0xF0 | 0x0B     # DCTS, DDSR, DDCD; RI rose: no TERI
    assert rd(u, MSR) == 0xF0            # deltas cleared by the read
    wr(u, MCR, 0x1B)                     # OUT1 off: RI falls
    assert rd(u, MSR) == 0xB0 | 0x04     # TERI only


def test_modem_status_interrupt_from_far_end():
    u, irq = make()
    wr(u, IER, 0x08)
    u.set_modem_lines(cts=False)
    assert irq.level is True
    assert rd(u, IIR) == 0x00
    assert rd(u, MSR) == 0xA1            # DCD, DSR, DCTS
    assert irq.level is False


# ---------------------------------------------------- wide access, reset

def test_wide_read_spans_registers():
    u, _ = make()
    # offsets 5 and 6: LSR then MSR, little-endian
    assert u.read(5, 2) == 0xB060


def test_reset_restores_reset_state():
    u, irq = make()
    wr(u, LCR, 0x80)
    wr(u, DLL, 1)
    wr(u, LCR, 0x1B)
    wr(u, IER, 0x02)
    wr(u, FCR, 0x01)
    u.reset()
    assert rd(u, LCR) == 0x03 and u.divisor == 12
    assert rd(u, IIR) == 0x01
    assert irq.level is False


# --------------------------------------------------------- snapshot/restore

def test_snapshot_restore_round_trip_rewinds_fifo_and_counters():
    u, irq = make(source=b"0123456789")
    wr(u, FCR, 0x01)
    wr(u, IER, 0x01)
    wr(u, SCR, 0x5A)
    rd(u, RBR)
    wr(u, THR, ord("A"))
    state = u.snapshot()
    before = [rd(u, RBR) for _ in range(9)]
    wr(u, THR, ord("B"))
    wr(u, SCR, 0)
    u.restore(state)
    assert u.snapshot() == state
    assert u.output == bytearray(b"A")
    assert (u.bytes_tx, rd(u, SCR)) == (1, 0x5A)
    assert irq.level is True
    assert [rd(u, RBR) for _ in range(9)] == before == list(b"123456789")


def test_snapshot_restores_into_a_fresh_device():
    u, _ = make()
    wr(u, FCR, 0xC1)
    u.feed(b"abcdefghijklmnopqrstu")     # 16 in FIFO, 5 waiting
    state = u.snapshot()
    fresh, irq = make()
    fresh.restore(state)
    assert fresh.snapshot() == state
    assert fresh.rx_trigger == 14
    got = bytearray()
    while rd(fresh, LSR) & 1:
        got.append(rd(fresh, RBR))
    assert got == b"abcdefghijklmnopqrstu"
    assert fresh.bytes_rx == 21


def test_snapshot_is_plain_data():
    u, _ = make(source=b"x")
    state = u.snapshot()
    plain = (int, bool, bytes, str, list, type(None))
    assert all(isinstance(v, plain) for v in state.values())


# ------------------------------------------------- input gate (record/replay)

class Gate:
    """Replays nothing until told; records every transfer."""

    def __init__(self, replay=False):
        self.replay_mode = replay
        self.allow = 0
        self.recorded = []

    def replaying(self):
        return self.replay_mode

    def replay(self, room):
        n, self.allow = min(room, self.allow), 0
        return n

    def record(self, n):
        self.recorded.append(n)


def test_input_gate_records_each_transfer_from_the_tape():
    u, _ = make()
    u.input_gate = g = Gate()
    u.feed(b"ab")
    assert rd(u, RBR) == ord("a")
    assert rd(u, RBR) == ord("b")
    assert g.recorded == [1, 1]          # 16450 mode: one byte of room at a time


def test_replaying_gate_moves_only_what_it_allows_and_never_calls_the_source():
    calls = []

    def source():
        calls.append(1)
        return b"z"
    u, irq = make()
    u.input_gate = g = Gate(replay=True)
    u._source = source
    u.feed(b"xy")
    wr(u, IER, 0x01)
    assert rd(u, LSR) & 0x01 == 0 and irq.level is False
    g.allow = 1
    u.poll()
    assert rd(u, LSR) & 0x01 and irq.level is True
    assert rd(u, RBR) == ord("x")
    assert rd(u, LSR) & 0x01 == 0        # 'y' waits for the gate
    assert calls == []
    u.input_gate = None                  # live again: the tape, then the source
    assert rd(u, RBR) == ord("y")
    assert rd(u, RBR) == ord("z") and calls
