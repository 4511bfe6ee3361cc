"""A debugging session: one Machine, driven one instruction (or one stop) at a time.

Both front ends -- the ``emu debug`` REPL and the gdb remote stub -- drive
this object, and it drives only the Machine and the Accelerator's debug
contract (``set_single_step``, ``breakpoints``, ``sync_state`` /
``state_changed``); nothing is woven into the engines.  It is generic: the
registers, the instructions (what a call is, which memory an instruction
touches), the stack frames and gdb's register layout are the debug
adapter's that the board's Target gives (:mod:`emu.isa.debug_adapter`,
``Session.arch``), so another architecture is another adapter.  What it adds:

* **stepping** exactly one instruction (:meth:`Machine.step
  <emu.machine.Machine.step>`, the run loop's exit serving for one step),
  with interrupts held back during a step unless ``step_irqs`` is on (QEMU's
  gdbstub default, ``NOIRQ``): the engine's interrupt line is lowered for the
  step and raised again afterwards, so the interrupt is taken later;
* **stepping by source line** (gdb's ``step`` and ``next``, GDB manual
  "Continuing and Stepping"): through the image's line map, entering or
  running whole the calls on the way (:meth:`Session.step_line`);
* **continuing** until a breakpoint, a watchpoint, or the guest stops.
  Software engines run in chunks of ``interval`` instructions (a checkpoint
  between chunks); KVM, which counts instructions only while stepping, is
  always single-stepped (the session records all the time), as are all
  engines while a watchpoint is set (write watchpoints compare the watched
  bytes after every step; read and access watchpoints check the
  instruction's memory operands before it);
* **observing** each stop: the instruction executed, the registers that
  changed, the RAM bytes that changed (the recorder's page comparison, see
  :mod:`emu.debug.record`), and every exit the Machine served meanwhile
  (an observer added with ``Machine.add_exit_observer``);
* **reverse execution** (``reverse_step``, ``reverse_continue``) through
  :class:`~emu.debug.record.Recorder`; a register or memory change the
  user makes is part of the recording, as in gdb's ``record full``: going
  back undoes it, and execution that moves forward through its position
  makes it again there (see :meth:`Session._settle`).

Positions count instructions retired since the session started (or since
``restart``); the recorder's checkpoints are keyed by them.

Guest time: on an engine that runs in real time (KVM) the session makes the
Machine's clock count instructions when it starts
(:meth:`~emu.machine.Machine.count_guest_time`, as ``emu diff`` does),
going on from the time the guest had reached (0 before its first
instruction).  Every instruction KVM runs in a session is single-stepped,
so the count is exact: timer interrupts come at the same instructions as
on the software engines and when re-executed after a reverse step, HLT
skips the idle time to the next timer deadline instead of sleeping, and a
checkpoint puts guest time back exactly.  There is no un-stepped run for
the clock to fall out of step with (``continue`` steps KVM too); guest
time only moves forward in the present timeline, and going back in history
shows it as it was there.  The clock stays in instruction counting after
:meth:`close`.
"""

from __future__ import annotations

import bisect
import copy
from dataclasses import dataclass, field

from ..isa.debug_adapter import DebugError
from .record import Recorder, memory_runs

__all__ = ["DebugError", "Session", "Stop", "Frame", "Breakpoint", "Watchpoint"]


def cpu_changes(before, after, lazy=(), derived=()) -> dict:
    """What differs between two CPU states, as ``{(field, index or key or
    None): new value}``: the list fields (x86's regs, segs, dr) and dict
    fields (msrs) element by element, every other slot whole -- except the
    ``lazy`` fields, which are compared through the ``derived`` properties
    computed from them, one value each (x86's flags, ``("rflags", None)``:
    an engine may hold the same flags in another lazy record; the debug
    adapter names both).  Applied with :func:`apply_cpu_changes` to the
    state at the same place in a re-execution, it makes the same change."""
    out = {}
    for name in type(after).__slots__:
        if name in lazy:
            continue
        a, b = getattr(before, name), getattr(after, name)
        if isinstance(b, list):
            for i, v in enumerate(b):
                if i >= len(a) or a[i] != v:
                    out[(name, i)] = copy.deepcopy(v)
        elif isinstance(b, dict):
            for k, v in b.items():
                if k not in a or a[k] != v:
                    out[(name, k)] = copy.deepcopy(v)
        elif a != b:
            out[(name, None)] = copy.deepcopy(b)
    for name in derived:
        if getattr(before, name) != getattr(after, name):
            out[(name, None)] = getattr(after, name)
    return out


def apply_cpu_changes(cpu, changes: dict) -> None:
    for (name, key), v in changes.items():
        v = copy.deepcopy(v)
        if key is None:
            setattr(cpu, name, v)
        else:
            getattr(cpu, name)[key] = v


@dataclass
class Stop:
    """Why and where a command stopped, and what it did on the way."""

    reason: str                      # step, breakpoint, watchpoint, exited, halted, crashed,
                                     # history-start, history-end, interrupted
    message: str = ""
    pc: int = 0                      # linear address of the next instruction
    executed: list = field(default_factory=list)    # [(linear pc, text)] (last few)
    count: int = 0                   # instructions retired (negative: reversed)
    exits: list = field(default_factory=list)       # describe() of every exit served
    writes: list = field(default_factory=list)      # [(address, old bytes, new bytes)]
    regs_before: dict = field(default_factory=dict)
    regs_after: dict = field(default_factory=dict)
    output: bytes = b""                             # guest output during the command
    status: int | None = None                       # exit status when reason == "exited"
    watch: tuple | None = None                      # (kind, address) of the watchpoint hit
    bp_number: int | None = None

    def changed_regs(self) -> list:
        return [(k, self.regs_before.get(k), v) for k, v in self.regs_after.items()
                if self.regs_before.get(k) != v]


@dataclass
class Frame:
    level: int
    pc: int                          # linear address
    slot: int | None                 # linear address of its return address (None: outermost)


@dataclass
class Breakpoint:
    number: int
    addr: int
    temporary: bool = False
    hits: int = 0
    where: str = ""


@dataclass
class Watchpoint:
    number: int
    kind: str        # "write", "read", "access"
    addr: int
    length: int
    old: bytes = b""
    hits: int = 0


def physical_runs(machine, s, addr: int, n: int, adapter=None) -> list:
    """[(physical address, length)] covering linear ``addr``..``addr+n`` for
    CPU state ``s``: through the guest's page tables (the debug adapter's
    ``translate``) without side effects.  A DebugError names an address
    outside RAM or not mapped."""
    ram = machine.ram
    if n < 0:
        raise DebugError(f"cannot access {n} bytes at 0x{addr:x}")
    adapter = adapter or machine.target.debug_adapter(machine)
    page = adapter.page_size
    runs = []
    a, left = addr, max(n, 1)
    while left > 0:
        chunk = min(left, page - (a % page))
        pa = adapter.translate(s, a)
        if pa is None:
            raise DebugError(f"cannot access memory at 0x{a:x} (not mapped by the "
                             "guest's page tables)")
        if runs and runs[-1][0] + runs[-1][1] == pa:
            runs[-1] = (runs[-1][0], runs[-1][1] + chunk)
        else:
            runs.append((pa, chunk))
        a += chunk
        left -= chunk
    if n == 0:
        runs = [(runs[0][0], 0)]
    for pa, k in runs:
        if not ram.contains(pa, max(k, 1)):
            raise DebugError(f"cannot access memory at 0x{addr:x} (RAM is 0x{ram.base:x}-"
                             f"0x{ram.base + ram.size - 1:x})")
    return runs


def register_value(machine, s, name: str) -> int:
    """The value of register ``$name`` (any name the architecture has) in
    CPU state ``s`` of ``machine``; ``pc`` is the linear address of the
    next instruction."""
    return machine.target.debug_adapter(machine).get_register(s, name)


class Session:
    """The generic debugging engine over one Machine: stepping, continuing,
    breakpoints, watchpoints, frames and reverse execution (see the module
    docstring); everything it knows of the architecture it asks the board's
    Target's debug adapter (:class:`emu.isa.debug_adapter.DebugAdapter`,
    ``self.arch``)."""

    def __init__(self, machine, image=None, history_size: int = 1_000_000, interval: int = 10_000):
        self.machine = machine
        self.image = image
        self.accel = machine.accel
        self.arch = machine.target.debug_adapter(machine)
        self.breakpoints: dict[int, Breakpoint] = {}     # number -> breakpoint
        self.watchpoints: dict[int, Watchpoint] = {}
        self._next_number = 1
        self.step_irqs = False
        self.interval = interval
        self.pos = 0
        self.exited = None            # Stop of the end, or None while the guest can run
        self.recorder = Recorder(machine, history_size)
        self._exits = []
        self.interrupt_requested = None   # callable -> bool, polled between chunks
        #: who follows the run state (the monitor, under ``emu debug -qmp``):
        #: ``resuming()`` as a command starts running the guest forward,
        #: ``stopped(stop, forward)`` when any command has stopped
        self.run_observer = None
        self._step_from = None            # position before the last single step
        self._access_reported = None      # position of a read/access stop (before the insn)
        self._line_starts = None          # sorted addresses of image.lines (built when needed)
        self._observer = self._exits.append
        machine.add_exit_observer(self._observer)
        # the session single-steps an engine without an exact instruction
        # count (KVM) whenever it runs it: its guest time counts those
        # instructions from here on, so that re-execution is exact
        machine.count_guest_time()
        self.accel.sync_state()
        self.recorder.reset(0)
        self.recorder.save_initial()

    # -- state helpers ---------------------------------------------------------------
    @property
    def cpu(self):
        self.accel.sync_state()
        return self.machine.cpu

    def pc(self) -> int:
        return self.machine.target.pc(self.cpu)

    def width(self) -> int:
        """Bytes in a register or pointer of the CPU's current mode."""
        return self.arch.word_size(self.cpu)

    def reg_values(self) -> dict:
        """Registers at the current mode's width, for display and diffs."""
        return self.arch.registers(self.cpu)

    def _cpu_changes(self, before, after) -> dict:
        return cpu_changes(before, after, self.arch.lazy_fields, self.arch.derived_fields)

    def set_register(self, name: str, value: int) -> None:
        """``$name = value``: any register the architecture lets the
        debugger write (the adapter's ``set_register``)."""
        s = self.cpu
        before = s.copy()
        self.arch.set_register(s, name, value)
        self.accel.state_changed()
        self._settle(self._cpu_changes(before, s), [])

    def get_register(self, name: str) -> int:
        return self.arch.get_register(self.cpu, name)

    # -- memory ------------------------------------------------------------------------
    # Addresses are linear (what the guest's code uses, what gdb sends in m/M
    # and Z packets); with paging on they go through the guest's page tables
    # without side effects (no accessed/dirty bits, no TLB, no #PF).
    def _physical_runs(self, addr: int, n: int) -> list:
        return physical_runs(self.machine, self.cpu, addr, n, self.arch)

    def read_memory(self, addr: int, n: int) -> bytes:
        if n < 0:
            raise DebugError(f"cannot read {n} bytes")
        runs = self._physical_runs(addr, n)
        self.accel.sync_state()
        if n == 0:
            return b""
        return b"".join(self.machine.ram.read_bytes(pa, k) for pa, k in runs)

    def write_memory(self, addr: int, data: bytes) -> None:
        runs = self._physical_runs(addr, len(data))
        self.accel.sync_state()
        ram = self.machine.ram
        off = 0
        written = []
        for pa, k in runs:
            chunk = bytes(data[off:off + k])
            if ram.read_bytes(pa, k) != chunk:
                written.append((pa, chunk))
            ram.load(pa, chunk)
            off += k
        self.accel.flush_code_cache()
        self.accel.state_changed()
        self._settle({}, written)

    def mapped(self, addr: int) -> bool:
        """``addr`` (linear) is in RAM through the guest's page tables."""
        try:
            self._physical_runs(addr, 1)
        except DebugError:
            return False
        return True

    def _settle(self, regs: dict, mem: list) -> None:
        """The user changed the state (made already): ``regs`` what changed
        in the CPU (:func:`cpu_changes`), ``mem`` the bytes written,
        ``[(physical address, bytes)]``.  As gdb's ``record full`` does, the
        change becomes part of the recording at the present position P
        (:meth:`Recorder.edit <emu.debug.record.Recorder.edit>`): history
        before P stays -- reverse execution undoes the change and goes on
        further back, and re-execution through P makes it again
        (:meth:`_advanced`) -- while the recorded future after P is
        forgotten.  A change of nothing is not recorded."""
        if regs or mem:
            self.recorder.edit(self.pos, regs, mem)

    def _advanced(self, before: int) -> None:
        """Execution moved forward from position ``before`` to ``self.pos``:
        arriving at a position where the user changed the state, make the
        change again (before the instruction there runs).  Every run of
        instructions goes through here (:meth:`_step_one`,
        :meth:`_run_chunk`, :meth:`_run_chunk_plain`), and runs of several
        stop at the next edit (:meth:`_to_next_edit`)."""
        if self.pos <= before:
            return
        e = self.recorder.edits.get(self.pos)
        if e is None:
            return
        accel = self.accel
        accel.sync_state()
        apply_cpu_changes(self.machine.cpu, e.regs)
        for pa, data in e.mem:
            self.machine.ram.load(pa, data)
        if e.mem:
            accel.flush_code_cache()
        accel.state_changed()

    def _to_next_edit(self, n: int) -> int:
        """``n`` instructions, or fewer to stop at the next recorded edit."""
        nxt = self.recorder.next_edit(self.pos)
        return n if nxt is None else min(n, nxt - self.pos)

    # -- decoding ---------------------------------------------------------------------------
    def decode(self, lin: int | None = None):
        """The instruction at linear ``lin`` (default: the PC), in the CPU's
        current mode; returns (insn, raw bytes) or raises DebugError."""
        if lin is None:
            lin = self.pc()
        code = b""
        for k in (16, 8, 4, 1):           # near the end of RAM or of a mapping: fewer
            try:
                code = self.read_memory(lin, k)
                break
            except DebugError:
                continue
        insn = self.arch.decode(self.cpu, code, lin)
        return insn, code[:insn.length]

    def insn_text(self, lin: int | None = None) -> str:
        try:
            insn, _ = self.decode(lin)
        except DebugError as e:
            return f"(bad: {e})"
        return self.arch.format_insn(insn)

    # -- breakpoints and watchpoints -------------------------------------------------------
    def add_breakpoint(self, addr: int, temporary: bool = False, where: str = "") -> Breakpoint:
        bp = Breakpoint(self._next_number, addr, temporary, 0, where)
        self._next_number += 1
        self.breakpoints[bp.number] = bp
        return bp

    def add_watchpoint(self, kind: str, addr: int, length: int) -> Watchpoint:
        wp = Watchpoint(self._next_number, kind, addr, length, self.read_memory(addr, length))
        self._next_number += 1
        self.watchpoints[wp.number] = wp
        return wp

    def delete(self, number: int | None = None) -> None:
        if number is None:
            self.breakpoints.clear()
            self.watchpoints.clear()
            return
        if number in self.breakpoints:
            del self.breakpoints[number]
        elif number in self.watchpoints:
            del self.watchpoints[number]
        else:
            raise DebugError(f"no breakpoint number {number}")

    def remove_breakpoint_at(self, addr: int) -> bool:
        for n, bp in list(self.breakpoints.items()):
            if bp.addr == addr:
                del self.breakpoints[n]
                return True
        return False

    def remove_watchpoint_at(self, kind: str, addr: int, length: int) -> bool:
        for n, wp in list(self.watchpoints.items()):
            if (wp.kind, wp.addr, wp.length) == (kind, addr, length):
                del self.watchpoints[n]
                return True
        return False

    def _bp_addrs(self) -> set:
        return {bp.addr for bp in self.breakpoints.values()}

    # -- running: the primitives -----------------------------------------------------------
    def _arm(self, on: bool, extra=()) -> None:
        bps = self.accel.breakpoints
        bps.clear()
        if on:
            bps.update(self._bp_addrs())
            bps.update(extra)

    def _step_one(self, hold_irq: bool | None = None):
        """Retire exactly one instruction (or stop trying); returns the
        Machine's RunResult.  Breakpoints are disarmed (we are leaving one,
        or stepping on purpose)."""
        m = self.machine
        accel = self.accel
        if hold_irq is None:
            hold_irq = not self.step_irqs and self._irq_would_be_taken()
        self._arm(False)
        saved_line = None
        if hold_irq:
            saved_line = accel.irq_line
            accel.irq_line = False
            self.recorder.held_irqs.add(self.pos)
        before = accel.icount
        self._step_from = self.pos
        accel.set_single_step(True)
        try:
            r = m.step()
        finally:
            accel.set_single_step(False)
            if hold_irq:
                pic = getattr(m, "pic", None)
                accel.irq_line = pic.intr.level if pic is not None else saved_line
        self.pos += accel.icount - before
        self._advanced(self._step_from)
        return r

    def _irq_would_be_taken(self) -> bool:
        """An interrupt would be taken before the next instruction and may be
        held back for a step.  Never for a halted CPU or a HLT: the
        interrupt is what ends the halt, and holding it back would leave the
        CPU halted with the interrupt pending, forever."""
        accel = self.accel
        if not getattr(accel, "irq_line", False):
            return False
        s = self.cpu
        if not self.arch.interrupts_enabled(s) or s.halted:
            return False
        try:
            return not self.arch.waits_for_interrupt(self.decode()[0])
        except DebugError:
            return True

    def _run_chunk(self, n: int, extra=()):
        """Up to ``n`` instructions at full speed with breakpoints armed
        (exact-icount engines only)."""
        m = self.machine
        accel = self.accel
        n = self._to_next_edit(n)
        self._arm(True, extra)
        before = accel.icount
        start = self.pos
        try:
            r = m.run(icount_limit=n)
        finally:
            self._arm(False)
        self.pos += accel.icount - before
        self._advanced(start)
        return r

    # -- commands -----------------------------------------------------------------------------
    def _begin(self, forward: bool = False) -> dict:
        """A command starts (``forward``: one that runs the guest on, which
        the run observer hears, :attr:`run_observer`)."""
        self._exits.clear()
        if forward and self.run_observer is not None:
            self.run_observer.resuming()
        return {"regs": self.reg_values(), "serial": len(self.machine.serial_log),
                "shadow": self.recorder.shadow, "pos": self.pos}

    def _finish(self, st: Stop, ctx: dict, forward: bool = True) -> Stop:
        st.exits = [e.describe() if hasattr(e, "describe") else str(e) for e in self._exits]
        self._exits.clear()
        st.regs_before = ctx["regs"]
        st.regs_after = self.reg_values()
        st.pc = self.pc()
        st.count = self.pos - ctx["pos"]
        log = self.machine.serial_log
        st.output = bytes(log[ctx["serial"]:]) if len(log) > ctx["serial"] else b""
        if forward:
            st.writes = self.recorder.checkpoint(self.pos)
        else:
            st.exits = []             # re-execution's exits are history, not news
            rec = self.recorder
            pages = rec.changed_pages(ctx["shadow"])
            st.writes = memory_runs(self.machine.ram, ctx["shadow"], pages)
            # the present becomes a checkpoint, as after a forward command: the
            # next command's writes are then told against RAM as it is here,
            # not against the checkpoint the re-execution started from
            rec.checkpoint(self.pos)
        if self.run_observer is not None:
            self.run_observer.stopped(st, forward)
        return st

    def _result_stop(self, r) -> Stop | None:
        """Turn a RunResult that ended the guest into a Stop (None: it did not)."""
        if r.reason == "debug-exit":
            # the message says what the guest did (the value it wrote to
            # isa-debug-exit, the semihosting call); the status is the process's
            return Stop("exited", f"{r.message}; exit status {r.status}", status=r.status)
        if r.reason == "halt":
            return Stop("halted", r.message)
        if r.reason in ("shutdown", "fail-entry", "internal-error", "unknown-exit", "system-event"):
            return Stop("crashed", r.message)
        return None

    def _check_running(self) -> None:
        if self.exited is not None:
            raise DebugError(f"the guest is not running ({self.exited.message}); "
                             "use 'run' to start again or reverse-step into its history")

    def _repeat(self, n: int, one) -> Stop:
        """A stepping command: ``one(executed)`` N times -- each appends
        the (pc, text) of the instructions it starts with and returns the
        Stop that ends the command early, or None -- until the guest stops,
        a breakpoint or watchpoint, or an interrupt (Ctrl-C)."""
        self._check_running()
        ctx = self._begin(forward=True)
        executed = []
        st = None
        for _ in range(n):
            st = self._interrupted() or one(executed)
            if st is not None:
                break
        if st is None:
            st = Stop("step")
        st.executed = executed[-8:]
        self._note_end(st)
        return self._finish(st, ctx)

    def _interrupted(self) -> Stop | None:
        if self.interrupt_requested is not None and self.interrupt_requested():
            return Stop("interrupted", "interrupted by the debugger")
        return None

    def _before_insn(self, pc: int, first: bool, bps) -> Stop | None:
        """What stops a command that steps on before the instruction at
        ``pc``: an interrupt, and -- unless it is the instruction the
        command started on -- a breakpoint there or a read/access
        watchpoint it would trigger."""
        st = self._interrupted()
        if st is None and not first:
            if pc in bps:
                st = self._bp_stop(pc)
            elif self.watchpoints:
                st = self._check_access_before()
        return st

    def _over_call(self, ret: int, sp_before: int) -> Stop | None:
        """Run a call whole: until the PC is at its return address ``ret``
        with the stack popped to ``sp_before`` (None), or something else
        stops the guest first (that Stop)."""
        st = self._run_until(lambda: self.pc() == ret and self.sp_linear() >= sp_before)
        return None if st.reason == "return" else st

    def _stepi_one(self, executed: list, hold_irq: bool | None = None) -> Stop | None:
        pc = self.pc()
        executed.append((pc, self.insn_text(pc)))
        st = self._result_stop(self._step_one(hold_irq))
        if st is None and self.watchpoints:
            st = self._check_watch_after()
        return st

    def _call_at(self, pc: int) -> int:
        """The length of the call instruction at ``pc`` (what 'next' runs
        whole); 0 if it is no call or does not decode."""
        try:
            insn, _ = self.decode(pc)
        except DebugError:
            return 0
        return insn.length if self.arch.is_call(insn) else 0

    def step(self, n: int = 1) -> Stop:
        """stepi N: exactly N instructions (fewer if the guest stops)."""
        return self._repeat(n, self._stepi_one)

    def next(self, n: int = 1) -> Stop:
        """nexti N: like stepi, but a call (the adapter's ``is_call``: x86's
        CALL or INT) runs until it returns."""
        def one(executed):
            pc = self.pc()
            length = self._call_at(pc)
            if not length:
                return self._stepi_one(executed)
            executed.append((pc, self.insn_text(pc)))
            return self._over_call(pc + length, self.sp_linear())
        return self._repeat(n, one)

    # -- source lines -------------------------------------------------------------------------
    # gdb's step and next (GDB manual, "Continuing and Stepping"; infrun's
    # stepping range): the line map is the image's (the loader's map of an
    # assembly source, an ELF's DWARF line table), address -> (file, line)
    # at the addresses where a line's code starts.

    def line_at(self, lin: int):
        """(file, line) of the line whose code starts at ``lin``, or None."""
        return self.image.lines.get(lin) if self.image is not None else None

    def line_of(self, lin: int):
        """(file, line) of the line whose code ``lin`` is in (the last
        line start at or before it, within the image), or None."""
        img = self.image
        if img is None or not img.lines or not img.base <= lin < img.base + len(img.data):
            return None
        if self._line_starts is None:
            self._line_starts = sorted(img.lines)
        k = bisect.bisect_right(self._line_starts, lin)
        return img.lines[self._line_starts[k - 1]] if k else None

    def step_line(self, n: int = 1, over: bool = False) -> Stop:
        """step N (``over``: next N): run until the PC reaches the start of
        another source line, N times.  A call (x86's CALL, INT) into code with
        line information is entered by step (stopping at its first line,
        after the frame setup gdb's prologue analysis skips) and run whole
        by next; a call into code without line information always runs
        whole.  Arriving in the middle of a line (a return to the caller)
        makes that line the current one, and the start of a line that
        begins no statement (DWARF is_stmt) is passed, as gdb does.
        Breakpoints, watchpoints and the guest's end stop it as they stop
        continue."""
        if self.image is None or not self.image.lines:
            self._check_running()
            raise DebugError("The guest has no line number information (step and next need a "
                             ".S/.asm guest or an ELF built with -g); use stepi or nexti.")
        return self._repeat(n, lambda executed: self._step_line(over, executed))

    def _step_line(self, over: bool, executed: list):
        """One step/next; None when it reached a new line."""
        current = self.line_of(self.pc())
        bps = self._bp_addrs()
        first = True
        since_cp = 0
        while True:
            pc = self.pc()
            st = self._before_insn(pc, first, bps)
            if st is not None:
                return st
            first = False
            length = self._call_at(pc)
            sp_before = self.sp_linear()
            # (interrupts are taken: a line may wait for one, as a loop does)
            st = self._stepi_one(executed, hold_irq=False)
            if st is not None:
                return st
            if length and self.pc() != pc + length:
                if over or self.line_at(self.pc()) is None:
                    st = self._over_call(pc + length, sp_before)
                    if st is not None:
                        return st
                else:
                    self._skip_frame_setup()
                    return None
            since_cp += 1
            if since_cp >= self.interval:
                self.recorder.checkpoint(self.pos)
                since_cp = 0
            here = self.pc()
            start = self.line_at(here)
            if start is None:                  # in the middle of a line: that line
                current = self.line_of(here) or current
            elif start != current and here not in self.image.not_statements:
                return None
            # (the start of a line that begins no statement: gdb goes on)

    def _skip_frame_setup(self) -> None:
        """Stepped into a function: run its frame setup (the instructions
        the adapter's ``frame_setup`` counts, as gdb's prologue analysis
        skips them) and go on to the start of a line if that ends in the
        middle of one."""
        loc = self.line_at(self.pc())
        if loc is None:
            return
        n = self.arch.frame_setup(self, loc[0])
        if not n:
            return
        for _ in range(n):
            self._step_one()
        for _ in range(64):
            if self.line_at(self.pc()) is not None:
                break
            self._step_one()

    # -- frames -------------------------------------------------------------------------------
    # The stack as a debugger without debug information sees it (gdb's
    # prologue analysis and heuristic unwinding): how return addresses are
    # found is the adapter's ``frames``.

    def sp_linear(self) -> int:
        return self.arch.stack_pointer(self.cpu)

    def frames(self, limit: int = 32) -> list:
        """[Frame] from the innermost: each frame's PC and the linear address
        of the slot holding its return address (None for the outermost)."""
        return [Frame(level, pc, slot)
                for level, (pc, slot) in enumerate(self.arch.frames(self, limit))]

    def _returned(self, frames: list):
        """A test for 'the innermost of ``frames`` has returned': its return
        address slot was popped, or (a return to an outer privilege level
        switches stacks: x86's IRET/RETF) the PC is at its return address
        with another privilege level."""
        slot = frames[0].slot
        ret = frames[1].pc if len(frames) > 1 else None
        cpl = self.arch.privilege(self.cpu)
        if self.arch.returns_through_link:
            return lambda: self.sp_linear() > slot and self.pc() == ret
        return lambda: self.sp_linear() > slot or (self.pc() == ret and self.arch.privilege(self.cpu) != cpl)

    def finish(self) -> tuple:
        """finish: run until the current function returns (the slot holding
        its return address is popped); returns (frame, Stop)."""
        self._check_running()
        frames = self.frames(2)
        if frames[0].slot is None:
            raise DebugError('"finish" not meaningful in the outermost frame.')
        ctx = self._begin(forward=True)
        st = self._run_until(self._returned(frames))
        self._note_end(st)
        return frames[0], self._finish(st, ctx)

    def until(self, location: int | None = None, any_frame: bool = False) -> Stop:
        """until: like nexti, but never stopping at a lower address (a loop's
        backward jump runs the loop to its end), or until the current
        function returns.  until LOCATION: run until LOCATION is reached in
        the current frame or a caller (``any_frame``: in any frame, gdb's
        ``advance``), or the current function returns."""
        self._check_running()
        ctx = self._begin(forward=True)
        frames = self.frames(2)
        slot = frames[0].slot
        returned = self._returned(frames) if slot is not None else (lambda: False)
        start = self.pc()
        if location is None:
            st = None
            bps = self._bp_addrs()
            first = True
            since_cp = 0
            while st is None:
                pc = self.pc()
                st = self._before_insn(pc, first, bps)
                if st is not None:
                    break
                first = False
                length = self._call_at(pc)
                if length:                     # a call runs whole, as with nexti
                    st = self._over_call(pc + length, self.sp_linear())
                    if st is not None:
                        break
                else:
                    r = self._step_one(hold_irq=False)
                    st = self._result_stop(r)
                    if st is None and self.watchpoints:
                        st = self._check_watch_after()
                    if st is not None:
                        break
                    since_cp += 1
                    if since_cp >= self.interval:
                        self.recorder.checkpoint(self.pos)
                        since_cp = 0
                if returned() or self.pc() > start:
                    st = Stop("until")
        elif slot is None:
            # the outermost frame: nothing to return from; run at full speed
            st = self._run_until(None, extra=frozenset((location,)))
        else:
            def done():
                if returned():
                    return True
                if self.pc() != location:
                    return False
                if any_frame:
                    return True
                here = self.frames(1)[0].slot          # deeper frames (recursion) go on
                return here is None or here >= slot
            st = self._run_until(done)
        if st.reason == "return" and location is not None:
            st = Stop("location") if self.pc() == location else Stop("until")
        self._note_end(st)
        return self._finish(st, ctx)

    def cont(self) -> Stop:
        """continue: until a breakpoint, a watchpoint, or the guest stops."""
        self._check_running()
        ctx = self._begin(forward=True)
        st = self._run_until(None)
        self._note_end(st)
        return self._finish(st, ctx)

    def _run_until(self, done, extra=frozenset()) -> Stop:
        """Run forward until a breakpoint or watchpoint, the guest stops,
        ``done()`` (checked after every instruction) is true, or the PC
        reaches an address in ``extra`` (internal breakpoints: Stop
        "location")."""
        bps = self._bp_addrs()
        first = True
        exact = self.accel.exact_icount and done is None and not self.watchpoints
        since_cp = 0
        while True:
            st = self._interrupted()
            if st is not None:
                return st
            pc = self.pc()
            if not first and pc in bps:
                return self._bp_stop(pc)
            if not first and pc in extra:
                return Stop("location")
            if exact and not first:
                r = self._run_chunk(self.interval, extra)
                since_cp += r.icount
                st = self._result_stop(r)
                if st is not None:
                    return st
                if r.reason == "debug" and getattr(r.exit, "kind", "") == "breakpoint":
                    if self.pc() in bps:
                        return self._bp_stop(self.pc())
                    if self.pc() in extra or self.pos not in self.recorder.edits:
                        return Stop("location")
                    # (an edit recorded there moved the PC off it: go on)
                if since_cp >= self.interval:
                    self.recorder.checkpoint(self.pos)
                    since_cp = 0
                continue
            # one instruction at a time (leaving a breakpoint, KVM, watchpoints, nexti)
            if self.watchpoints and not first:
                # (not the instruction we stand on: a read watchpoint that
                # stopped before it must let it run, as a breakpoint does)
                hit = self._check_access_before()
                if hit is not None:
                    return hit
            r = self._step_one(hold_irq=False)
            first = False
            since_cp += 1
            st = self._result_stop(r)
            if st is not None:
                return st
            if self.watchpoints:
                hit = self._check_watch_after()
                if hit is not None:
                    return hit
            if done is not None and done():
                return Stop("return")
            if since_cp >= self.interval:
                self.recorder.checkpoint(self.pos)
                since_cp = 0

    def _bp_stop(self, pc: int) -> Stop:
        for bp in self.breakpoints.values():
            if bp.addr == pc:
                bp.hits += 1
                st = Stop("breakpoint", f"Breakpoint {bp.number}", bp_number=bp.number)
                if bp.temporary:
                    del self.breakpoints[bp.number]
                    st.message = f"Temporary breakpoint {bp.number}"
                return st
        return Stop("breakpoint", "breakpoint")

    def _check_watch_after(self) -> Stop | None:
        # an access watchpoint already reported this instruction (it stopped
        # before it): the change it made is not a second stop
        reported = self._access_reported is not None and self._access_reported == self._step_from
        self._access_reported = None
        for wp in self.watchpoints.values():
            if wp.kind not in ("write", "access"):
                continue
            try:
                now = self.read_memory(wp.addr, wp.length)
            except DebugError:            # unmapped for now: nothing to compare
                continue
            if now != wp.old and wp.kind == "access" and reported:
                wp.old = now
            elif now != wp.old:
                old, wp.old = wp.old, now
                wp.hits += 1
                st = self._watch_stop(wp)
                st.writes_watch = (old, now)
                return st
        return None

    def _check_access_before(self) -> Stop | None:
        """Read/access watchpoints: the next instruction's memory operands
        (explicit ones and the string operands) overlap a watched range."""
        wanted = [wp for wp in self.watchpoints.values() if wp.kind in ("read", "access")]
        if not wanted:
            return None
        for wp in wanted:
            if self._accesses(wp):
                wp.hits += 1
                self._access_reported = self.pos
                return self._watch_stop(wp)
        return None

    def operand_ranges(self) -> list:
        """[(linear address, size, access)] of the next instruction's memory
        operands, ``access`` "r", "w" or "rw" (the adapter's ``memory_operands``)."""
        try:
            insn, _ = self.decode()
        except DebugError:
            return []
        return self.arch.memory_operands(self.cpu, insn)

    def _accesses(self, wp) -> bool:
        """The next instruction reads (``rwatch``) or touches (``awatch``)
        the bytes of ``wp``."""
        for lo, size, access in self.operand_ranges():
            if wp.kind == "read" and access == "w":
                continue
            if lo < wp.addr + wp.length and wp.addr < lo + size:
                return True
        return False

    def _note_end(self, st: Stop) -> None:
        if st.reason in ("exited", "crashed"):
            self.exited = st
        elif st.reason == "halted":
            self.exited = st

    # -- reverse ------------------------------------------------------------------------------
    def _goto(self, target: int) -> None:
        """Stand at position ``target`` (within recorded history)."""
        rec = self.recorder
        i = rec.index_at_or_before(target)
        self.pos = rec.restore(i)
        self._replay_to(target)
        rec.truncate(rec.index_at_or_before(self.pos))
        self.exited = None

    def _replay_to(self, target: int, visit=None) -> None:
        """Re-execute from the present to ``target``, holding back interrupts
        where the recording held them; ``visit(pos, pc)`` before each one."""
        held = self.recorder.held_irqs
        while self.pos < target:
            if visit is not None:
                visit(self.pos, self.pc())
            exact = self.accel.exact_icount and visit is None
            if exact:
                nxt = min([p for p in held if self.pos <= p < target], default=target)
                if nxt > self.pos:
                    r = self._run_chunk_plain(nxt - self.pos)
                    if r.reason not in ("limit", "debug"):
                        break
                    continue
            r = self._step_one(hold_irq=self.pos in held)
            if self._result_stop(r) is not None and self.pos < target:
                break

    def _run_chunk_plain(self, n: int):
        accel = self.accel
        n = self._to_next_edit(n)
        self._arm(False)
        before = accel.icount
        start = self.pos
        r = self.machine.run(icount_limit=n)
        self.pos += accel.icount - before
        self._advanced(start)
        return r

    def reverse_step(self, n: int = 1) -> Stop:
        ctx = self._begin()
        target = self.pos - n
        st = Stop("step")
        if target < self.recorder.oldest:
            target = self.recorder.oldest
            st = Stop("history-start", "No more reverse-execution history.")
        if target == self.pos and st.reason == "step":
            st = Stop("history-start", "No more reverse-execution history.")
        self._goto(target)
        self._refresh_watches()
        st.executed = [(self.pc(), self.insn_text())]
        return self._finish(st, ctx, forward=False)

    def reverse_continue(self) -> Stop:
        """Back to the most recent position before the present at which a
        breakpoint's address was about to execute, or an instruction was
        about to change the bytes a write watchpoint covers (``watch``) or
        to access those of a read/access watchpoint (``rwatch``,
        ``awatch``) -- as gdb's ``record full`` stops going backwards: at
        the instruction, before it ran -- or to the start of history."""
        ctx = self._begin()
        rec = self.recorder
        bps = self._bp_addrs()
        writes = [wp for wp in self.watchpoints.values() if wp.kind == "write"]
        accesses = [wp for wp in self.watchpoints.values() if wp.kind in ("read", "access")]
        end = self.pos
        present = {wp.number: self._watched(wp) for wp in writes}
        found = None                  # (position, ("breakpoint", None) or ("watch", wp))
        if (bps or writes or accesses) and end > rec.oldest:
            i = rec.index_at_or_before(end - 1)
            while i is not None:
                hits = []
                last = {}             # watchpoint number -> (position, bytes) seen last

                def visit(p, pc):
                    if pc in bps:
                        hits.append((p, ("breakpoint", None)))
                    for wp in writes:
                        now = self._watched(wp)
                        seen = last.get(wp.number)
                        if seen is not None and seen[1] != now:
                            hits.append((seen[0], ("watch", wp)))   # that instruction wrote
                        last[wp.number] = (p, now)
                    for wp in accesses:
                        if self._accesses(wp):
                            hits.append((p, ("watch", wp)))

                self.pos = rec.restore(i)
                self._replay_to(end, visit=visit)
                for wp in writes:     # the last instruction before ``end``
                    seen = last.get(wp.number)
                    if seen is not None and seen[1] != self._watched(wp):
                        hits.append((seen[0], ("watch", wp)))
                if hits:
                    found = max(hits, key=lambda h: h[0])
                    break
                end = rec.cps[i].pos
                i = i - 1 if i > 0 else None
        if found is not None:
            self._goto(found[0])
            kind, wp = found[1]
            if kind == "breakpoint":
                st = self._bp_stop(self.pc())
            else:
                wp.hits += 1
                st = self._watch_stop(wp)
                if wp.kind == "write":
                    # going backwards the value changes from what it is at
                    # the present to what it was before the write
                    st.writes_watch = (present[wp.number], self._watched(wp))
        else:
            self._goto(rec.oldest)
            st = Stop("history-start", "No more reverse-execution history.")
        self._refresh_watches()
        st.executed = [(self.pc(), self.insn_text())]
        return self._finish(st, ctx, forward=False)

    def _watched(self, wp) -> bytes | None:
        """The bytes a watchpoint covers now (None: not mapped now)."""
        try:
            return self.read_memory(wp.addr, wp.length)
        except DebugError:
            return None

    def _watch_stop(self, wp) -> Stop:
        name = {"write": "Hardware watchpoint", "read": "Hardware read watchpoint",
                "access": "Hardware access (read/write) watchpoint"}[wp.kind]
        return Stop("watchpoint", f"{name} {wp.number}: 0x{wp.addr:x}", watch=(wp.kind, wp.addr))

    def _refresh_watches(self) -> None:
        """After moving through history: write watchpoints compare with the
        bytes as they are here."""
        for wp in self.watchpoints.values():
            now = self._watched(wp)
            if now is not None:
                wp.old = now

    def state_replaced(self) -> None:
        """The machine's state was replaced from outside (the monitor's
        ``loadvm`` or ``system_reset``): the recorded history is of another
        past, so it starts afresh here."""
        self.exited = None
        self.recorder.reset(self.pos)
        self._refresh_watches()

    def restart(self) -> Stop:
        """run / restart: back to the state the session started in."""
        ctx = self._begin()
        self.recorder.restore_initial()
        self.pos = 0
        self.exited = None
        for bp in self.breakpoints.values():
            bp.hits = 0
        self._refresh_watches()
        st = Stop("restart", "Starting the guest from the beginning.")
        return self._finish(st, ctx, forward=False)

    def close(self) -> None:
        if self._observer is not None:
            self.machine.remove_exit_observer(self._observer)
            self._observer = None
        self.recorder.close()
