"""The Core contract: what the generic interpreter loop asks of an architecture.

The interpreter (:mod:`emu.accel.interp`) is one loop for every guest
architecture: fetch at the PC, look the decoded instruction up (or decode
it), set the PC to the next instruction, run the instruction's semantics on
the core's Ops, deliver what the guest raised, and end ``run()`` with an exit
for the Machine.  What differs between architectures -- how code is keyed
and decoded, how a fault or an interrupt enters the guest's handler, when an
interrupt may be taken, when a halted CPU wakes -- lives in a Core, one per
architecture (``emu/isa/<arch>/core.py``), which the Target creates
(:meth:`emu.isa.target.Target.core`).  The translator reuses the same Core
for its slow path and its block decoding.  QEMU splits a CPU the same way:
the generic ``cpu_exec`` loop and a ``TCGCPUOps`` table per target
(``cpu_exec_interrupt``, ``do_interrupt``, ``has_work``).

What the loop reads at every instruction is plain data, not method calls
(the loop is the hot path of the reference engine):

* ``state.pc`` -- the program counter as the instructions see it; the loop
  reads it, sets it to ``insn.next_ip`` before running the semantics and
  puts it back when the instruction faults or waits for I/O (x86: RIP);
* ``pc_slot`` -- ``(list, index)`` where the state keeps the PC as an
  element of a list (A32: ``r[15]``, whose ``state.pc`` is a property the
  loop would call twice per instruction), read and written there instead
  of ``state.pc``; None where ``state.pc`` is a plain attribute (x86);
* ``state.status & trace_mask`` -- a trace trap asks for attention at every
  instruction boundary (x86: FLAGS.TF; ``trace_mask`` is 0 where there is
  none);
* ``fetch_base`` -- added to ``state.pc`` it gives the address code is
  fetched from, the key of ``cache`` (x86: the CS base, 0 in 64-bit mode);
  ``fetch_base + state.pc`` is the Target's ``pc(state)``;
* ``cache`` -- decoded instructions of the current mode by fetch address;
  an entry is valid only if its ``ip`` equals ``state.pc``;
* a decoded instruction has ``ip``, ``next_ip``, ``handler(ops, insn)`` (its
  semantics, which the translator traces), ``run(ops, insn)`` (what the
  interpreter calls: the handler, or a form of it bound to the
  instruction's operands when it was decoded) and
  ``repeats`` -- True for an instruction that repeats in place (x86 REP
  strings; the translator lets the interpreter run their iterations at
  once): the loop sets ``ops.rep_budget`` to the most
  iterations it may run in this one call (1 when single-stepping, a trace
  trap, a raised interrupt line or a breakpoint on it must see every
  boundary) and counts ``ops.rep_extra``, the iterations it ran beyond the
  first, as instructions;
* ``state.halted`` -- the CPU waits for an interrupt (x86 HLT), read when a
  run starts.

``ops`` is the core's Ops (:mod:`emu.isa.ops`) on concrete values, with the
exit protocol of the interpreter: ``insn`` (the instruction being run),
``pending_exits`` (write exits collected by the instruction), and for an I/O
read the Machine has still to serve (``IoPending``) ``pending_read``,
``io_replay`` and ``io_pos``; ``trace_int`` is called for every interrupt
delivered (``-d int``).

Everything else is a method, called at the edges: a fault, an interrupt, a
halted CPU, an exit, the end of a run.  A guest event that cannot be
delivered at all ends the run as a SHUTDOWN exit: the core raises a
:class:`CpuShutdown` (x86: a triple fault).
"""

from __future__ import annotations

from ..memory import PAGE_SHIFT, PAGE_SIZE


class CpuShutdown(Exception):
    """The CPU cannot go on (x86: a triple fault): the machine shuts down.
    ``describe()`` says why, for the SHUTDOWN exit."""

    def describe(self) -> str:
        return str(self)


class Core:
    """Decoding and stepping state for one CPU, shared by the interpreter and
    the translator; ``emu/isa/<arch>/core.py`` subclasses it once.  The data
    attributes are described in the module docstring; every method here
    raises ``NotImplementedError``."""

    #: the bits of ``state.status`` that ask for attention at every
    #: instruction boundary (a trace trap); 0: none
    trace_mask = 0

    #: ``(list, index)`` holding the PC, or None: ``state.pc`` (module docstring)
    pc_slot = None

    def __init__(self, machine):
        self.machine = machine
        self.s = machine.cpu
        self.ops = None
        self.cache = {}
        self.fetch_base = 0
        #: the decode caches of every mode (``cache`` is one of them)
        self.caches = {}
        #: RAM page -> (cache, fetch address) of the instructions decoded from it
        self.page_index = {}

    # -- code ---------------------------------------------------------------------
    def decode_at(self, addr: int, pc: int):
        """Decode the instruction at fetch address ``addr`` (PC ``pc``), enter
        it in ``cache`` and return it; a fault while fetching raises
        :class:`emu.isa.ops.GuestException`."""
        raise NotImplementedError

    def state_changed(self) -> None:
        """The state changed how code decodes (mode, paging) or was changed
        from outside: choose ``cache`` and ``fetch_base`` again."""
        raise NotImplementedError

    def abandon_io(self) -> None:
        """The state was replaced from outside (a checkpoint restored, a
        snapshot loaded): an instruction that was waiting for the Machine's
        answer to its I/O read (``pending_read``, ``io_replay``) -- such as
        the semihosting call that ended the guest -- belongs to the timeline
        left behind.  Forget it, so that the instruction at the PC asks
        again instead of taking that answer."""
        ops = self.ops
        ops.pending_read = None
        ops.io_pos = 0
        del ops.io_replay[:]

    def flush(self) -> None:
        """Forget every decoded instruction (the address mapping or RAM
        changed behind the core's back)."""
        for c in self.caches.values():
            c.clear()
        self.page_index.clear()

    def invalidate_page(self, page: int) -> None:
        """The guest wrote RAM page ``page`` (physical address >> 12, as RAM's
        invalidation listeners are told): forget the instructions decoded
        from it."""
        for cache, addr in self.page_index.pop(page, ()):
            cache.pop(addr, None)

    def remember_code(self, addr: int, first: int, last: int, length: int) -> None:
        """The instruction of ``length`` bytes just decoded at fetch address
        ``addr`` (in ``cache``) came from physical addresses ``first`` (its
        first byte) to ``last`` (its last, on another page where it crosses
        one that is not followed by the next physical page): mark its bytes
        as code in RAM, so that a write to one drops it
        (:meth:`invalidate_page`)."""
        ram = self.machine.ram
        if last - first == length - 1:
            spans = ((first, length),)
        else:
            head = min(PAGE_SIZE - (first & (PAGE_SIZE - 1)), length)
            spans = ((first, head), (last - (length - head) + 1, length - head))
        for pa, n in spans:
            if n and ram.contains(pa, n):
                ram.mark_code(pa, n)
                for page in range(pa >> PAGE_SHIFT, ((pa + n - 1) >> PAGE_SHIFT) + 1):
                    self.page_index.setdefault(page, []).append((self.cache, addr))

    # -- guest events -------------------------------------------------------------
    def deliver_fault(self, exc, insn) -> None:
        """Enter the handler of the exception ``exc``
        (:class:`emu.isa.ops.GuestException`) raised while fetching
        (``insn`` None) or running ``insn``; the PC is that of the faulting
        instruction.  Raises :class:`CpuShutdown` if it cannot be delivered."""
        raise NotImplementedError

    def interrupts_enabled(self) -> bool:
        """At an instruction boundary with the interrupt line raised: may the
        interrupt be taken here?  (x86: IF set and no interrupt shadow.)"""
        raise NotImplementedError

    def deliver_interrupt(self, vector: int) -> None:
        """Enter the handler of the external interrupt the controller
        acknowledged as ``vector``, returning to the PC."""
        raise NotImplementedError

    def boundary_served(self) -> None:
        """An instruction boundary that needed attention has been served
        (x86: an interrupt shadow, which covers one boundary, ends)."""
        raise NotImplementedError

    def stays_halted(self, irq_line: bool) -> bool:
        """A run starts with ``state.halted`` set: True if the CPU stays
        halted; an interrupt that wakes it (``irq_line``) ends the halt."""
        raise NotImplementedError

    def run_ended(self) -> None:
        """``run()`` is returning: settle what the loop keeps lazily (x86: an
        interrupt shadow left over from an older instruction)."""
        raise NotImplementedError

    def mark_source(self, exits, addr: int) -> None:
        """``-d exits``: the instruction at fetch address ``addr`` caused
        ``exits`` (:func:`emu.exits.mark_source`)."""
        raise NotImplementedError
