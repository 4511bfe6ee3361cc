"""8254 PIT with a manual clock; expected values from the Intel 8254
datasheet (mode definitions, latch and read-back commands, status byte)."""

from emu.devices.device import IrqLine, ManualClock
from emu.devices.i8254 import I8254

F = 1_193_182           # PIT input clock, Hz


def tick_ns(k):
    """First ns at which k input clocks have elapsed (ceil(k / F s))."""
    return -(-k * 10**9 // F)


class Edges:
    """Counts rising edges on an IrqLine."""

    def __init__(self):
        self.rising = 0
        self.line = IrqLine(self)

    def __call__(self, level):
        if level:
            self.rising += 1


def make(start_ns=0):
    clock = ManualClock(start_ns)
    edges = Edges()
    pit = I8254(clock, irq0=edges.line)
    return pit, clock, edges


def out(pit, off, val):
    pit.write(off, 1, val)


def inb(pit, off):
    return pit.read(off, 1)


def program(pit, control, count, channel=0):
    out(pit, 3, control)
    rw = (control >> 4) & 3
    if rw in (1, 3):
        out(pit, channel, count & 0xFF)
    if rw in (2, 3):
        out(pit, channel, count >> 8)


def latch_read(pit, channel=0):
    out(pit, 3, channel << 6)               # counter latch command
    return inb(pit, channel) | (inb(pit, channel) << 8)


def at_tick(clock, base_ns, k):
    clock.set(base_ns + tick_ns(k))


# ------------------------------------------------------------------ mode 2

def test_mode2_period_and_irq_edges():
    pit, clock, edges = make()
    clock.set(5000)
    program(pit, 0x34, 1193)                # ch0, LSB/MSB, mode 2, binary
    base = 5000
    start = edges.rising
    for k in (1, 2, 3):
        deadline = pit.next_deadline_ns()
        assert deadline == base + tick_ns(k * 1193)
        clock.set(deadline - 1)
        pit.update()
        assert edges.rising == start + k - 1
        clock.set(deadline)
        pit.update()
        assert edges.rising == start + k


def test_mode2_counter_values():
    pit, clock, _ = make()
    program(pit, 0x34, 1000)
    assert latch_read(pit) == 1000
    at_tick(clock, 0, 100)
    assert latch_read(pit) == 900
    at_tick(clock, 0, 999)
    assert latch_read(pit) == 1                 # OUT low while count is 1
    assert pit.output(0) is False
    at_tick(clock, 0, 1000)
    assert latch_read(pit) == 1000              # reloaded
    assert pit.output(0) is True


def test_mode6_is_mode2():
    pit, clock, _ = make()
    program(pit, 0x3C, 1000)                    # mode bits 110
    at_tick(clock, 0, 1999)
    assert latch_read(pit) == 1


def test_late_update_gives_one_edge_and_catches_up():
    pit, clock, edges = make()
    program(pit, 0x34, 100)
    before = edges.rising
    at_tick(clock, 0, 350)                      # three periods ended
    pit.update()
    assert edges.rising == before + 1
    assert pit.next_deadline_ns() == tick_ns(400)


# ------------------------------------------------------------------ mode 3

def test_mode3_square_wave_even_count():
    pit, clock, edges = make()
    program(pit, 0x36, 0)                       # count 0 = 65536: 18.2 Hz
    assert pit.next_deadline_ns() == tick_ns(65536)
    at_tick(clock, 0, 10)
    assert latch_read(pit) == 65536 - 20        # counts down by 2
    at_tick(clock, 0, 32767)
    assert pit.output(0) is True
    at_tick(clock, 0, 32768)
    assert pit.output(0) is False               # second half low
    assert latch_read(pit) == 0                 # 65536 reloaded reads as 0
    before = edges.rising
    at_tick(clock, 0, 65536)
    pit.update()
    assert edges.rising == before + 1
    assert pit.output(0) is True


def test_mode3_odd_count_sequence():
    pit, clock, _ = make()
    program(pit, 0x16, 5)                       # ch0, LSB only, mode 3
    values, outs = [], []
    for k in range(6):
        at_tick(clock, 0, k)
        out(pit, 3, 0x00)
        values.append(inb(pit, 0))
        outs.append(pit.output(0))
    # high (N+1)/2 = 3 clocks: 5, 4, 2; low (N-1)/2 = 2 clocks: 5, 2
    assert values == [5, 4, 2, 5, 2, 5]
    assert outs == [True, True, True, False, False, True]


# ------------------------------------------------------------------ mode 0

def test_mode0_one_shot():
    pit, clock, edges = make()
    out(pit, 3, 0x30)                           # mode 0: OUT goes low
    assert pit.irq0.level is False
    out(pit, 0, 100)
    out(pit, 0, 0)
    before = edges.rising
    assert pit.next_deadline_ns() == tick_ns(100)
    at_tick(clock, 0, 99)
    pit.update()
    assert edges.rising == before and pit.irq0.level is False
    assert latch_read(pit) == 1
    at_tick(clock, 0, 100)
    pit.update()
    assert edges.rising == before + 1 and pit.irq0.level is True
    assert pit.next_deadline_ns() is None       # no second interrupt
    at_tick(clock, 0, 101)
    assert latch_read(pit) == 0xFFFF            # keeps counting, wraps
    clock.set(10**9)
    pit.update()
    assert edges.rising == before + 1 and pit.irq0.level is True


def test_mode0_first_byte_stops_counting():
    pit, clock, _ = make()
    program(pit, 0x30, 1000)
    at_tick(clock, 0, 10)
    out(pit, 0, 0x50)                           # LSB of a new count
    at_tick(clock, 0, 500)
    assert latch_read(pit) == 990               # stopped at 990
    assert pit.output(0) is False
    out(pit, 0, 0x00)                           # MSB: load 0x0050 = 80
    base = clock.now_ns()
    clock.set(base + tick_ns(80))
    assert pit.output(0) is True


# ------------------------------------------------------------- modes 1, 4

def test_mode4_strobe_low_for_one_clock():
    pit, clock, edges = make()
    program(pit, 0x38, 50)                      # mode 4
    assert pit.output(0) is True
    at_tick(clock, 0, 50)
    assert pit.output(0) is False
    before = edges.rising
    assert pit.next_deadline_ns() == tick_ns(51)
    at_tick(clock, 0, 51)
    pit.update()
    assert pit.output(0) is True and edges.rising == before + 1


def test_mode1_one_shot_from_count_write():
    pit, clock, _ = make()
    program(pit, 0x32, 20)                      # mode 1
    assert pit.output(0) is False
    at_tick(clock, 0, 20)
    assert pit.output(0) is True


# ------------------------------------------------------- access and latch

def test_latch_holds_value_until_read():
    pit, clock, _ = make()
    program(pit, 0x34, 5000)
    at_tick(clock, 0, 100)
    out(pit, 3, 0x00)
    at_tick(clock, 0, 300)
    out(pit, 3, 0x00)                           # ignored: latch not yet read
    assert inb(pit, 0) | (inb(pit, 0) << 8) == 4900
    assert latch_read(pit) == 4700


def test_unlatched_word_read_toggles_lsb_msb():
    pit, clock, _ = make()
    program(pit, 0x34, 0x1234)
    assert inb(pit, 0) == 0x34
    assert inb(pit, 0) == 0x12


def test_lsb_only_and_msb_only_access():
    pit, clock, _ = make()
    program(pit, 0x54, 0x80, channel=1)         # ch1, LSB only, mode 2
    assert inb(pit, 1) == 0x80
    assert inb(pit, 1) == 0x80
    out(pit, 3, 0xA4)                           # ch2, MSB only, mode 2
    out(pit, 2, 0x02)                           # count 0x0200
    assert inb(pit, 2) == 0x02
    at_tick(clock, 0, 1)
    assert pit.counter(2) == 0x01FF


def test_bcd_counting():
    pit, clock, _ = make()
    program(pit, 0x35, 0x1000)                  # mode 2, BCD, count 1000
    at_tick(clock, 0, 1)
    assert latch_read(pit) == 0x0999
    at_tick(clock, 0, 1000)
    assert latch_read(pit) == 0x1000
    program(pit, 0x35, 0x0000)                  # BCD 0 = 10000
    at_tick(clock, clock.now_ns(), 1)
    assert latch_read(pit) == 0x9999


def test_read_back_status_and_count():
    pit, clock, _ = make()
    out(pit, 3, 0x34)
    out(pit, 3, 0xE2)                           # read-back: status of ch0
    assert inb(pit, 0) == 0x80 | 0x40 | 0x30 | 0x04     # OUT, NULL COUNT, RW=3, mode 2
    out(pit, 0, 0x00)
    out(pit, 0, 0x10)                           # count 0x1000
    at_tick(clock, 0, 0x10)
    out(pit, 3, 0xC2)                           # status and count of ch0
    assert inb(pit, 0) == 0xB4                  # status first, null count clear
    assert inb(pit, 0) | (inb(pit, 0) << 8) == 0x1000 - 0x10


def test_read_back_count_only_several_channels():
    pit, clock, _ = make()
    program(pit, 0x34, 300)
    program(pit, 0x74, 400, channel=1)
    at_tick(clock, 0, 7)
    out(pit, 3, 0xD6)                           # count only, ch0 and ch1
    clock.set(10**6)
    assert inb(pit, 0) | (inb(pit, 0) << 8) == 293
    assert inb(pit, 1) | (inb(pit, 1) << 8) == 393


def test_status_mode0_out_low_before_terminal_count():
    pit, clock, _ = make()
    program(pit, 0x30, 10)
    out(pit, 3, 0xE2)
    assert inb(pit, 0) == 0x30                  # OUT low, count loaded, mode 0


def test_control_register_reads_zero():
    pit, _, _ = make()
    assert inb(pit, 3) == 0


# ------------------------------------------------------- reset, snapshots

def test_reset_state_is_mode3_count_65536_like_qemu():
    pit, clock, _ = make(start_ns=1000)
    assert pit.next_deadline_ns() == 1000 + tick_ns(65536)
    out(pit, 3, 0xE2)
    assert inb(pit, 0) == 0x80 | 0x30 | 0x06


def test_counter_is_deterministic_given_the_clock():
    a, ca, _ = make()
    b, cb, _ = make()
    for pit in (a, b):
        program(pit, 0x34, 777)
    ca.set(123456789)
    cb.set(123456789)
    assert a.counter(0) == b.counter(0) == 777 - (123456789 * F // 10**9) % 777


def test_snapshot_restore_round_trip():
    pit, clock, edges = make()
    program(pit, 0x34, 1000)
    at_tick(clock, 0, 250)
    out(pit, 3, 0x00)                           # latch pending, 2 bytes
    state = pit.snapshot()
    deadline = pit.next_deadline_ns()
    inb(pit, 0)
    program(pit, 0x30, 5)
    pit.restore(state)
    assert pit.snapshot() == state
    assert pit.next_deadline_ns() == deadline
    assert inb(pit, 0) | (inb(pit, 0) << 8) == 750


def test_snapshot_is_plain_data():
    pit, _, _ = make()
    state = pit.snapshot()
    for ch in state["channels"]:
        assert all(isinstance(v, (int, bool, type(None))) for v in ch.values())


def test_the_deadline_follows_every_change_of_the_counter():
    """next_deadline_ns is kept between changes (the Machine asks after
    every exit): a new count, update past an edge, reset and restore each
    give the deadline a fresh chip in that state gives."""
    clock = ManualClock()
    pit = I8254(clock)
    assert pit.next_deadline_ns() == tick_ns(65536)
    saved = pit.snapshot()
    pit.write_byte(3, 0x34)                 # counter 0, LSB then MSB, mode 2
    assert pit.next_deadline_ns() is None   # no count loaded yet
    pit.write_byte(0, 100)
    pit.write_byte(0, 0)
    assert pit.next_deadline_ns() == tick_ns(100)
    clock.set(tick_ns(100))
    pit.update()
    assert pit.next_deadline_ns() == tick_ns(200)
    pit.restore(saved)
    assert pit.next_deadline_ns() == tick_ns(65536)
    pit.reset()                             # every counter loaded with 65536 now
    assert pit.next_deadline_ns() == tick_ns(100) + tick_ns(65536)
