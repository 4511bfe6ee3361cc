"""Record and replay: checkpoints for reverse execution.

Reverse execution here is what gdb's ``record full`` offers, done the way
rr and QEMU's record/replay do it: *checkpoints plus deterministic
re-execution*.  A checkpoint is

* the canonical CPU state (``machine.cpu.copy()`` after ``sync_state``),
* guest RAM -- kept as page deltas, see below,
* ``snapshot()`` of every device (the UART's includes its input-tape
  position, so input already consumed is replayed identically),
* the Machine's exit counts, so ``info exits`` follows the timeline,
* guest time (``Machine.clock``), including the time skipped while the CPU
  halted waiting for a timer, so timer interrupts come at the same
  instructions when re-executed,
* the length of the guest's output log (``machine.serial_log``), so going
  back takes printed output back too,
* the position: instructions retired since the session began,
* where each device's input log (:class:`InputLog`) stood.

To stand at position P, restore the latest checkpoint at or before P and
re-execute forward, one instruction at a time, to P.  Re-execution is exact
because everything a run depends on is restored: the CPU, RAM, devices, guest
time, and the only outside input (the UART's tape).  Two more things are
recorded.  The positions at which the debugger *held back* an interrupt (a
single step with ``step-irqs off`` while the interrupt line was up and IF
was set); replay holds it back at the same positions.  And when the UART's
input arrived: a live source (stdin, a socket: any callable
``serial_input``) delivers bytes on its own schedule, so while the session
runs forward the UART's :class:`InputLog` notes the position (and which of
the transfer opportunities at that position) at which each byte moved from
the tape into the receiver -- became visible in RBR and LSR.DR and raised
its interrupt.  Re-executing recorded positions, the UART moves input only
there, never earlier or later, and does not read the live source; past
the recorded end it runs live again, as QEMU's record/replay does for
character devices.

Edits.  A register or memory change made by the user (``set $bx = 1``, a
gdb ``P``/``G``/``M`` packet) is part of the recording, as in gdb's
``record full``: it is an :class:`Edit` at the position P where it was
made -- the registers it changed and the bytes it wrote, at physical
addresses -- and the state after it becomes the checkpoint at P.  History
before P stays.  Whenever execution moves forward to P from before it
(re-executing after a restore, scanning for ``reverse-continue``, or
stepping forward again after going back), the session applies the edit on
arriving at P, before the instruction at P runs, so every position's state
is the one recorded; runs of several instructions stop at edits as they
stop where an interrupt was held back.  The state *at* P is the one after
the edit (a checkpoint at P already holds it).  An edit made in the
middle of the history (after reverse steps) is the end of the recorded
future: the checkpoints, held interrupts, edits and input events after P
are forgotten -- it can no longer happen -- and execution goes on from P
in a new timeline.  An edit that changes nothing (a register set to its
value, bytes written over themselves) is not recorded and keeps the
future.  Edits older than the oldest checkpoint are dropped with the
history.

RAM cost: proportional to the pages the guest has touched, not to the
size of RAM.  RAM images (``base``, RAM at the oldest checkpoint;
``shadow``, RAM at the newest; ``initial``, RAM where the session began)
are :class:`PageImage` s: 4 KiB pages as immutable ``bytes``, a page not
held being zero, and images share the pages they have in common.  Every
checkpoint but the oldest keeps only the pages that differ from the
checkpoint before it.  Finding them compares, page by page, the pages of
RAM that are resident on the host (``mincore(2)``: a page of the
anonymous RAM mapping that the guest, an engine or a loader never touched
is not resident and reads as zero; a guest's RAM is expected not to be
swapped out while it is debugged) and the pages the shadow holds -- so a
``-m 4G`` guest that uses a few MiB costs a few MiB and a few milliseconds
per stop, and untouched RAM is never read (reading it would make it
resident).  The same comparison gives the debugger the bytes a command
wrote (exact for changed bytes; a write of the value already there is not
seen).  Restoring writes back only the pages that differ.  History is
bounded: checkpoints older than ``history_size`` instructions (or beyond
``max_checkpoints``) are folded into ``base``, and input events older than
the oldest checkpoint are dropped.

Deliberate limits: engines must count instructions exactly while recording
(the software engines always do; KVM does while single-stepping, so the
debugger single-steps KVM when it records), and guest time must follow
that count: KVM's clock runs in real time, so the debugger makes it count
the stepped instructions (:meth:`emu.machine.Machine.count_guest_time`, as
``emu diff`` does), and timer interrupts and the idle time skipped at HLT
replay exactly on KVM too (the recorder leaves a clock still in real time
alone).  Input is replayed at the recorded positions only while the
re-execution follows the recording -- a command that changes it (a step
that holds back an interrupt the recording took) makes later input arrive
at the first opportunity at or after its recorded place, or, once the
recording is left behind, live.  ``restart`` forgets the recording: the
guest then gets the input already received from the tape as soon as it
has room, then the live source.  The UART keeps every byte it has received
on its tape (not bounded by the history).
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field

import numpy as np

from ..memory import PAGE_SHIFT, PAGE_SIZE

ZERO_PAGE = bytes(PAGE_SIZE)


class PageImage:
    """RAM as it was at one moment, sparse: ``pages`` maps a page number to
    its 4 KiB as ``bytes``; a page not held is zero.  Pages are immutable,
    so images share them (:meth:`copy` copies the map, not the pages)."""

    __slots__ = ("pages",)

    def __init__(self, pages: dict | None = None):
        self.pages = {} if pages is None else pages

    def get(self, page: int) -> bytes:
        return self.pages.get(page, ZERO_PAGE)

    def put(self, page: int, data: bytes) -> None:
        if data == ZERO_PAGE:
            self.pages.pop(page, None)
        else:
            self.pages[page] = data

    def copy(self) -> "PageImage":
        return PageImage(dict(self.pages))


def resident_pages(ram) -> list:
    """Page numbers (from RAM's start) of the pages of ``ram``'s mapping
    that are resident on the host (``mincore(2)``).  A page never touched
    is not resident and reads as zero, so only these can differ from an
    image that holds none of them."""
    n = ram.size >> PAGE_SHIFT
    vec = (ctypes.c_ubyte * n)()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    # ABI: mincore(addr, length, vec) on our own page-aligned mapping
    if libc.mincore(ctypes.c_void_p(ram.host_address()), ctypes.c_size_t(ram.size), vec) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mincore on guest RAM: {os.strerror(err)}")
    return np.flatnonzero(np.frombuffer(vec, dtype=np.uint8) & 1).tolist()


@dataclass
class Checkpoint:
    pos: int
    cpu: object
    devices: dict
    serial_len: int
    stats: tuple = field(default_factory=lambda: ({}, {}, {}))  # ExitStats.state(): the exit counts
    clock_ns: int = 0                           # guest time (Machine.clock.now_ns())
    inputs: dict = field(default_factory=dict)  # device name -> InputLog.mark
    pages: dict = field(default_factory=dict)   # page number -> bytes: the pages that changed
                                                # since the checkpoint before (none for the oldest)


@dataclass
class Edit:
    """A change the user made at position ``pos`` (see the module docstring)."""

    pos: int
    regs: dict = field(default_factory=dict)    # what changed in the CPU state -> its new value
                                                # (the session's keys; later edits override)
    mem: list = field(default_factory=list)     # [(physical address, bytes)], in order


class InputLog:
    """When input entered one device's receiver: the device's ``input_gate``.

    The device asks ``replaying()`` at every *transfer opportunity* (each
    time it could move input into its receiver: several per register
    access, at the Machine's polls), so an opportunity is named by the
    position and its number among those at that position -- both the same
    when re-executed.  ``events`` holds one ``[position, number, n]`` per
    transfer (``n`` bytes moved from the input tape into the receiver),
    oldest first; ``first`` is the number of the oldest one kept,
    ``cursor`` the number of the next one (those before it happened in the
    present timeline).  Positions before ``end`` have been recorded: there
    the device is *replaying* -- it moves input only at the opportunity
    where the next event happened, and never reads its live source.  At
    ``end`` with every event delivered it runs live again, and its
    transfers are appended.
    """

    def __init__(self, position):
        self.position = position      # fn() -> the present position
        self.events: list = []
        self.first = 0
        self.cursor = 0
        self.end = 0
        self._pos = -1                # position of the last opportunity
        self._seen = 0                # opportunities at _pos so far
        self._done = 0                # bytes of events[cursor] delivered (a split event)

    @property
    def mark(self) -> tuple:
        return (self.cursor, self._pos, self._seen)

    def replaying(self) -> bool:
        p = self.position()
        if p != self._pos:
            self._pos, self._seen = p, 0
        self._seen += 1
        if self.cursor < self.first + len(self.events) or p < self.end:
            return True
        self.end = p
        return False

    def replay(self, room: int) -> int:
        """Bytes to move into the receiver now (at most ``room``)."""
        k = self.cursor - self.first
        if k < 0 or k >= len(self.events):
            return 0
        pos, number, n = self.events[k]
        if (pos, number) > (self._pos, self._seen - 1):
            return 0                  # not yet: it came later
        take = min(room, n - self._done)
        self._done += take
        if self._done >= n:
            self.cursor += 1
            self._done = 0
        return take

    def record(self, n: int) -> None:
        self.events.append([self._pos, self._seen - 1, n])
        self.cursor = self.first + len(self.events)
        self.end = max(self.end, self._pos)

    def seek(self, mark: tuple) -> None:
        cursor, self._pos, self._seen = mark
        self.cursor = max(cursor, self.first)
        self._done = 0

    def reached(self, pos: int) -> None:
        """The present timeline has run up to ``pos``."""
        self.end = max(self.end, pos)

    def forget_future(self, pos: int) -> None:
        """The future from here on is no longer the recorded one."""
        k = self.cursor - self.first
        if k <= 0:
            self.events = []
            self.first = self.cursor
        else:
            del self.events[k:]
        self._done = 0
        self.end = pos

    def forget_before(self, cursor: int) -> None:
        k = cursor - self.first
        if k > 0:
            del self.events[:k]
            self.first = cursor


class Recorder:
    """Checkpoints of one Machine (see the module docstring)."""

    def __init__(self, machine, history_size: int = 1_000_000, max_checkpoints: int = 2000):
        self.machine = machine
        self.history_size = history_size
        self.max_checkpoints = max_checkpoints
        self.cps: list[Checkpoint] = []
        self.base = None              # RAM at cps[0] (a PageImage)
        self.shadow = None            # RAM at cps[-1] (a PageImage)
        self.held_irqs: set[int] = set()
        self.edits: dict[int, Edit] = {}      # position -> the user's changes there
        self.initial = None           # (Checkpoint, PageImage) where the session began, for 'run'
        self._origin = 0              # engine icount at position 0
        self.inputs: dict[str, InputLog] = {}
        for name, dev in machine.devices.items():
            if hasattr(dev, "input_gate"):
                log = InputLog(self.position)
                self.inputs[name] = log
                dev.input_gate = log

    def position(self) -> int:
        """The present position, exact also in the middle of a run."""
        return self.machine.icount_now() - self._origin

    def _at(self, pos: int) -> None:
        self._origin = self.machine.icount_now() - pos

    def close(self) -> None:
        """Stop recording input (the devices run live again)."""
        for name in self.inputs:
            self.machine.devices[name].input_gate = None
        self.inputs = {}

    # -- taking ----------------------------------------------------------------------
    def _state(self, pos: int) -> Checkpoint:
        m = self.machine
        m.accel.sync_state()
        devs = {}
        for name, dev in m.devices.items():
            snap = getattr(dev, "snapshot", None)
            if snap is not None:
                devs[name] = snap()
        clock = getattr(m, "clock", None)
        return Checkpoint(pos, m.cpu.copy(), devs, len(getattr(m, "serial_log", b"")),
                          m.stats.state(),
                          clock.now_ns() if clock is not None else 0,
                          inputs={name: log.mark for name, log in self.inputs.items()})

    def reset(self, pos: int = 0) -> None:
        """Forget all history; the present becomes the oldest checkpoint."""
        self._at(pos)
        for log in self.inputs.values():
            log.forget_future(pos)
        cp = self._state(pos)
        self.cps = [cp]
        self.base = self.capture()
        self.shadow = self.base.copy()
        self.held_irqs = set()
        self.edits = {}

    def save_initial(self) -> None:
        self.initial = (self._state(0), self.capture())

    def restore_initial(self) -> None:
        """Back to where the session began; all history is forgotten."""
        cp, image = self.initial
        self.cps = [cp]
        self.base = image.copy()
        self.restore(0)
        self.reset(0)

    def capture(self) -> PageImage:
        """RAM now, as a PageImage (reads only the resident pages)."""
        mm = self.machine.ram.mm
        image = PageImage()
        for p in resident_pages(self.machine.ram):
            lo = p << PAGE_SHIFT
            image.put(p, mm[lo:lo + PAGE_SIZE])
        return image

    def changed_pages(self, old: PageImage) -> list:
        """Page numbers where RAM differs from the image ``old``: among the
        pages resident on the host and those ``old`` holds (any other page
        is zero in both)."""
        mm = self.machine.ram.mm
        out = []
        for p in sorted(set(resident_pages(self.machine.ram)).union(old.pages)):
            lo = p << PAGE_SHIFT
            if mm[lo:lo + PAGE_SIZE] != old.get(p):
                out.append(p)
        return out

    def stored_bytes(self) -> int:
        """Bytes of RAM pages the recording holds (each page object once:
        images and checkpoints share them)."""
        seen = {}
        images = [self.base, self.shadow] + ([self.initial[1]] if self.initial else [])
        for pages in [im.pages for im in images if im is not None] + [c.pages for c in self.cps]:
            for data in pages.values():
                seen[id(data)] = len(data)
        return sum(seen.values())

    def checkpoint(self, pos: int) -> list:
        """Take a checkpoint at ``pos`` (the present); return the RAM bytes
        that changed since the previous one, as ``[(address, old, new)]``
        runs."""
        if not self.cps:
            self.reset(pos)
            return []
        self._at(pos)
        for log in self.inputs.values():
            log.reached(pos)
        ram = self.machine.ram
        shadow = self.shadow
        writes = []
        delta = {}
        for p in self.changed_pages(shadow):
            lo = p << PAGE_SHIFT
            new = ram.mm[lo:lo + PAGE_SIZE]
            if new == ZERO_PAGE:
                new = ZERO_PAGE
            writes.extend(_runs(ram.base + lo, shadow.get(p), new))
            delta[p] = new
            shadow.put(p, new)
        if self.cps[-1].pos == pos:
            # same position again (a stop without progress): refresh in place
            last = self.cps[-1]
            fresh = self._state(pos)
            last.cpu, last.devices, last.serial_len, last.stats, last.clock_ns, last.inputs = \
                fresh.cpu, fresh.devices, fresh.serial_len, fresh.stats, fresh.clock_ns, fresh.inputs
            if len(self.cps) == 1:
                self.base = shadow.copy()
            else:
                last.pages.update(delta)
        else:
            cp = self._state(pos)
            cp.pages = delta
            self.cps.append(cp)
            self._trim(pos)
        return writes

    def edit(self, pos: int, regs: dict, mem: list) -> None:
        """The user changed the state at ``pos`` (the present; the change is
        made already): ``regs`` what changed in the CPU state, ``mem`` the
        bytes written as ``[(physical address, bytes)]``.  The recorded
        future after ``pos`` is forgotten; the edit is recorded at ``pos``
        (merged with one made there before) and the present becomes the
        checkpoint at ``pos``."""
        self.truncate(self.index_at_or_before(pos))
        self.held_irqs = {p for p in self.held_irqs if p < pos}
        for log in self.inputs.values():
            log.forget_future(pos)
        self.edits = {p: e for p, e in self.edits.items() if p <= pos}
        if pos > self.oldest:
            e = self.edits.setdefault(pos, Edit(pos))
            e.regs.update(regs)
            e.mem.extend(mem)
        # checkpoints after ``pos`` are gone, so ``shadow`` is RAM at the
        # newest one left (at or before ``pos``): the edited pages go into
        # its delta -- refreshed in place when it is at ``pos``
        self.checkpoint(pos)

    def next_edit(self, pos: int) -> int | None:
        """The position of the first edit after ``pos`` (None: there is none)."""
        return min((p for p in self.edits if p > pos), default=None)

    def _trim(self, now: int) -> None:
        while len(self.cps) > 1 and (len(self.cps) > self.max_checkpoints
                                     or self.cps[1].pos < now - self.history_size):
            nxt = self.cps[1]
            for p, data in nxt.pages.items():
                self.base.put(p, data)
            nxt.pages = {}
            del self.cps[0]
        oldest = self.cps[0].pos
        self.held_irqs = {p for p in self.held_irqs if p >= oldest}
        # an edit at the oldest checkpoint is in it; older ones cannot be reached
        self.edits = {p: e for p, e in self.edits.items() if p > oldest}
        for name, log in self.inputs.items():
            log.forget_before(self.cps[0].inputs[name][0])

    # -- going back ----------------------------------------------------------------------
    @property
    def oldest(self) -> int:
        return self.cps[0].pos

    def index_at_or_before(self, pos: int) -> int:
        for i in range(len(self.cps) - 1, -1, -1):
            if self.cps[i].pos <= pos:
                return i
        raise ValueError(f"position {pos} is older than the recorded history (oldest {self.oldest})")

    def restore(self, i: int) -> int:
        """Put the machine in the state of checkpoint ``i``; return its position.
        Later checkpoints stay (re-execution reproduces them); call
        :meth:`truncate` once the present is settled."""
        m = self.machine
        cp = self.cps[i]
        ram = m.ram
        target = self.base.copy()
        for c in self.cps[1:i + 1]:
            for p, data in c.pages.items():
                target.put(p, data)
        # write back the pages that differ from the checkpoint's: only
        # resident pages can differ from it where it holds nothing (zero)
        mm = ram.mm
        for p in self.changed_pages(target):
            lo = p << PAGE_SHIFT
            mm[lo:lo + PAGE_SIZE] = target.get(p)
        ram.invalidate_all()
        m.accel.flush_code_cache()
        m.cpu.load(cp.cpu)
        for name, log in self.inputs.items():
            log.seek(cp.inputs[name])
        for name, state in cp.devices.items():
            m.devices[name].restore(state)
        log = getattr(m, "serial_log", None)
        if log is not None and len(log) > cp.serial_len:
            del log[cp.serial_len:]
        m.stats.set_state(cp.stats)
        self._restore_clock(cp.clock_ns)
        m.accel.state_changed()
        pic = getattr(m, "pic", None)
        if pic is not None and hasattr(m.accel, "irq_line"):
            m.accel.irq_line = pic.intr.level
        self.shadow = target
        self._at(cp.pos)
        return cp.pos

    def _restore_clock(self, clock_ns: int) -> None:
        """Guest time as it was at the checkpoint.  In icount mode the clock
        is ``(icount << shift) + idle_ns``; the engine's ``icount`` only ever
        grows (positions here are differences of it), so the clock is put
        back by choosing ``idle_ns``: the time skipped across HLTs is part
        of the checkpoint, and timers armed against it (the PIT's load
        times) fire at the same instructions when re-executed.  A clock
        still in real time (KVM outside a debugger session, which makes it
        count instructions) cannot be put back and is left alone."""
        clock = getattr(self.machine, "clock", None)
        if clock is None or clock.realtime:
            return
        clock.idle_ns = clock_ns - (self.machine.icount_now() << clock.shift)

    def truncate(self, i: int) -> None:
        """Drop checkpoints after ``i`` (the machine stands at or after it)."""
        del self.cps[i + 1:]


def _runs(base: int, old: bytes, new: bytes) -> list:
    """Contiguous runs of differing bytes: [(address, old bytes, new bytes)]."""
    a = np.frombuffer(old, dtype=np.uint8)
    b = np.frombuffer(new, dtype=np.uint8)
    idx = np.flatnonzero(a != b).tolist()
    out = []
    start = prev = None
    for k in idx:
        if start is not None and k == prev + 1:
            prev = k
            continue
        if start is not None:
            out.append((base + start, old[start:prev + 1], new[start:prev + 1]))
        start = prev = k
    if start is not None:
        out.append((base + start, old[start:prev + 1], new[start:prev + 1]))
    return out


def memory_runs(ram, old: PageImage, pages) -> list:
    """Byte runs where ``ram`` differs from the image ``old``, within ``pages``."""
    out = []
    for p in pages:
        lo = p << PAGE_SHIFT
        out.extend(_runs(ram.base + lo, old.get(p), ram.mm[lo:lo + PAGE_SIZE]))
    return out
