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
* the position: instructions retired since the session began.

To stand at position P, restore the latest checkpoint at or before P and
re-execute forward, one instruction at a time, to P.  Re-execution is exact
because everything a run depends on is restored: the CPU, RAM, devices, guest
time, and the only outside input (the UART's tape).  One more thing is recorded: the
positions at which the debugger *held back* an interrupt (a single step
with ``step-irqs off`` while the interrupt line was up and IF was set);
replay holds it back at the same positions.

RAM cost: the oldest checkpoint owns a full copy of RAM (``base``); every
later one keeps only the 4 KiB pages that differ from the checkpoint before
it.  Finding them compares RAM with ``shadow`` (RAM as of the newest
checkpoint) as uint64 words, page by page -- a few milliseconds for 16 MiB
with numpy.  The same comparison gives the debugger the bytes a command
wrote (exact for changed bytes; a write of the value already there is not
seen).  History is bounded: checkpoints older than ``history_size``
instructions (or beyond ``max_checkpoints``) are folded into ``base``.

Deliberate limits: engines must count instructions exactly while recording
(the software engines always do; KVM does while single-stepping, so the
debugger single-steps KVM when it records); input that a live UART source
delivers is replayed from the tape as soon as the guest has room for it,
which is exact for input given up front (``--input``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..memory import PAGE_SHIFT, PAGE_SIZE

WORDS_PER_PAGE = PAGE_SIZE // 8


@dataclass
class Checkpoint:
    pos: int
    cpu: object
    devices: dict
    serial_len: int
    stats: tuple = ((), ())                     # the Machine's exit counts (by reason, by key)
    clock_ns: int = 0                           # guest time (Machine.clock.now_ns())
    pages: dict = field(default_factory=dict)   # page number -> bytes (not for the oldest)


class Recorder:
    """Checkpoints of one Machine (see the module docstring)."""

    def __init__(self, machine, history_size: int = 1_000_000, max_checkpoints: int = 2000):
        self.machine = machine
        self.history_size = history_size
        self.max_checkpoints = max_checkpoints
        self.cps: list[Checkpoint] = []
        self.base = None              # RAM at cps[0]
        self.shadow = None            # RAM at cps[-1]
        self.held_irqs: set[int] = set()
        self.initial = None           # (Checkpoint, RAM) where the session began, for 'run'

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
                          (dict(m.stats.by_reason), dict(m.stats.by_key)),
                          clock.now_ns() if clock is not None else 0)

    def reset(self, pos: int = 0) -> None:
        """Forget all history; the present becomes the oldest checkpoint."""
        cp = self._state(pos)
        self.cps = [cp]
        self.base = self.machine.ram.view.copy()
        self.shadow = self.base.copy()
        self.held_irqs = set()

    def save_initial(self) -> None:
        self.initial = (self._state(0), self.machine.ram.view.copy())

    def restore_initial(self) -> None:
        """Back to where the session began; all history is forgotten."""
        cp, ram = self.initial
        self.cps = [cp]
        self.base = ram
        self.restore(0)
        self.reset(0)

    def changed_pages(self, old) -> np.ndarray:
        """Page numbers where RAM differs from the array ``old``."""
        ram = self.machine.ram.view
        n = ram.size // PAGE_SIZE
        a = ram[:n * PAGE_SIZE].view(np.uint64).reshape(n, WORDS_PER_PAGE)
        b = old[:n * PAGE_SIZE].view(np.uint64).reshape(n, WORDS_PER_PAGE)
        return np.flatnonzero((a != b).any(axis=1))

    def checkpoint(self, pos: int) -> list:
        """Take a checkpoint at ``pos`` (the present); return the RAM bytes
        that changed since the previous one, as ``[(address, old, new)]``
        runs."""
        if not self.cps:
            self.reset(pos)
            return []
        ram = self.machine.ram
        pages = self.changed_pages(self.shadow)
        writes = []
        delta = {}
        for p in pages.tolist():
            lo = p << PAGE_SHIFT
            old = bytes(self.shadow[lo:lo + PAGE_SIZE])
            new = bytes(ram.view[lo:lo + PAGE_SIZE])
            writes.extend(_runs(ram.base + lo, old, new))
            delta[p] = new
            self.shadow[lo:lo + PAGE_SIZE] = ram.view[lo:lo + PAGE_SIZE]
        if self.cps[-1].pos == pos:
            # same position again (a stop without progress): refresh in place
            last = self.cps[-1]
            fresh = self._state(pos)
            last.cpu, last.devices, last.serial_len, last.stats, last.clock_ns = \
                fresh.cpu, fresh.devices, fresh.serial_len, fresh.stats, fresh.clock_ns
            if len(self.cps) == 1:
                self.base[:] = self.shadow
            else:
                last.pages.update(delta)
        else:
            cp = self._state(pos)
            cp.pages = delta
            self.cps.append(cp)
            self._trim(pos)
        return writes

    def _trim(self, now: int) -> None:
        while len(self.cps) > 1 and (len(self.cps) > self.max_checkpoints
                                     or self.cps[1].pos < now - self.history_size):
            nxt = self.cps[1]
            for p, data in nxt.pages.items():
                lo = p << PAGE_SHIFT
                self.base[lo:lo + PAGE_SIZE] = np.frombuffer(data, dtype=np.uint8)
            nxt.pages = {}
            del self.cps[0]
        oldest = self.cps[0].pos
        self.held_irqs = {p for p in self.held_irqs if p >= oldest}

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
        view = ram.view
        view[:] = self.base
        for c in self.cps[1:i + 1]:
            for p, data in c.pages.items():
                lo = p << PAGE_SHIFT
                view[lo:lo + PAGE_SIZE] = np.frombuffer(data, dtype=np.uint8)
        ram.invalidate_all()
        m.accel.flush_code_cache()
        m.cpu.load(cp.cpu)
        for name, state in cp.devices.items():
            m.devices[name].restore(state)
        log = getattr(m, "serial_log", None)
        if log is not None and len(log) > cp.serial_len:
            del log[cp.serial_len:]
        m.stats.by_reason = dict(cp.stats[0])
        m.stats.by_key = dict(cp.stats[1])
        self._restore_clock(cp.clock_ns)
        m.accel.state_changed()
        pic = getattr(m, "pic", None)
        if pic is not None and hasattr(m.accel, "irq_line"):
            m.accel.irq_line = pic.intr.level
        self.shadow = view.copy()
        return cp.pos

    def _restore_clock(self, clock_ns: int) -> None:
        """Guest time as it was at the checkpoint.  In icount mode the clock
        is ``(icount << shift) + idle_ns``; the engine's ``icount`` only ever
        grows (positions here are differences of it), so the clock is put
        back by choosing ``idle_ns``: the time skipped across HLTs is part
        of the checkpoint, and timers armed against it (the PIT's load
        times) fire at the same instructions when re-executed.  A real-time
        clock (KVM) cannot be put back: timer interrupts there are not
        replayed exactly."""
        clock = getattr(self.machine, "clock", None)
        if clock is None or clock.realtime:
            return
        clock.idle_ns = clock_ns - (self.machine.accel.icount_now() << clock.shift)

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


def memory_runs(base: int, old_view, new_view, pages) -> list:
    """Byte runs that differ between two RAM arrays, within ``pages``."""
    out = []
    for p in pages:
        lo = int(p) << PAGE_SHIFT
        out.extend(_runs(base + lo, bytes(old_view[lo:lo + PAGE_SIZE]), bytes(new_view[lo:lo + PAGE_SIZE])))
    return out
