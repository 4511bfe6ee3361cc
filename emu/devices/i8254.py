"""The 8254 programmable interval timer (PC ports 0x40-0x43, IRQ 0).

Model: Intel *8254 Programmable Interval Timer* datasheet (order no.
231164): "Control Word Format" (Figure 7), "Write Operations" (Figure 8/9),
"Read Operations": counter latch command, read-back command (Figures
11-13, status byte Figure 12), "Mode Definitions" (modes 0-5, Figures
14-19), "Operation Common to All Modes".  Conventions where the datasheet
leaves room follow QEMU ``hw/timer/i8254.c`` / ``i8254_common.c``.

Offsets: 0, 1, 2 = counters 0-2; 3 = control word (write only; reads 0,
as QEMU).  The input clock is 1.193182 MHz.  Counter 0's OUT drives IRQ 0
through ``irq0``; counters 1 and 2 are modelled but drive nothing.

Time.  The chip is lazy: it never ticks.  It remembers when each count
was loaded (guest nanoseconds from the ``Clock``) and computes the counter
and OUT from elapsed clock periods, ``ticks = elapsed_ns * 1193182 //
10**9``, whenever they are read; everything is a pure function of the
clock, so it is deterministic when the clock is.  The Machine asks
``next_deadline_ns()`` when IRQ 0 will next rise and calls
``update(now_ns)`` when that time has come; ``update`` drives ``irq0`` to
OUT's level and produces a rising edge for every period that ended since
the last call (several missed periods collapse into one edge, as they
would for a PIC whose IRR is already set).  Port accesses call
``update`` too.

Modes (N = initial count; 0 means 65536 in binary, 10000 in BCD; time 0
is the moment the count is loaded):

* 0  interrupt on terminal count: OUT low, rises when the count reaches 0
  (tick N) and stays high; the counter keeps wrapping.
* 1  hardware one-shot: OUT low from the trigger until tick N.
* 2  rate generator: period N; OUT low for one clock while the count is 1,
  rising at ticks N, 2N, ...; counts N..1.
* 3  square wave: period N; OUT high for ceil(N/2) clocks and low for
  floor(N/2); counts down by 2 in each half (odd N: the datasheet's
  -1/-2 then -3/-2 sequence); rises at ticks N, 2N, ...
* 4  software strobe: OUT low for one clock at tick N (rises at N + 1).
* 5  hardware strobe: as 4, from the trigger.
* Mode values 6 and 7 are modes 2 and 3 (control word bits X10, X11).

Deliberate deviations:

* GATE is always high.  Channel 2's gate (port 0x61 bit 0) and speaker
  output are out of scope; modes 1 and 5, which need a rising GATE edge,
  treat the count write as the trigger (as QEMU does).
* A count takes effect at the write, not on the next CLK falling edge:
  every datasheet timing of "N + 1 clocks after the write" is N here.
* A new count written in modes 2 and 3 restarts the period at once (QEMU
  does the same); the datasheet waits for the end of the current period
  (mode 2) or half-period (mode 3).
* A count of 1 in modes 2 and 3 (illegal per the datasheet) gives a period
  of one clock.
* Reading a counter's two bytes without a latch reads each byte from the
  counter as it is at that moment (the datasheet's caveat, QEMU's way).
"""

from __future__ import annotations

from typing import Optional

from emu.devices.device import ByteRegisterDevice, Clock, IrqLine

PIT_HZ = 1_193_182
NS_PER_S = 1_000_000_000

RW_LATCH, RW_LSB, RW_MSB, RW_WORD = 0, 1, 2, 3
CONTROL = 3
_UNKNOWN = object()             # I8254._deadline: to be computed


def ns_to_ticks(ns: int) -> int:
    """Whole PIT clock periods in ``ns`` nanoseconds."""
    return ns * PIT_HZ // NS_PER_S


def ticks_to_ns(ticks: int) -> int:
    """The first nanosecond at which ``ticks`` periods have elapsed."""
    return -(-ticks * NS_PER_S // PIT_HZ)


def bcd_to_int(value: int) -> int:
    """Four BCD digits to an int; a zero count means 10000."""
    n = ((value >> 12) & 0xF) * 1000 + ((value >> 8) & 0xF) * 100 \
        + ((value >> 4) & 0xF) * 10 + (value & 0xF)
    return n or 10000


def int_to_bcd(n: int) -> int:
    n %= 10000
    return ((n // 1000) << 12) | ((n // 100 % 10) << 8) | ((n // 10 % 10) << 4) | (n % 10)


class _Channel:
    """One counter.  All state is plain data (see ``I8254.snapshot``)."""

    FIELDS = ("mode", "rw", "bcd", "count", "loaded", "load_ns", "frozen",
              "null_count", "write_lsb", "write_low", "read_msb", "latch",
              "latch_bytes", "status_latch", "edges_seen")

    def __init__(self):
        self.mode = 3
        self.rw = RW_WORD
        self.bcd = False
        self.count = 65536              # N as a number of clocks
        self.loaded = False             # a count is in the counting element
        self.load_ns = 0
        self.frozen = 0                 # counter value while not counting
        self.null_count = True
        self.write_lsb = False          # RW_WORD: LSB written, MSB expected
        self.write_low = 0
        self.read_msb = False           # RW_WORD live read: MSB comes next
        self.latch: Optional[int] = None    # latched counter value (chip format)
        self.latch_bytes = 0            # bytes of the latch still to read
        self.status_latch: Optional[int] = None
        self.edges_seen = 0             # rising edges of OUT already delivered

    # -- pure functions of elapsed ticks ----------------------------------

    @property
    def effective_mode(self) -> int:
        return self.mode - 4 if self.mode >= 6 else self.mode

    def value_at(self, d: int) -> int:
        """The counting element after ``d`` clocks (a number, not formatted)."""
        n, m = self.count, self.effective_mode
        if m == 2:
            return n - d % n
        if m == 3:
            r = d % n
            high = (n + 1) // 2
            if r < high:
                return n if r == 0 else (n - 2 * r if n % 2 == 0 else n + 1 - 2 * r)
            e = r - high
            return n if e == 0 else (n - 2 * e if n % 2 == 0 else n - 1 - 2 * e)
        return (n - d) % (10000 if self.bcd else 65536)

    def out_at(self, d: int) -> bool:
        n, m = self.count, self.effective_mode
        if m in (0, 1):
            return d >= n
        if m == 2:
            return d % n != n - 1
        if m == 3:
            return d % n < (n + 1) // 2
        return d != n                   # modes 4, 5

    def edges_at(self, d: int) -> int:
        """Rising edges of OUT in clocks 1..d since the load."""
        n, m = self.count, self.effective_mode
        if m in (2, 3):
            return d // n
        if m in (0, 1):
            return 1 if d >= n else 0
        return 1 if d >= n + 1 else 0

    def edge_tick(self, k: int) -> Optional[int]:
        """The clock at which rising edge number ``k`` (1-based) happens."""
        n, m = self.count, self.effective_mode
        if m in (2, 3):
            return k * n
        if k == 1:
            return n if m in (0, 1) else n + 1
        return None

    def idle_out(self) -> bool:
        """OUT after a control word, before a count is loaded."""
        return self.effective_mode != 0

    def fmt(self, value: int) -> int:
        return int_to_bcd(value) if self.bcd else value & 0xFFFF


class I8254(ByteRegisterDevice):
    """``I8254(clock, irq0=None, name="pit")``."""

    name = "pit"
    region_size = 4
    _deadline = _UNKNOWN        # next_deadline_ns(), or _UNKNOWN once the counters changed

    def __init__(self, clock: Clock, irq0: Optional[IrqLine] = None,
                 name: Optional[str] = None):
        super().__init__(name)
        self.clock = clock
        self.irq0 = irq0 if irq0 is not None else IrqLine()
        self.channels = [_Channel() for _ in range(3)]
        self.reset()

    # ---------------------------------------------------------------- public

    def reset(self) -> None:
        """As QEMU's reset: every counter in mode 3 with count 0 (65536),
        counting from now; counter 0 then gives IRQ 0 at ~18.2 Hz."""
        super().reset()
        now = self.clock.now_ns()
        self.channels = [_Channel() for _ in range(3)]
        for ch in self.channels:
            self._load(ch, 65536, now)
        self._deadline = _UNKNOWN
        self.irq0.set(self.channels[0].out_at(0))

    def counter(self, channel: int, now_ns: Optional[int] = None) -> int:
        """Counter ``channel``'s current value as the chip would read it."""
        ch = self.channels[channel]
        return ch.fmt(self._value(ch, self._now(now_ns)))

    def output(self, channel: int, now_ns: Optional[int] = None) -> bool:
        """Counter ``channel``'s OUT pin now."""
        ch = self.channels[channel]
        if not ch.loaded:
            return ch.idle_out()
        return ch.out_at(self._ticks(ch, self._now(now_ns)))

    def next_deadline_ns(self) -> Optional[int]:
        """Guest time of the next rising edge of IRQ 0 not yet delivered by
        ``update``, or None if none is coming.  May be in the past.  Asked
        after every exit: kept until the counter's state changes (a port
        access, ``update``, ``reset``, ``restore``)."""
        d = self._deadline
        if d is _UNKNOWN:
            ch = self.channels[0]
            tick = ch.edge_tick(ch.edges_seen + 1) if ch.loaded else None
            d = self._deadline = None if tick is None else ch.load_ns + ticks_to_ns(tick)
        return d

    def update(self, now_ns: Optional[int] = None) -> None:
        """Bring IRQ 0 up to date: an edge for any period that ended, then
        the line at OUT's current level."""
        self._deadline = _UNKNOWN
        ch = self.channels[0]
        if not ch.loaded:
            self.irq0.set(ch.idle_out())
            return
        d = self._ticks(ch, self._now(now_ns))
        edges = ch.edges_at(d)
        if edges > ch.edges_seen:
            ch.edges_seen = edges
            self.irq0.pulse()
        self.irq0.set(ch.out_at(d))

    # ---------------------------------------------------------------- ports

    def read_byte(self, offset: int) -> int:
        self._deadline = _UNKNOWN
        now = self.clock.now_ns()
        self.update(now)
        if offset == CONTROL:
            return 0
        ch = self.channels[offset]
        if ch.status_latch is not None:
            value, ch.status_latch = ch.status_latch, None
            return value
        if ch.latch is not None:
            if ch.rw == RW_MSB or (ch.rw == RW_WORD and ch.latch_bytes == 1):
                value = ch.latch >> 8
            else:
                value = ch.latch & 0xFF
            ch.latch_bytes -= 1
            if ch.latch_bytes == 0:
                ch.latch = None
            return value
        current = ch.fmt(self._value(ch, now))
        if ch.rw == RW_LSB:
            return current & 0xFF
        if ch.rw == RW_MSB:
            return current >> 8
        value = (current >> 8) if ch.read_msb else (current & 0xFF)
        ch.read_msb = not ch.read_msb
        return value

    def write_byte(self, offset: int, value: int) -> None:
        self._deadline = _UNKNOWN
        now = self.clock.now_ns()
        self.update(now)
        if offset == CONTROL:
            self._control(value, now)
        else:
            self._write_count(self.channels[offset], value, now)
        self.update(now)

    # -------------------------------------------------------------- helpers

    def _now(self, now_ns: Optional[int]) -> int:
        return self.clock.now_ns() if now_ns is None else now_ns

    @staticmethod
    def _ticks(ch: _Channel, now: int) -> int:
        return ns_to_ticks(max(0, now - ch.load_ns))

    def _value(self, ch: _Channel, now: int) -> int:
        return ch.value_at(self._ticks(ch, now)) if ch.loaded else ch.frozen

    def _load(self, ch: _Channel, n: int, now: int) -> None:
        ch.count = n
        ch.loaded = True
        ch.load_ns = now
        ch.null_count = False
        ch.edges_seen = 0

    def _stop(self, ch: _Channel, now: int) -> None:
        ch.frozen = self._value(ch, now)
        ch.loaded = False

    def _control(self, value: int, now: int) -> None:
        select = value >> 6
        if select == 3:
            self._read_back(value, now)
            return
        ch = self.channels[select]
        rw = (value >> 4) & 3
        if rw == RW_LATCH:
            if ch.latch is None:        # a second latch before reading is ignored
                ch.latch = ch.fmt(self._value(ch, now))
                ch.latch_bytes = 2 if ch.rw == RW_WORD else 1
            return
        self._stop(ch, now)
        ch.rw = rw
        ch.mode = (value >> 1) & 7
        ch.bcd = bool(value & 1)
        ch.null_count = True
        ch.write_lsb = False
        ch.read_msb = False
        ch.edges_seen = 0

    def _read_back(self, value: int, now: int) -> None:
        for i, ch in enumerate(self.channels):
            if not value & (2 << i):
                continue
            if not value & 0x10 and ch.status_latch is None:
                out = ch.out_at(self._ticks(ch, now)) if ch.loaded else ch.idle_out()
                ch.status_latch = ((out << 7) | (ch.null_count << 6) | (ch.rw << 4)
                                   | (ch.mode << 1) | int(ch.bcd))
            if not value & 0x20 and ch.latch is None:
                ch.latch = ch.fmt(self._value(ch, now))
                ch.latch_bytes = 2 if ch.rw == RW_WORD else 1

    def _write_count(self, ch: _Channel, value: int, now: int) -> None:
        if ch.rw == RW_LSB:
            raw = value
        elif ch.rw == RW_MSB:
            raw = value << 8
        elif not ch.write_lsb:
            ch.write_lsb = True
            ch.write_low = value
            ch.null_count = True
            if ch.effective_mode == 0 and ch.loaded:
                self._stop(ch, now)     # mode 0: first byte stops the count
            return
        else:
            ch.write_lsb = False
            raw = ch.write_low | (value << 8)
        if ch.bcd:
            n = bcd_to_int(raw)
        else:
            n = raw or 65536
        self._load(ch, n, now)

    # ------------------------------------------------------------ snapshots

    def snapshot(self) -> dict:
        return {"channels": [{f: getattr(ch, f) for f in _Channel.FIELDS}
                             for ch in self.channels],
                "irq0": self.irq0.level}

    def restore(self, state: dict) -> None:
        self._deadline = _UNKNOWN
        for ch, saved in zip(self.channels, state["channels"]):
            for f in _Channel.FIELDS:
                setattr(ch, f, saved[f])
        self._deadline = _UNKNOWN
        self.irq0.set(state["irq0"])
