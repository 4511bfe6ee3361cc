"""The legacy virtio console against the virtio 1.0 specification.

The driver's side is written here by hand from the spec (section numbers in
each test), with struct layouts and offsets spelt out, not taken from the
device module: descriptor {addr u64, len u32, flags u16, next u16} (2.6.5),
available ring {flags u16, idx u16, ring[] u16} (2.6.6), used ring
{flags u16, idx u16, ring[] {id u32, len u32}} (2.6.8), the legacy layout
with the used ring on the next 4096-byte boundary (2.6.2), and the legacy
register block (4.1.4.8)."""

import struct

import pytest

from emu.devices.device import Doorbell, IrqLine
from emu.devices.virtio_console import VirtioConsole, ring_layout
from emu.memory import Ram

PFN = 0x10
BASE = PFN * 4096
N = 128
AVAIL = BASE + 16 * N               # 2048: right after the descriptors
USED = BASE + 4096                  # 2048 + 6 + 2 * 128 = 2310, aligned up to 4096
# registers (4.1.4.8)
HOST_FEATURES, GUEST_FEATURES, QUEUE_PFN, QUEUE_NUM = 0x00, 0x04, 0x08, 0x0C
QUEUE_SEL, QUEUE_NOTIFY, STATUS, ISR = 0x0E, 0x10, 0x12, 0x13
NEXT, WRITE = 1, 2
DRIVER_OK_ALL = 1 | 2 | 4           # ACKNOWLEDGE | DRIVER | DRIVER_OK
NEEDS_RESET = 64


class Driver:
    """The driver's half of one transmitq, in a RAM of 1 MiB."""

    def __init__(self, **kw):
        self.ram = Ram(1 << 20)
        self.irq = IrqLine()
        self.out = bytearray()
        self.dev = VirtioConsole(self.ram, irq=self.irq, sink=self.out, **kw)
        self.avail_idx = 0

    def setup(self, queue=1, status=DRIVER_OK_ALL):
        d = self.dev
        d.write(STATUS, 1, 0)
        d.write(STATUS, 1, 1)
        d.write(STATUS, 1, 3)
        d.write(GUEST_FEATURES, 4, 0)
        d.write(QUEUE_SEL, 2, queue)
        d.write(QUEUE_PFN, 4, PFN)
        d.write(STATUS, 1, status)

    def desc(self, i, addr, length, flags=0, nxt=0):
        self.ram.load(BASE + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def offer(self, head):
        self.ram.write(AVAIL + 4 + 2 * (self.avail_idx % N), 2, head)
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.ram.write(AVAIL + 2, 2, self.avail_idx)

    def text(self, i, addr, data, flags=0, nxt=0):
        self.ram.load(addr, data)
        self.desc(i, addr, len(data), flags, nxt)

    def send(self, data):
        """One buffer in descriptor 0, made available, then the doorbell."""
        self.text(0, 0x8000, data)
        self.offer(0)
        self.dev.write(QUEUE_NOTIFY, 2, 1)

    def used_idx(self):
        return self.ram.read(USED + 2, 2)

    def used(self, k):
        return struct.unpack("<II", self.ram.read_bytes(USED + 4 + 8 * (k % N), 8))


def test_legacy_ring_layout_follows_the_spec_formula():
    # 2.6.2: ALIGN(16*qsz + 2*(3+qsz)) + ALIGN(2*3 + 8*qsz), ALIGN to 4096
    assert ring_layout(128) == {"desc": 0, "avail": 2048, "used": 4096, "size": 4096 + 6 + 8 * 128}
    assert ring_layout(256)["used"] == 8192        # 4096 + 6 + 512 > 4096
    assert ring_layout(16) == {"desc": 0, "avail": 256, "used": 4096, "size": 4096 + 6 + 128}


def test_register_block():
    drv = Driver()
    d = drv.dev
    assert d.read(HOST_FEATURES, 4) & 1                # VIRTIO_CONSOLE_F_SIZE offered
    d.write(QUEUE_SEL, 2, 1)
    assert d.read(QUEUE_SEL, 2) == 1
    assert d.read(QUEUE_NUM, 2) == N
    d.write(QUEUE_SEL, 2, 2)                           # no third queue without MULTIPORT
    assert d.read(QUEUE_NUM, 2) == 0
    d.write(QUEUE_SEL, 2, 1)
    d.write(QUEUE_PFN, 4, PFN)
    assert d.read(QUEUE_PFN, 4) == PFN
    d.write(STATUS, 1, 3)
    assert d.read(STATUS, 1) == 3
    d.write(GUEST_FEATURES, 4, 0xFFFFFFFF)            # only what is offered sticks
    assert d.read(GUEST_FEATURES, 4) == d.read(HOST_FEATURES, 4)
    assert d.read(0x14, 2) == 80 and d.read(0x16, 2) == 25    # 5.3.4 cols, rows


def test_one_buffer_is_used_and_interrupts():
    drv = Driver()
    drv.setup()
    drv.send(b"hello\n")
    assert bytes(drv.out) == b"hello\n"
    assert drv.used_idx() == 1
    assert drv.used(0) == (0, 0)                       # id = head, len = 0 bytes written
    assert drv.irq.level
    assert drv.dev.read(ISR, 1) == 1                   # bit 0: used buffer notification
    assert not drv.irq.level                           # reading ISR acknowledges
    assert drv.dev.read(ISR, 1) == 0


def test_every_available_buffer_is_taken_at_one_notification():
    drv = Driver()
    drv.setup()
    for i in range(5):
        drv.text(i, 0x8000 + 16 * i, b"%d" % i)
        drv.offer(i)
    drv.dev.write(QUEUE_NOTIFY, 2, 1)
    assert bytes(drv.out) == b"01234"
    assert drv.used_idx() == 5
    assert [drv.used(k)[0] for k in range(5)] == [0, 1, 2, 3, 4]


def test_no_interrupt_flag_suppresses_the_interrupt_not_the_work():
    drv = Driver()
    drv.setup()
    drv.ram.write(AVAIL, 2, 1)                         # VRING_AVAIL_F_NO_INTERRUPT
    drv.send(b"x")
    assert bytes(drv.out) == b"x" and drv.used_idx() == 1
    assert not drv.irq.level
    assert drv.dev.read(ISR, 1) == 0


def test_chained_descriptors_follow_next_and_skip_device_writable_buffers():
    drv = Driver()
    drv.setup()
    # head 5 -> 2 -> 9 -> 7: 9 is device-writable (WRITE), so not output
    drv.text(5, 0x9000, b"ab", NEXT, 2)
    drv.text(2, 0x9100, b"cd", NEXT, 9)
    drv.text(9, 0x9200, b"zz", NEXT | WRITE, 7)
    drv.text(7, 0x9300, b"ef")
    drv.offer(5)
    drv.dev.write(QUEUE_NOTIFY, 2, 1)
    assert bytes(drv.out) == b"abcdef"
    assert drv.used_idx() == 1 and drv.used(0) == (5, 0)


def test_indexes_wrap_at_65536():
    drv = Driver()
    drv.setup()
    state = drv.dev.snapshot()
    state["last_avail"] = [0, 65534]                   # the device has used 65534 buffers
    drv.dev.restore(state)
    drv.ram.write(USED + 2, 2, 65534)
    drv.avail_idx = 65534
    for i, ch in enumerate(b"wxyz"):
        drv.text(i, 0x8000 + i, bytes([ch]))
        drv.offer(i)                                   # slots 65534 % 128 = 126, 127, 0, 1
    assert drv.avail_idx == 2
    drv.dev.write(QUEUE_NOTIFY, 2, 1)
    assert bytes(drv.out) == b"wxyz"
    assert drv.used_idx() == 2
    assert [drv.used(k)[0] for k in (126, 127, 0, 1)] == [0, 1, 2, 3]


def test_nothing_is_consumed_before_driver_ok():
    drv = Driver()
    drv.setup(status=3)                                # ACKNOWLEDGE | DRIVER only
    drv.send(b"early")
    assert drv.out == b"" and drv.used_idx() == 0
    drv.dev.write(STATUS, 1, DRIVER_OK_ALL)
    drv.dev.write(QUEUE_NOTIFY, 2, 1)
    assert drv.out == b"early" and drv.used_idx() == 1


def test_receiveq_buffers_stay_available():
    drv = Driver()
    drv.setup(queue=0)
    drv.desc(0, 0x8000, 64, WRITE)
    drv.offer(0)
    drv.dev.write(QUEUE_NOTIFY, 2, 0)
    assert drv.used_idx() == 0 and not drv.irq.level


@pytest.mark.parametrize("break_ring", [
    lambda drv: (drv.desc(0, 0x8000, 1, NEXT, 1), drv.desc(1, 0x8000, 1, NEXT, 0), drv.offer(0)),
    lambda drv: (drv.desc(0, 0x8000, 1, NEXT, 200), drv.offer(0)),
    lambda drv: (drv.desc(0, 1 << 20, 16), drv.offer(0)),
    lambda drv: drv.ram.write(AVAIL + 2, 2, N + 1),
], ids=["a chain that loops", "next beyond the queue", "a buffer outside RAM",
        "more pending than the queue holds"])
def test_a_broken_ring_needs_a_reset_and_reset_recovers(break_ring):
    drv = Driver()
    drv.setup()
    break_ring(drv)
    drv.dev.write(QUEUE_NOTIFY, 2, 1)
    assert drv.dev.read(STATUS, 1) & NEEDS_RESET      # 2.1.2
    assert drv.out == b"" and not drv.irq.level
    drv.dev.write(STATUS, 1, 0)                        # reset
    assert drv.dev.read(STATUS, 1) == 0
    drv.dev.write(QUEUE_SEL, 2, 1)
    assert drv.dev.read(QUEUE_PFN, 4) == 0
    drv.ram.load(BASE, bytes(2 * 4096))                # a fresh ring
    drv.avail_idx = 0
    drv.setup()
    drv.send(b"ok")
    assert drv.out == b"ok" and drv.used_idx() == 1


def test_reset_lowers_the_interrupt_and_forgets_the_queue():
    drv = Driver()
    drv.setup()
    drv.send(b"a")
    assert drv.irq.level
    drv.dev.write(STATUS, 1, 0)
    assert not drv.irq.level
    assert drv.dev.read(ISR, 1) == 0
    drv.dev.write(QUEUE_SEL, 2, 1)
    assert drv.dev.read(QUEUE_PFN, 4) == 0
    assert drv.dev.read(GUEST_FEATURES, 4) == 0


def test_doorbells_are_queue_notify_per_queue():
    assert Driver().dev.doorbells() == [Doorbell(QUEUE_NOTIFY, 2, 0), Doorbell(QUEUE_NOTIFY, 2, 1)]


def test_snapshot_restore_round_trip():
    drv = Driver()
    drv.setup()
    drv.send(b"a")
    state = drv.dev.snapshot()
    drv.dev.write(STATUS, 1, 0)
    drv.dev.restore(state)
    assert drv.dev.snapshot() == state
    assert drv.irq.level
