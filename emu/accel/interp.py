"""The interpreter: fetch, decode, execute -- one instruction at a time.

This is the reference engine, the one a learner reads.  It is one loop for
every architecture; what is particular to one -- how code is cached and
decoded, how faults and interrupts enter the guest -- is the architecture's
Core (:mod:`emu.isa.core`), which the board's Target creates.  Each step:

1. fetch and decode at the PC -- decoded instructions are cached by fetch
   address (the core drops an entry when the guest writes its page or the
   address mapping changes);
2. set the PC to the next instruction, then run the instruction
   (``insn.run``: its semantic function, which a core may bind to the
   instruction's operands when it decodes it) on the core's Ops -- a jump
   simply overwrites the PC;
3. a guest exception restores the PC to the faulting instruction and the
   core delivers it; port and MMIO accesses, HLT, single-step and
   breakpoints end ``run()`` with an exit for the Machine.

Between instructions the loop looks at the interrupt line and the core's
trace trap only; when either asks, the core says whether the interrupt may
be taken and delivers what the controller acknowledges.

A repeating instruction (x86 REP string instructions; ``insn.repeats``) is
decoded once and runs its iterations inside one step, as many as the budget
allows while nothing needs the loop between them: with single-step, a trace
trap, a raised interrupt line or a breakpoint on it, it runs one iteration
per step (the PC stays on it until the count runs out).  Each iteration
counts as one instruction, as in QEMU's icount.
"""

from __future__ import annotations

from .base import Accelerator
from ..exits import BudgetExit, DebugExit, HltExit, InternalErrorExit, ShutdownExit
from ..isa.core import CpuShutdown
from ..isa.ops import GuestException, IoPending, Unsupported

FOREVER = 1 << 62


class Interpreter(Accelerator):
    name = "interp"

    def __init__(self, machine):
        super().__init__(machine)
        self.core = machine.target.core(machine)
        self.queued = []
        self.irq_line = False        # the interrupt controller's output to the CPU
        self.irq_ack = None          # callable returning the vector (acknowledge cycle)
        self._resume_bp = None
        self._inflight = 0           # instructions of this run() not yet in icount (acknowledge)

    @Accelerator.on_interrupt.setter
    def on_interrupt(self, fn) -> None:
        self._on_interrupt = fn
        self.core.ops.trace_int = fn

    def icount_now(self) -> int:
        return self.icount + self._inflight

    def take_queued_exit(self):
        return self.queued.pop(0) if self.queued else None

    def flush_code_cache(self) -> None:
        self.core.flush()

    def state_changed(self) -> None:
        self.core.state_changed()
        self.core.abandon_io()

    def run(self, budget):
        return self.run_in_slices(self._run_slice, budget)

    def _run_slice(self, budget):
        ex = self._run(budget)
        self.core.run_ended()
        return ex

    def _run(self, budget):
        if self.queued:
            return self.queued.pop(0)
        core = self.core
        ops = core.ops
        s = core.s
        if ops.pending_read is not None:
            ops.io_replay.append(ops.pending_read.data)
            ops.pending_read = None
        if s.halted and core.stays_halted(self.irq_line):
            return HltExit()
        limit = FOREVER if budget is None else budget
        bps = self.breakpoints
        step = self.single_step
        resume_bp = self._resume_bp
        self._resume_bp = None
        n = 0
        pending = ops.pending_exits
        trace = core.trace_mask
        fault = core.deliver_fault
        # the PC: an element of a list (pcs[k]) where the core names one, else s.pc
        pcs, k = core.pc_slot or (None, 0)
        listed = pcs is not None
        # what only some steps look at -- breakpoints, single-step, the
        # served read the first instruction replays -- is behind one test
        watch = bool(bps) or step or bool(ops.io_replay)
        try:
            while n < limit:
                if self.irq_line or s.status & trace:
                    self._attention(n)
                pc = pcs[k] if listed else s.pc
                addr = core.fetch_base + pc
                if watch:
                    if bps and addr in bps and addr != resume_bp:
                        self._resume_bp = addr
                        self.icount += n
                        return DebugExit("breakpoint", addr)
                    resume_bp = None
                insn = core.cache.get(addr)
                if insn is None or insn.ip != pc:
                    try:
                        insn = core.decode_at(addr, pc)
                    except GuestException as e:
                        fault(e, None)
                        n += 1
                        continue
                if listed:
                    pcs[k] = insn.next_ip
                else:
                    s.pc = insn.next_ip
                ops.insn = insn
                rep = insn.repeats
                if rep:
                    # as many iterations in this step as nothing needs a stop between them
                    ops.rep_budget = 1 if (step or self.irq_line or s.status & trace
                                           or (bps and addr in bps)) else limit - n
                try:
                    insn.run(ops, insn)
                except GuestException as e:
                    del pending[:]
                    s.pc = pc
                    if rep:
                        n += self._repeated(ops)
                    fault(e, insn)
                except IoPending:
                    del pending[:]
                    s.pc = pc
                    ops.io_pos = 0
                    if rep:
                        n += self._repeated(ops)
                    self.icount += n
                    if self.machine.exit_pcs:
                        core.mark_source((ops.pending_read,), addr)
                    return ops.pending_read
                if rep:
                    n += self._repeated(ops)
                n += 1
                if not (pending or watch):
                    continue
                if pending:
                    if ops.io_pos:
                        ops.io_pos = 0
                        del ops.io_replay[:]
                    if self.machine.exit_pcs:
                        core.mark_source(pending, addr)
                    ex = pending[0]
                    self.queued.extend(pending[1:])
                    del pending[:]
                    if step:
                        self.queued.append(DebugExit("step", core.fetch_base + s.pc))
                    self.icount += n
                    return ex
                if watch:
                    if ops.io_pos:
                        ops.io_pos = 0
                        del ops.io_replay[:]
                    if step:
                        self.icount += n
                        return DebugExit("step", core.fetch_base + s.pc)
                    watch = bool(bps)
        except CpuShutdown as e:
            self.icount += n
            return ShutdownExit(e.describe())
        except Unsupported as u:
            if ops.insn is not None and ops.insn.repeats:
                n += self._repeated(ops)
            self.icount += n
            return InternalErrorExit("UNSUPPORTED", str(u), pc=core.fetch_base + s.pc)
        self.icount += n
        return BudgetExit("instructions")

    @staticmethod
    def _repeated(ops) -> int:
        """The iterations a repeating instruction ran beyond its first (each
        one instruction); the next instruction that does not repeat gets a
        budget of one again (the translator's helper calls)."""
        extra = ops.rep_extra
        ops.rep_extra = 0
        ops.rep_budget = 1
        return extra

    def _attention(self, n) -> None:
        """The interrupt line is raised or the core's trace trap asks: take
        the interrupt if the core accepts one at this boundary."""
        core = self.core
        if self.irq_line and self.irq_ack is not None and core.interrupts_enabled():
            self._inflight = n          # the acknowledge cycle may read the guest clock
            vector = self.irq_ack()
            self._inflight = 0
            if vector is not None:
                core.deliver_interrupt(vector)
        core.boundary_served()
