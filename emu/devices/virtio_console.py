"""A legacy virtio console: a paravirtual device driven through rings in guest RAM.

Model: the Virtual I/O Device (VIRTIO) Version 1.0 specification, as a
legacy ("transitional, 0.9.5") device -- the register block a legacy driver
finds behind the device's first I/O BAR:

* section 4.1.4.8, "Legacy Interfaces: A Note on PCI Device Layout": the
  registers, at offsets from the base port::

      0x00  HostFeatures   32 bits  R    features the device offers
      0x04  GuestFeatures  32 bits  R/W  features the driver accepted
      0x08  QueuePFN       32 bits  R/W  the selected queue's page frame (address >> 12)
      0x0C  QueueNum       16 bits  R    the selected queue's size (entries)
      0x0E  QueueSel       16 bits  R/W  which queue QueuePFN / QueueNum refer to
      0x10  QueueNotify    16 bits  R/W  the doorbell: write a queue's index
      0x12  DeviceStatus    8 bits  R/W  ACKNOWLEDGE 1, DRIVER 2, DRIVER_OK 4, ...; 0 resets
      0x13  ISR             8 bits  R    bit 0: used buffer notification; reading clears it
      0x14  device config (the console's, 5.3.4: cols u16, rows u16, max_nr_ports u32)

* section 2.6, "Split Virtqueues", with the legacy layout of 2.6.2 (one
  contiguous area at QueuePFN * 4096, the used ring aligned to 4096)::

      descriptor table  16 * QueueNum bytes: addr u64, len u32, flags u16, next u16
      available ring    flags u16, idx u16, ring[QueueNum] u16, used_event u16
      (padding to the next multiple of 4096)
      used ring         flags u16, idx u16, ring[QueueNum] {id u32, len u32}, avail_event u16

  Indexes are free-running 16-bit counters; the slot of index ``i`` is
  ``i % QueueNum``, so they wrap at 65536 whatever the queue size (2.6.6).
  A descriptor with flag NEXT (1) continues at descriptor ``next`` (2.6.5);
  WRITE (2) marks a buffer the device writes.

* section 5.3, "Console Device": queue 0 is receiveq (host to guest), queue
  1 is transmitq (guest to host).  Without VIRTIO_CONSOLE_F_MULTIPORT
  there are just these two.  Nothing is ever typed into receiveq here: its
  buffers stay available.

What a notification (a write of a queue index to QueueNotify) does: the
device takes every buffer the driver made available since the last one, in
order.  For transmitq it sends the bytes of the chain's device-readable
descriptors to the output sink, and puts the chain's head in the used ring
with length 0 (it wrote nothing into the buffer, 2.6.8).  Then, unless the
driver set VRING_AVAIL_F_NO_INTERRUPT (1) in the available ring's flags,
it sets ISR bit 0 and raises its interrupt line, which stays up until the
driver reads ISR (a level-triggered INTx line, 4.1.4.5).

As the spec requires (3.1.1), buffers are consumed only once the driver has
set DRIVER_OK; a notification before that is ignored.  A ring that breaks
the rules (an address outside RAM, a chain longer than the queue or a loop,
more than QueueNum buffers pending) puts the device in DEVICE_NEEDS_RESET
(64, 2.1.2) and it processes nothing more until reset.  Writing 0 to
DeviceStatus resets it: features, queues, ISR and status cleared, the
interrupt line lowered (4.1.4.8; 2.1.1).

Guest memory is reached through ``memory``: an object with ``contains(addr,
size)``, ``read(addr, size)``, ``read_bytes(addr, n)`` and ``write(addr,
size, value)`` (the Machine's RAM).

Doorbells: :meth:`doorbells` names QueueNotify, one per queue index, so an
engine that can take the notification without an exit (KVM's ioeventfd)
may do so and write it later; since every notification processes all that
is pending, notifications may be merged.
"""

from __future__ import annotations

from typing import Optional

from .device import Device, Doorbell, IrqLine, make_sink

# register offsets (virtio 1.0, 4.1.4.8)
HOST_FEATURES = 0x00
GUEST_FEATURES = 0x04
QUEUE_PFN = 0x08
QUEUE_NUM = 0x0C
QUEUE_SEL = 0x0E
QUEUE_NOTIFY = 0x10
DEVICE_STATUS = 0x12
ISR = 0x13
CONFIG = 0x14
REGION_SIZE = 0x20

# device status bits (2.1)
ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8
DEVICE_NEEDS_RESET, FAILED = 64, 128

# descriptor and ring flags (2.6.5, 2.6.6)
VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_DESC_F_INDIRECT = 1, 2, 4
VRING_AVAIL_F_NO_INTERRUPT = 1

VIRTIO_CONSOLE_F_SIZE = 1 << 0         # 5.3.3: cols and rows are valid
PAGE = 4096                             # the legacy queue alignment
RECEIVEQ, TRANSMITQ = 0, 1
QUEUE_SIZE = 128                        # entries per queue (QEMU's virtio-serial: 128)
DEVICE_ID_CONSOLE = 3                   # 5: the device ID a PCI driver would match


def ring_layout(num: int) -> dict:
    """Byte offsets of the parts of a legacy virtqueue of ``num`` entries
    from its base (2.6.2): desc, avail, used, and the total size."""
    avail = 16 * num
    used = (avail + 6 + 2 * num + PAGE - 1) // PAGE * PAGE
    return {"desc": 0, "avail": avail, "used": used, "size": used + 6 + 8 * num}


class RingError(Exception):
    """The driver broke a rule of the ring; the device needs a reset."""


class VirtioConsole(Device):
    """``VirtioConsole(memory, irq=None, sink=None, queue_size=128, cols=80, rows=25)``."""

    name = "virtio-console"
    region_size = REGION_SIZE

    def __init__(self, memory, irq: Optional[IrqLine] = None, sink=None,
                 queue_size: int = QUEUE_SIZE, cols: int = 80, rows: int = 25,
                 name: Optional[str] = None):
        super().__init__(name)
        if queue_size <= 0 or queue_size & (queue_size - 1) or queue_size > 32768:
            raise ValueError(f"queue size {queue_size}: expected a power of 2 up to 32768 (2.6)")
        self.memory = memory
        self.irq = irq if irq is not None else IrqLine()
        self._emit, self.output = make_sink(sink)
        self.queue_size = queue_size
        self.cols, self.rows = cols, rows
        self.host_features = VIRTIO_CONSOLE_F_SIZE
        #: statistics: notifications seen, buffers used, bytes sent
        self.notifications = 0
        self.buffers = 0
        self.bytes_tx = 0
        self.reset()

    # -- the register block -------------------------------------------------------
    def reset(self) -> None:
        super().reset()
        self.guest_features = 0
        self.status = 0
        self.isr = 0
        self.queue_sel = 0
        self.pfn = [0, 0]
        self.last_avail = [0, 0]
        self.irq.lower()

    def _registers(self) -> bytes:
        q = self.queue_sel
        pfn = self.pfn[q] if q < 2 else 0
        num = self.queue_size if q < 2 else 0
        return (self.host_features.to_bytes(4, "little")
                + self.guest_features.to_bytes(4, "little")
                + pfn.to_bytes(4, "little") + num.to_bytes(2, "little") + q.to_bytes(2, "little")
                + bytes(2) + bytes([self.status, self.isr])
                + self.cols.to_bytes(2, "little") + self.rows.to_bytes(2, "little")
                + (1).to_bytes(4, "little")).ljust(REGION_SIZE, b"\0")

    def read(self, offset: int, size: int) -> int:
        raw = self._registers()[offset:offset + size].ljust(size, b"\xff")
        value = int.from_bytes(raw, "little")
        if offset <= ISR < offset + size:      # reading ISR acknowledges the interrupt
            self.isr = 0
            self.irq.lower()
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == GUEST_FEATURES and size == 4:
            self.guest_features = value & self.host_features
        elif offset == QUEUE_PFN and size == 4:
            if self.queue_sel < 2:
                self.pfn[self.queue_sel] = value
                self.last_avail[self.queue_sel] = 0
        elif offset == QUEUE_SEL and size == 2:
            self.queue_sel = value
        elif offset == QUEUE_NOTIFY and size == 2:
            self.notify(value)
        elif offset == DEVICE_STATUS and size == 1:
            if value == 0:
                self.reset()
            else:
                self.status = value
        # other offsets and widths are read-only or undefined: ignored

    def doorbells(self) -> list:
        return [Doorbell(QUEUE_NOTIFY, 2, q) for q in (RECEIVEQ, TRANSMITQ)]

    @property
    def doorbells_armed(self) -> bool:
        """Only a transmitq notification does work, and only once the queue
        is set up and the driver is ready (:meth:`notify`); a receiveq one
        never does (there is no input)."""
        status = self.status
        return bool(self.pfn[TRANSMITQ] and status & DRIVER_OK and not status & DEVICE_NEEDS_RESET)

    # -- the queues ---------------------------------------------------------------
    def notify(self, queue: int) -> None:
        """The driver's notification for ``queue``: use every available buffer."""
        self.notifications += 1
        if (queue not in (RECEIVEQ, TRANSMITQ) or not self.pfn[queue]
                or not self.status & DRIVER_OK or self.status & DEVICE_NEEDS_RESET):
            return
        if queue == RECEIVEQ:
            return                  # no input to deliver: receive buffers stay available
        try:
            used = self._process(queue)
        except RingError:
            self.status |= DEVICE_NEEDS_RESET
            return
        if used and not self._rd(self._base(queue) + ring_layout(self.queue_size)["avail"], 2) \
                & VRING_AVAIL_F_NO_INTERRUPT:
            self.isr |= 1
            self.irq.raise_()

    def _base(self, queue: int) -> int:
        return self.pfn[queue] * PAGE

    def _rd(self, addr: int, size: int) -> int:
        if not self.memory.contains(addr, size):
            raise RingError(f"0x{addr:x} is outside RAM")
        return self.memory.read(addr, size)

    def _process(self, queue: int) -> int:
        n = self.queue_size
        lay = ring_layout(n)
        base = self._base(queue)
        avail, used = base + lay["avail"], base + lay["used"]
        if not self.memory.contains(base, lay["size"]):
            raise RingError(f"queue {queue} at 0x{base:x} is outside RAM")
        avail_idx = self._rd(avail + 2, 2)
        last = self.last_avail[queue]
        if (avail_idx - last) & 0xFFFF > n:
            raise RingError(f"{(avail_idx - last) & 0xFFFF} buffers pending in a queue of {n}")
        count = 0
        while last != avail_idx:
            head = self._rd(avail + 4 + 2 * (last % n), 2)
            data = self._chain(base, head)
            used_idx = self._rd(used + 2, 2)
            slot = used + 4 + 8 * (used_idx % n)
            self.memory.write(slot, 4, head)
            self.memory.write(slot + 4, 4, 0)       # bytes written into the buffer
            self.memory.write(used + 2, 2, (used_idx + 1) & 0xFFFF)
            last = (last + 1) & 0xFFFF
            self.last_avail[queue] = last
            count += 1
            self.buffers += 1
            if data:
                self.bytes_tx += len(data)
                self._emit(data)
        return count

    def _chain(self, base: int, head: int) -> bytes:
        """The device-readable bytes of the chain starting at ``head``."""
        n = self.queue_size
        out = bytearray()
        i, seen = head, 0
        while True:
            if i >= n:
                raise RingError(f"descriptor {i} is beyond the queue of {n}")
            seen += 1
            if seen > n:
                raise RingError("a descriptor chain longer than the queue (a loop?)")
            d = base + 16 * i
            addr, length = self._rd(d, 8), self._rd(d + 8, 4)
            flags, nxt = self._rd(d + 12, 2), self._rd(d + 14, 2)
            if flags & VRING_DESC_F_INDIRECT:
                raise RingError("indirect descriptors were not negotiated")
            if not flags & VRING_DESC_F_WRITE and length:
                if not self.memory.contains(addr, length):
                    raise RingError(f"buffer 0x{addr:x}+{length} is outside RAM")
                out += self.memory.read_bytes(addr, length)
            if not flags & VRING_DESC_F_NEXT:
                return bytes(out)
            i = nxt

    # -- snapshots ----------------------------------------------------------------
    def snapshot(self) -> dict:
        return {"guest_features": self.guest_features, "status": self.status, "isr": self.isr,
                "queue_sel": self.queue_sel, "pfn": list(self.pfn), "last_avail": list(self.last_avail),
                "irq": self.irq.level, "notifications": self.notifications, "buffers": self.buffers,
                "bytes_tx": self.bytes_tx}

    def restore(self, state: dict) -> None:
        self.guest_features = int(state["guest_features"])
        self.status = int(state["status"])
        self.isr = int(state["isr"])
        self.queue_sel = int(state["queue_sel"])
        self.pfn = [int(x) for x in state["pfn"]]
        self.last_avail = [int(x) for x in state["last_avail"]]
        self.notifications = int(state["notifications"])
        self.buffers = int(state["buffers"])
        self.bytes_tx = int(state["bytes_tx"])
        self.irq.set(bool(state["irq"]))
