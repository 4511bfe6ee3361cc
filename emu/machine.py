"""The Machine: RAM, buses, devices, CPU state, an accelerator, and the run loop.

The run loop is the Python twin of QEMU's ``kvm_cpu_exec()``: ask the
accelerator to run, look at why it stopped, serve the exit on the right bus,
repeat.  It is the same loop for every engine; nothing above the Machine
knows which engine runs.  A single-stepping caller (the debugger, ``emu
bench --step``) steps through :meth:`Machine.step`, the same exit serving
for one instruction without a run's set-up: no exit is served anywhere
else.

    while not stopped:
        exit = accel.run(budget)
        IO   -> port bus            MMIO -> MMIO bus
        HLT  -> wait for an interrupt, or stop if none can come
        SHUTDOWN / FAIL_ENTRY / INTERNAL_ERROR -> stop, explained
        DEBUG -> hand back to the debugger
        BUDGET -> instruction or time limit reached, or a timer is due
        SEMIHOSTING -> the board's semihosting service (Arm, -semihosting)

Guest time (the devices' ``Clock``, :class:`GuestClock`), as QEMU's
``-icount``: on engines that count instructions exactly (interp, tcg,
unicorn) guest time is ``icount * 2**shift`` nanoseconds (``-icount
shift=N``, default 7: 128 ns per instruction, ~7.8 MIPS of guest time), so
a run is a pure function of the guest and its input; on KVM it is real time
(``time.monotonic_ns()`` since the Machine was made) -- unless a caller
that single-steps it (``emu diff``, the debugger) makes it count
instructions too (:meth:`Machine.count_guest_time`).

Timers (``machine.timers``: devices with ``next_deadline_ns()`` and
``update(now_ns)``, the PIT on ``pc``) are served by the loop itself, as
QEMU's icount serves its virtual-clock timers:

* every run is given a budget that ends at the next deadline (instructions
  until then; on KVM the engine turns it into a time slice), and at the top
  of each turn the timers whose deadline has passed are updated, which
  raises their IRQ at exactly the instruction count where their time came:
  the same count on every exact-icount engine;
* HLT with interrupts enabled and nothing pending lets guest time pass to
  the next deadline: skipped at once in icount mode (QEMU's icount with
  ``sleep=off``), slept through on KVM;
* board devices that must be polled (the UART's input, for an
  interrupt-driven guest) are polled whenever a timer fires and at HLT.

An engine whose I/O is served inside its own run (unicorn's hooks) asks
:meth:`Machine.timer_deadline_moved` after each access: a guest that
reprogrammed the timer must end the run there, to be budgeted again.

What the loop pays per exit is kept to what the exit needs (a polled UART
or a KVM guest makes hundreds of thousands): an exit's statistics key is
made once per port (or address) and direction; devices tell the Machine
when they make a stop request (:class:`DeviceTable`,
``Device.on_stop_request``) instead of being looked at after every
access; a timer keeps its next deadline until its state changes (the PIT).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from functools import partial

from .accel.base import create_accel
from .devices.bus import Bus
from .exits import ExitStats, IoExit, MmioExit, source_text
from .memory import Ram
from .quiet import declined

# Exit statuses of `emu run` besides the guest's own (isa-debug-exit).
STATUS_HALT = 0
STATUS_ERROR = 1
STATUS_GUEST_CRASH = 3      # triple fault, FAIL_ENTRY, INTERNAL_ERROR
STATUS_LIMIT = 124          # -icount-limit or time limit reached (as timeout(1))
STATUS_STOPPED = 130        # request_stop() (emu: a signal; 128 + SIGINT)

#: default ``-icount shift=N``: 2**7 = 128 ns of guest time per instruction, so
#: a 1 kHz PIT interrupts every ~7,800 instructions (fine at interpreter speed)
DEFAULT_ICOUNT_SHIFT = 7
MAX_ICOUNT_SHIFT = 10       # QEMU's limit (1 us per instruction)
NS_PER_S = 1_000_000_000
#: guest output the Machine keeps by default (``Machine.serial_log``): the last MiB
DEFAULT_OUTPUT_KEEP = 1 << 20


class OutputLog:
    """The guest's output (UART and debug console) as the Machine keeps it:
    bounded whatever the guest prints.

    ``len(log)`` is the number of bytes the guest has printed (less any
    taken back by reverse execution), and offsets are counted from its
    first byte; only the last ``keep`` bytes (at most ``2 * keep`` between
    trims) are held.  Slicing returns the held bytes of the range asked
    for, ``del log[n:]`` takes output back to ``n`` bytes, ``bytes(log)``
    is the held tail.  ``keep=0`` holds nothing and only counts: for a run
    whose output goes straight to its sink (``emu run``)."""

    def __init__(self, keep: int = DEFAULT_OUTPUT_KEEP):
        if keep < 0:
            raise ValueError(f"output log size {keep}: expected a size >= 0")
        self.keep = keep
        self.data = bytearray()
        self.start = 0              # offset of data[0] in the output

    def __len__(self) -> int:
        return self.start + len(self.data)

    def __iadd__(self, more) -> "OutputLog":
        data = self.data
        data += more
        if len(data) > 2 * self.keep:
            drop = len(data) - self.keep
            del data[:drop]
            self.start += drop
        return self

    def __getitem__(self, k: slice) -> bytes:
        if not isinstance(k, slice) or k.step is not None:
            raise TypeError("an OutputLog is read by slices of offsets")
        lo = 0 if k.start is None else k.start
        hi = len(self) if k.stop is None else k.stop
        return bytes(self.data[max(lo - self.start, 0):max(hi - self.start, 0)])

    def __delitem__(self, k: slice) -> None:
        if not isinstance(k, slice) or k.stop is not None or k.step is not None:
            raise TypeError("an OutputLog is taken back by 'del log[n:]'")
        n = k.start or 0
        if n >= self.start:
            del self.data[n - self.start:]
        else:
            self.data.clear()
            self.start = n

    def __bytes__(self) -> bytes:
        return bytes(self.data)


class GuestClock:
    """Guest time in nanoseconds since power-on: the ``Clock`` devices read.

    icount mode (engines with an exact instruction count): ``now_ns() =
    (icount << shift) + idle_ns``, where ``idle_ns`` is the time skipped
    while the CPU was halted waiting for a timer.  ``icount`` is the
    engine's :meth:`~emu.accel.base.Accelerator.icount_now`, exact even
    while the engine is inside ``run()`` (an I/O hook, an interrupt being
    acknowledged).  Real-time mode (KVM): ``time.monotonic_ns()`` since the
    clock was made.
    """

    def __init__(self, shift: int = DEFAULT_ICOUNT_SHIFT):
        if not 0 <= shift <= MAX_ICOUNT_SHIFT:
            raise ValueError(f"-icount shift={shift}: expected 0..{MAX_ICOUNT_SHIFT}")
        self.shift = shift
        self.ns_per_insn = 1 << shift
        self._ips = 1_000_000
        self.accel = None
        self.icount_now = None      # the Machine's icount_now, once attached
        self.realtime = False
        self.idle_ns = 0
        self._t0 = time.monotonic_ns()

    def attach(self, accel) -> None:
        self.accel = accel
        self.icount_now = accel.icount_now
        self.realtime = not accel.exact_icount
        #: the engine's nominal speed, instructions per second (budget_for)
        self._ips = getattr(accel, "assumed_ips", 1_000_000)

    def count_instructions(self, icount_now) -> None:
        """Switch a real-time clock to icount mode (see
        :meth:`Machine.count_guest_time`), counting ``icount_now()``
        (:meth:`Machine.icount_now`), without a jump: guest time goes on
        from where it stands (``idle_ns`` takes up the difference), or, if
        the engine has not retired an instruction yet, from 0, as on an
        exact engine."""
        if not self.realtime:
            return
        self.icount_now = icount_now
        icount = self.icount_now()
        now = self.now_ns() if icount else 0
        self.realtime = False
        self.idle_ns = now - (icount << self.shift)

    def now_ns(self) -> int:
        if self.realtime:
            return time.monotonic_ns() - self._t0
        icount = 0 if self.accel is None else self.icount_now()
        return (icount << self.shift) + self.idle_ns

    def budget_for(self, ns: int) -> int:
        """Instructions to run so that ``ns`` nanoseconds of guest time pass
        (at least 1).  In real time, at the engine's nominal speed: the KVM
        engine turns an instruction budget back into a time slice."""
        if ns <= 0:
            return 1
        if self.realtime:
            return max(1, ns * self._ips // NS_PER_S)
        return -(-ns >> self.shift)             # ceil(ns / 2**shift)

    def wait_until(self, deadline_ns: int, woken=None) -> None:
        """Let guest time reach ``deadline_ns``: skip to it in icount mode;
        sleep in real time, in slices of at most 10 ms, returning early when
        ``woken()`` (checked between slices) says an interrupt came."""
        now = self.now_ns()
        if deadline_ns <= now:
            return
        if not self.realtime:
            self.idle_ns += deadline_ns - now
            return
        while now < deadline_ns:
            time.sleep(min(deadline_ns - now, 10_000_000) / NS_PER_S)
            if woken is not None and woken():
                return
            now = self.now_ns()


class DeviceTable(MutableMapping):
    """``machine.devices``: the board's devices by name, a dict to its
    users, that tells the Machine of each device put in it (``added``), so
    that what the run loop asks of the devices after every exit is set up
    once, not looked up each time."""

    def __init__(self, added):
        self._devices = {}
        self._added = added

    def __getitem__(self, name):
        return self._devices[name]

    def __setitem__(self, name, device) -> None:
        self._devices[name] = device
        self._added()

    def __delitem__(self, name) -> None:
        del self._devices[name]
        self._added()

    def __iter__(self):
        return iter(self._devices)

    def __len__(self) -> int:
        return len(self._devices)

    def __repr__(self) -> str:
        return f"DeviceTable({self._devices!r})"


@dataclass
class RunResult:
    reason: str                 # "halt", "debug-exit", "limit", "shutdown", "internal-error", "debug", ...
    status: int
    message: str = ""
    exit: object = None
    icount: int = 0
    seconds: float = 0.0
    stats: ExitStats = field(default_factory=ExitStats)


class Machine:
    def __init__(self, board: str = "pc", accel: str = "interp", cpu: str | None = None,
                 memory: int | None = None, serial_input=None, serial_sink=None,
                 log=None, log_flags=(), one_insn_per_tb: bool = False,
                 icount_shift: int | None = None, output_keep: int = DEFAULT_OUTPUT_KEEP,
                 semihosting: bool = False, accel_options: dict | None = None):
        from .boards import board_target, get_board
        self.board = get_board(board)
        self.target = board_target(self.board)    # the guest architecture
        self.model = self.target.model(cpu)       # the CPU model (-cpu), data of the target
        self.cpu = self.target.new_state()        # the canonical CPU state
        self.accel = None                         # the engine, made once the board is wired
        memory_map = self.board.MEMORY_MAP
        #: RAM where the board's memory map puts it; -m (None: the board's default)
        self.ram = Ram(memory_map.ram_size if memory is None else memory, memory_map.ram_base)
        self.ports = Bus("port", 0x10000)
        self.mmio = Bus("mmio", 1 << 52)
        self.log = log
        self.log_flags = set(log_flags)
        #: engines record in each IO/MMIO exit the instruction that caused it
        #: (see emu.exits); -d exits logs it
        self.exit_pcs = log is not None and "exits" in self.log_flags
        self.stats = ExitStats()
        self.serial_log = OutputLog(output_keep)   # what the board's output devices print
        #: the devices by name; the stop requests they make (see _stop_requested)
        self.devices = DeviceTable(self._devices_changed)
        self._stop_raised = False       # a Device made a stop request not yet collected
        self._stop_polled = ()          # objects with a stop_request that tell no one
        self.accel_name = accel
        #: the engine's properties (-accel NAME,PROP=VALUE), read by the engine
        self.accel_options = dict(accel_options or {})
        self.one_insn_per_tb = one_insn_per_tb      # read by the translator
        #: fn(exit), each called after every exit is served (the debugger, emu diff)
        self._exit_observers = []
        #: count_guest_time: a port or MMIO write being served counts its
        #: instruction as retired (1 while it is, else 0)
        self._count_writes = False
        self._writing = 0
        #: (port or address, is_write) -> (an IO or MMIO exit, its key): what
        #: dispatch_exit counts
        self._quiet_ports = {}
        self._quiet_mmio = {}
        #: address -> serve(size, value), the accesses a device takes quietly
        #: (see _quiet_server), by bus and direction
        self.quiet_port_reads = self.ports.quiet_table(partial(self._quiet_server, self.ports, IoExit, False))
        self.quiet_port_writes = self.ports.quiet_table(partial(self._quiet_server, self.ports, IoExit, True))
        self.quiet_mmio_reads = self.mmio.quiet_table(partial(self._quiet_server, self.mmio, MmioExit, False))
        self.quiet_mmio_writes = self.mmio.quiet_table(partial(self._quiet_server, self.mmio, MmioExit, True))
        self.clock = GuestClock(DEFAULT_ICOUNT_SHIFT if icount_shift is None else icount_shift)
        self.timers = []            # devices with next_deadline_ns() / update(now_ns)
        self._run_deadline = None   # the timer deadline that ends the current run
        self._acked_vector = None   # -d int: the vector the last INTA cycle returned
        self._stop_wanted = False
        #: -semihosting: the board makes its semihosting service (a Device
        #: with ``call(op, param)``) when asked, and the engines report the
        #: semihosting trap as a SEMIHOSTING exit only while it exists
        self.semihosting_wanted = semihosting
        self.semihosting = None
        self.board.build(self, serial_input=serial_input, serial_sink=serial_sink)
        if semihosting and self.semihosting is None:
            raise ValueError(f"-semihosting: machine '{board}' has no Arm semihosting "
                             "(expected an Arm board: virt)")
        if accel not in self.target.engines:
            raise ValueError(self.target.engine_refusal(accel))
        self.accel = create_accel(accel, self)
        if icount_shift is not None and not self.accel.exact_icount:
            self.accel.close()
            raise ValueError(f"-icount shift={icount_shift} needs an engine that counts "
                             f"instructions (interp, tcg, unicorn); '{accel}' runs in real time")
        self.clock.attach(self.accel)
        self.board.attach(self)
        if log is not None and "int" in self.log_flags:
            self.accel.on_interrupt = self.trace_interrupt

    # -- images --------------------------------------------------------------------
    def load_image(self, data: bytes, name: str = "image", entry: int | None = None,
                   base: int | None = None) -> None:
        """Load an image where the board loads one (or at ``base``, where an
        ELF's segments ask, if the board allows) and enter it at ``entry``
        (an ELF's entry point; None: where the board enters an image)."""
        self.board.load(self, data, name, entry, base)
        self.accel.flush_code_cache()
        self.accel.state_changed()

    # -- the run loop ----------------------------------------------------------------
    def run(self, icount_limit: int | None = None, time_limit: float | None = None) -> RunResult:
        """Run until the guest stops, a limit is reached or a stop is
        requested (:meth:`request_stop`: a RunResult ``"stopped"``).  Under
        ``emu``'s signal handlers (:mod:`emu.signals`) a SIGINT or SIGTERM
        stops the run the same way and raises ``Interrupted`` (carrying the
        RunResult) instead."""
        from . import signals
        guard = signals.current()
        if guard is None:
            return self._run(icount_limit, time_limit)
        guard.check()
        with guard.running(self.request_stop):
            r = self._run(icount_limit, time_limit)
        if guard.signum is not None:
            self._stop_wanted = False
            self.accel.clear_stop()
            guard.check(r)
        return r

    def request_stop(self) -> None:
        """Ask the run under way (or the next) to end soon, at the engine's
        next instruction or block boundary.  Safe from a signal handler and
        from another thread (it sets flags; KVM's vCPU is kicked)."""
        self._stop_wanted = True
        self.accel.request_stop()

    def _run(self, icount_limit, time_limit) -> RunResult:
        accel = self.accel
        start_icount = accel.icount
        t0 = time.perf_counter()
        # -d in_asm / cpu on an engine without blocks of its own: step it and log
        # each instruction.  The translator logs in_asm per block it translates,
        # as QEMU does; it is stepped (one-instruction blocks) only for -d cpu.
        tracing = self.log is not None and accel.exact_icount and not accel.single_step \
            and ("cpu" in self.log_flags or ("in_asm" in self.log_flags and not accel.logs_blocks))
        if tracing:
            accel.set_single_step(True)
        exact = icount_limit is None or accel.count_exactly(icount_limit)
        try:
            return self._run_loop(icount_limit, time_limit, t0, start_icount, tracing, exact)
        finally:
            if icount_limit is not None:
                accel.count_exactly(None)
            if tracing:
                accel.set_single_step(False)

    def _run_loop(self, icount_limit, time_limit, t0, start_icount, tracing, exact=True):
        accel = self.accel
        if tracing:
            self.trace_step()
        while True:
            if self._stop_wanted and self._take_stop():
                return self._result("stopped", STATUS_STOPPED, "stopped on request", None, t0, start_icount)
            budget = None
            ex = None
            if icount_limit is not None:
                budget = icount_limit - (accel.icount - start_icount)
                if budget <= 0:
                    ex = accel.take_queued_exit()   # the last instruction's other exits first
                if budget <= 0 and ex is None:
                    return self._result("limit", STATUS_LIMIT, self._limit_message(icount_limit, exact),
                                        None, t0, start_icount)
            if ex is None:
                if time_limit is not None and time.perf_counter() - t0 > time_limit:
                    return self._result("limit", STATUS_LIMIT, f"time limit reached ({time_limit} s)",
                                        None, t0, start_icount)
                timer_budget = self._serve_timers()
                if timer_budget is not None:
                    budget = timer_budget if budget is None else min(budget, timer_budget)
                ex = accel.run(budget if time_limit is None else min(budget or 1 << 20, 1 << 20))
            end = self._serve_exit(ex)
            if end is None:
                continue
            if tracing and end[0] == "debug" and ex.kind == "step":
                self.trace_step()
                continue
            return self._result(*end, ex, t0, start_icount)

    def _take_stop(self) -> bool:
        """A stop was requested (:meth:`request_stop`): take the request."""
        if not self._stop_wanted:
            return False
        self._stop_wanted = False
        self.accel.clear_stop()
        return True

    def _serve_exit(self, ex):
        """Serve exit ``ex`` as the run loop does (count it, serve it on its
        bus, wait at HLT, inject an interrupt when the window opens): None
        when the guest runs on, else ``(reason, status, message)`` of the
        end of the run."""
        if not ex.dispatched:
            self.dispatch_exit(ex)
        r = ex.reason
        if r == "IO" or r == "MMIO" or r == "SEMIHOSTING":
            if self._stop_raised or self._stop_polled:
                stop = self._stop_requested()
                if stop is not None:
                    return "debug-exit", stop.status, stop.reason
        elif r == "HLT":
            if not self.board.wait_for_interrupt(self):
                return "halt", STATUS_HALT, self.board.halt_message(self)
        elif r == "BUDGET":
            pass
        elif r == "DEBUG":
            return "debug", STATUS_HALT, ex.describe()
        elif r in ("SHUTDOWN", "FAIL_ENTRY", "INTERNAL_ERROR"):
            return r.lower().replace("_", "-"), STATUS_GUEST_CRASH, ex.describe()
        elif r == "SYSTEM_EVENT":
            return "system-event", ex.status, ex.describe()
        elif r == "IRQ_WINDOW_OPEN":
            self.board.inject_pending_interrupt(self)
        else:
            return "unknown-exit", STATUS_GUEST_CRASH, f"unhandled exit {ex.describe()}"
        return None

    # -- single steps ----------------------------------------------------------------
    def step(self) -> RunResult:
        """Retire one instruction on an engine that single-steps
        (``accel.set_single_step(True)``, which the caller keeps on across
        steps): the run loop's exit serving (timers, port and MMIO exits,
        HLT, stop requests; :meth:`_serve_exit`) without :meth:`run`'s
        per-run set-up (signal guard, limits, tracing).  A RunResult as
        :meth:`run` returns: ``"debug"`` (the step's DEBUG exit) when the
        instruction retired.

        When the step ends before its DEBUG exit (a device asked to stop at
        the instruction's port write, HLT, a stop request) the engine still
        owes that exit -- or, on KVM, the completion of the I/O -- and it is
        collected here (:meth:`_collect_owed`), so that the next run does not
        end at once."""
        accel = self.accel
        if not accel.single_step:
            raise RuntimeError("Machine.step: the engine is not single-stepping "
                               "(expected accel.set_single_step(True) first)")
        t0 = time.perf_counter()
        start = accel.icount
        ex = None
        while True:
            if self._take_stop():
                end = ("stopped", STATUS_STOPPED, "stopped on request")
                break
            ex = accel.run(self._serve_timers())
            end = self._serve_exit(ex)
            if end is not None:
                break
        if end[0] in ("debug-exit", "halt", "stopped"):
            self._collect_owed()
        return self._result(*end, ex, t0, start)

    def _collect_owed(self) -> None:
        """Run out what a stepping engine owes after a step that ended early
        (its queued DEBUG exit, KVM's I/O completion): a run of no
        instructions, whose port or MMIO exit is served on its bus."""
        ex = self.accel.run(0)
        if ex.reason in ("IO", "MMIO") and not getattr(ex, "dispatched", False):
            self.dispatch_exit(ex)

    def _limit_message(self, icount_limit: int, exact: bool) -> str:
        if exact:
            return f"instruction limit reached ({icount_limit} instructions)"
        accel = self.accel
        ips = getattr(accel, "assumed_ips", 1_000_000)
        return (f"time limit reached: the {accel.name} engine cannot count instructions, so "
                f"-icount-limit {icount_limit} ran the guest for the time {icount_limit} "
                f"instructions take at an assumed {ips / 1e6:g} MIPS (about "
                f"{icount_limit / ips:.3g} s inside the guest); how many it ran is not known"
                + (f" (limits up to {accel.max_exact_count} are counted exactly, by single-stepping)"
                   if getattr(accel, "max_exact_count", 0) else ""))

    # -- guest time and timers -----------------------------------------------------------
    def count_guest_time(self) -> None:
        """From now on, guest time follows the instruction count also on an
        engine that runs in real time (KVM), as on the exact engines: for a
        caller that single-steps it, so that its ``icount`` is exact (``emu
        diff``; the debugger, which steps KVM whenever it runs it).  Timers
        then fire at the same instruction on every run and on every engine,
        and HLT skips to the next deadline instead of sleeping.

        The exact engines' rule is kept: during a port or MMIO *write* the
        writing instruction counts as retired (the device sees the time after
        it), during a read it does not yet.  A stepped KVM counts an I/O
        instruction when it completes, after its exit was served, so
        ``icount_now`` adds 1 while a write is being dispatched.

        Guest time never goes backwards: it goes on from its present value
        (from 0 if no instruction ran yet, so that such machines agree with
        the exact engines).  The switch is for the Machine's life; should
        the engine run free afterwards, guest time grows with its icount
        estimate.  Nothing changes on an engine that counts exactly."""
        if not self.clock.realtime:
            return
        self.clock.count_instructions(self.icount_now)
        self._count_writes = True
        self._quiet_changed()

    def icount_now(self) -> int:
        """Instructions retired so far, exact also inside ``run()``
        (:meth:`~emu.accel.base.Accelerator.icount_now`), counting a write
        being served as retired under :meth:`count_guest_time`."""
        return self.accel.icount_now() + self._writing

    def add_exit_observer(self, fn) -> None:
        """Call ``fn(exit)`` after each exit is served (a read's value is
        in ``exit.data`` by then), in the order observers were added."""
        self._exit_observers.append(fn)
        self._quiet_changed()

    def remove_exit_observer(self, fn) -> None:
        self._exit_observers.remove(fn)
        self._quiet_changed()

    def next_timer_deadline(self):
        """Guest time (ns) of the earliest timer deadline, or None."""
        best = None
        for t in self.timers:
            d = t.next_deadline_ns()
            if d is not None and (best is None or d < best):
                best = d
        return best

    def _serve_timers(self):
        """Fire the timers whose deadline has passed (their IRQs rise now, at
        this instruction count); return the budget that ends the next run at
        the next deadline, or None if no timer is armed."""
        timers = self.timers
        if not timers:
            return None
        now = self.clock.now_ns()
        deadline = timers[0].next_deadline_ns() if len(timers) == 1 else self.next_timer_deadline()
        if deadline is not None and deadline <= now:
            self._fire_timers(now)
            deadline = self.next_timer_deadline()
        self._run_deadline = deadline
        if deadline is None:
            return None
        return self.clock.budget_for(deadline - now)

    def _fire_timers(self, now: int) -> None:
        for t in self.timers:
            t.update(now)
        poll = getattr(self.board, "poll_devices", None)
        if poll is not None:
            poll(self)

    def timer_deadline_moved(self) -> bool:
        """The guest reprogrammed a timer: its next deadline is no longer the
        one the current run was budgeted for.  An engine serving I/O inside
        its run must end the run after this access (sooner: the IRQ would
        come late; later or never: the run would end at a stale deadline,
        one BUDGET exit more than the engines that return at every access)."""
        return self.next_timer_deadline() != self._run_deadline

    def idle_until_next_timer(self, woken=None) -> bool:
        """HLT with interrupts enabled and nothing pending: let guest time pass
        until the next timer deadline (skipped in icount mode, slept through in
        real time, see :meth:`GuestClock.wait_until`) and fire the timers.
        False if no timer is armed."""
        deadline = self.next_timer_deadline()
        if deadline is None:
            return False
        self.clock.wait_until(deadline, woken)
        self._fire_timers(self.clock.now_ns())
        return True

    def acknowledge_interrupt(self, ack):
        """The CPU's INTA cycle through ``ack`` (the board's interrupt
        controller); with ``-d int``, log the vector, the exact instruction
        count (an estimate on KVM) and the guest time."""
        vector = ack()
        self._acked_vector = vector
        if self.log is not None and "int" in self.log_flags and vector is not None:
            exact = "" if self.accel.exact_icount else "~"
            self.log.write(f"irq: vector 0x{vector:02x} acknowledged at icount {exact}"
                           f"{self.icount_now()}, guest time {self.clock.now_ns()} ns\n")
        return vector

    def trace_step(self) -> None:
        """-d in_asm / -d cpu on an engine that steps: log the next instruction
        (and the CPU state before it), as QEMU logs each block."""
        self.accel.sync_state()
        s = self.cpu
        log = self.log
        if "cpu" in self.log_flags:
            log.write(s.format() + "\n")
        if "in_asm" in self.log_flags and not self.accel.logs_blocks:
            lin = self.target.pc(s)
            try:
                text = self.target.disassemble(self.ram.read_bytes(lin, 16), s, self.model)
            except Exception as e:      # undecodable bytes are a guest event, not ours
                text = f"(undecodable: {e})"
            log.write(f"IN: 0x{lin:08x}:  {text}\n")

    def trace_interrupt(self, vector: int, return_ip: int, error_code) -> None:
        """-d int: every interrupt and exception the CPU delivers."""
        if vector == self._acked_vector:        # from the interrupt controller
            self._acked_vector = None
            name = "hardware interrupt"
        else:
            name = self.target.exception_name(vector)
        code = "" if error_code is None else f" error code 0x{error_code:x}"
        self.log.write(f"int: vector 0x{vector:02x} ({name}){code}, return to 0x{return_ip:x}\n")

    def dispatch_exit(self, ex) -> None:
        """Count an exit and, for IO and MMIO, serve it on its bus (a read's
        value lands in ``ex.data``).

        The run loop calls this for every exit.  An engine whose I/O hooks
        are synchronous (unicorn) calls it from inside the hook instead, and
        hands the exit to the loop only when a device asked to stop, marked
        ``ex.dispatched = True`` so that it is not counted twice: every
        engine's exits are counted here, once."""
        r = ex.reason
        io = r == "IO"
        if io or r == "MMIO":
            # the statistics key made once per port (address) and direction
            if io:
                bus, where, keys = self.ports, ex.port, self._quiet_ports
            else:
                bus, where, keys = self.mmio, ex.addr, self._quiet_mmio
            write = ex.is_write
            counted = keys.get((where, write)) or self._exit_key(keys, type(ex), where, ex.size, write)
            key, stats = counted[1], self.stats
            by_key = stats.by_key
            if key in by_key:       # ExitStats.count(ex, 1, key) of a key counted before
                by_key[key] += 1
                by_reason = stats.by_reason
                by_reason[r] = by_reason.get(r, 0) + 1
            else:
                stats.count(ex, 1, key)
            if self.log is not None and "exits" in self.log_flags:
                self.log.write(f"exit: {ex.describe()}{source_text(ex)}\n")
            if self._count_writes and write:
                self._writing = 1
                try:
                    bus.write(where, ex.size, ex.data)
                finally:
                    self._writing = 0
            elif write:
                bus.write(where, ex.size, ex.data)
            else:
                ex.data = bus.read(where, ex.size)
            if self._exit_observers:
                for fn in self._exit_observers:
                    fn(ex)
            return
        self.stats.count(ex)
        if self.log is not None and "exits" in self.log_flags:
            self.log.write(f"exit: {ex.describe()}{source_text(ex)}\n")
        if r == "SEMIHOSTING":
            ex.result = self.semihosting.call(ex.op, ex.param)
        for fn in self._exit_observers:
            fn(ex)

    def serve_port_inline(self, ex):
        """Fast port I/O: serve the port access ``ex`` (an IoExit) now, from
        inside an engine's run, if its device allows it (``inline_io``: its
        accesses read no guest time, so the instruction count the engine has
        not yet settled does not matter) -- counted, logged and seen by the
        device exactly as :meth:`dispatch_exit` does for an exit.  Returns
        None when it did not (the engine makes the exit as usual: also
        whenever ``-d exits``, an exit observer or guest-time counting of
        writes wants the exit itself), else the exits the engine must still
        hand back after the instruction, already served: the access itself,
        marked ``dispatched``, when its device asks the machine to stop
        (isa-debug-exit); () to go on."""
        if self.exit_pcs or self._exit_observers or self._count_writes:
            return None
        dev, off = self.ports.find(ex.port)
        if dev is None or not getattr(dev, "inline_io", False):
            return None
        # dispatch_exit's work, the bus already looked up (no log, no observers here)
        self.stats.count(ex)
        if ex.is_write:
            dev.write(off, ex.size, ex.data)
        else:
            ex.data = dev.read(off, ex.size) & ((1 << (8 * ex.size)) - 1)
        if getattr(dev, "stop_request", None) is not None:
            ex.dispatched = True
            return (ex,)
        return ()

    def _quiet_server(self, bus, kind, is_write: bool, where: int):
        """The quiet server of ``where`` on ``bus`` in one direction, made
        once for the bus's :class:`~emu.quiet.QuietTable` (the
        tables ``quiet_port_reads``, ``quiet_port_writes``,
        ``quiet_mmio_reads`` and ``quiet_mmio_writes`` that the engines
        look up for an IN/OUT from the middle of translated code, or a port
        or MMIO access from an I/O hook): ``serve(size, value)`` has the
        device take the access now if it can quietly (its
        ``Device.quiet_access``: an ``inline_io`` access that neither
        changes the device's interrupt line nor asks the machine to stop),
        counted as an IO (MMIO) exit as :meth:`dispatch_exit` counts it,
        and returns the value read (0 for a write), or -1: nothing was
        done, the engine makes the access the ordinary way.  Nothing is
        served quietly while something needs every access as a real exit
        (``-d exits``, an exit observer, guest-time counting of writes:
        :meth:`_quiet_changed` forgets the servers when that changes)."""
        if self.exit_pcs or self._exit_observers or self._count_writes:
            return declined
        dev, off = bus.find(where)
        # (an object on the bus that is no Device -- the grader's
        # Unassigned -- has no quiet_access: it is never served quietly)
        make = getattr(dev, "quiet_access", None)
        device_serve = None if make is None else make(off, is_write)
        if device_serve is None:
            return declined
        ex = kind(where, 1, is_write)
        key, reason = ex.key(), ex.reason
        stats = self.stats

        def serve(size: int, value: int) -> int:
            v = device_serve(size, value)
            if v >= 0:
                # ExitStats.count(ex, 1, key), its key already counted
                by_key = stats.by_key
                if key in by_key:
                    by_key[key] += 1
                    by_reason = stats.by_reason
                    by_reason[reason] = by_reason.get(reason, 0) + 1
                else:
                    stats.count(ex, 1, key)
            return v
        return serve

    def _quiet_changed(self) -> None:
        """What :meth:`_quiet_server` builds changed: build anew."""
        self.ports.quiet_changed()
        self.mmio.quiet_changed()

    @staticmethod
    def _exit_key(keys: dict, kind, where: int, size: int, is_write: bool) -> tuple:
        """(an exit of ``kind`` at ``where``, its statistics key), made once
        per port (or address) and direction and kept in ``keys``."""
        ex = kind(where, size, is_write)
        counted = keys[(where, is_write)] = (ex, ex.key())
        return counted

    def doorbell_rung(self, bus: str, base: int, device, bell, times: int) -> None:
        """An engine took ``times`` writes to ``device``'s doorbell ``bell``
        (a :class:`~emu.devices.device.Doorbell`; the device is at ``base``
        on ``bus``, "port" or "mmio") without an exit: count them, log them
        with ``-d exits``, and hand the device the write now (once: a
        doorbell's writes merge)."""
        addr = base + bell.offset
        key = f"IO out 0x{addr:x}" if bus == "port" else f"MMIO write 0x{addr:x}"
        self.stats.count_signal(key, times)
        if self.log is not None and "exits" in self.log_flags:
            self.log.write(f"ioeventfd: {key} data 0x{bell.value:x} signalled {times} time(s), "
                           f"no exit\n")
        device.write(bell.offset, bell.size, bell.value)

    def _devices_changed(self) -> None:
        """A device was put in (or taken out of) ``devices``: a ``Device``
        tells the Machine of its stop requests as it makes them
        (:meth:`~emu.devices.device.Device.on_stop_request`); any other
        object with a ``stop_request`` is looked at after every access."""
        polled = []
        for dev in self.devices.values():
            listen = getattr(dev, "on_stop_request", None)
            if listen is not None:
                listen(self._stop_made)
            elif hasattr(dev, "stop_request"):
                polled.append(dev)
        self._stop_polled = tuple(polled)

    def _stop_made(self, device) -> None:
        self._stop_raised = True

    def stop_pending(self) -> bool:
        """A device asked to end the run (the loop collects the request)."""
        if not self._stop_raised and not self._stop_polled:
            return False
        return any(getattr(dev, "stop_request", None) is not None
                   for dev in self.devices.values())

    def _stop_requested(self):
        """The first device's stop request (in ``devices``' order), taken;
        None if none was made."""
        if not self._stop_raised and not self._stop_polled:
            return None
        found = None
        pending = False
        for dev in self.devices.values():
            req = getattr(dev, "stop_request", None)
            if req is not None:
                if found is None:
                    dev.stop_request = None
                    found = req
                else:
                    pending = True
        self._stop_raised = pending
        return found

    def _result(self, reason, status, message, ex, t0, start_icount) -> RunResult:
        self.accel.sync_state()
        return RunResult(reason, status, message, ex, self.accel.icount - start_icount,
                         time.perf_counter() - t0, self.stats)

    # -- helpers for the debugger, tests and tools --------------------------------------
    def serial_output(self) -> bytes:
        """What the guest printed (UART and debug console), in order: all of
        it, or its last ``output_keep`` bytes at least (:class:`OutputLog`)."""
        return bytes(self.serial_log)

    def close(self) -> None:
        self.accel.close()
