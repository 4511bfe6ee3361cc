"""The contract between the unicorn engine and an architecture's adapter.

The engine (:mod:`emu.accel.unicorn`) is generic, as QEMU's ``accel/tcg``
loop is: it owns the ``Uc`` objects and their lifetime, maps the Machine's
RAM into them (``mem_map_ptr``) and everything else as MMIO regions served
through ``Machine.dispatch_exit``, counts instructions (a block hook plus
the adapter's block decoder), honours budgets, stop requests, breakpoints
and single steps, and drops translated code when RAM changes behind it.
Everything that depends on the guest architecture is asked of an adapter,
one per engine, made by the board's Target
(``machine.target.unicorn_adapter(engine)``); ``emu/isa/x86/unicorn_adapter.py``
is x86's.  ``emu/isa/arm/unicorn_adapter.py`` is A32's (``UC_ARCH_ARM``, CPSR and
the banked registers, SVC and semihosting through the interrupt hook): the
same methods, the same engine.

**Engine modes.**  Unicorn opens an engine in one mode (``UC_MODE_16``,
``32`` or ``64`` for x86; ``ARM`` or ``THUMB`` for ARM) and its register API
is that mode's.  :meth:`mode_for` names the mode a canonical state needs,
:meth:`mode_needed` the mode unicorn's own CPU now needs; when they differ
after a block marked :data:`MAY_SWITCH` the engine carries the whole CPU
(``context_save``/``context_restore``) to an engine of the new mode.

**Register sync.**  :meth:`put_state` writes ``machine.cpu`` into
``engine.uc`` (QEMU: ``kvm_arch_put_registers``), :meth:`get_state` reads it
back (``cpu_synchronize_state``).  The engine calls them when
``machine.cpu`` was changed from outside and when the debugger or a device
needs the state; the adapter calls them around what kasou does itself.

**The interrupt hook.**  Unicorn calls ``UC_HOOK_INTR`` for every exception
and software interrupt and never delivers one.  The engine works out
whether unicorn stopped on the instruction (a fault) or after it (a trap)
and hands the number to :meth:`interrupt`, whose meaning is the
architecture's: x86 delivers INT n and faults through kasou's IVT/IDT code;
ARM would deliver SVC, undefined and abort exceptions to the vectors, or
serve a semihosting call.

**What kasou serves itself.**  Instructions unicorn only steps over (x86
SYSCALL/SYSENTER), cannot run (code outside RAM: unicorn cannot fetch from
MMIO regions) or has no semantics for are run by :meth:`serve` on kasou's
own semantics; an adapter asks for that from one of its instruction hooks
with ``engine.serve_after(pc)``.

**Outcomes.**  :meth:`interrupt`, :meth:`invalid_instruction` and
:meth:`deliver` return ``None`` (done: unicorn holds the new state and runs
on), an exit that ends the run, :data:`FRESH` (unicorn's CPU must not run on:
re-made with :meth:`refresh` before the next instruction) or
:data:`RECREATE` (the state in ``machine.cpu`` needs an engine of another
mode: a new one is made from it).

**What the engine offers an adapter** (the adapter is made with it and
keeps it as ``self.engine``): ``uc`` and ``uc_mode`` (the running engine),
``machine``, ``create(mode)`` (a new engine of that mode),
``put_state(fresh)``/``get_state()``, ``pc()``, ``stop(kind, pc, exit)``
(stop unicorn ``BEFORE`` or ``AFTER`` the instruction at ``pc``, the run
returning ``exit`` if given), ``serve_after(pc)``, ``port_read(port,
size)``/``port_write(port, size, value)`` (an I/O exit served at once),
``serve_exit(ex)`` (an MMIO or SEMIHOSTING exit served at once, returned
with its value), ``abandoned`` (after ``emu_start``: the address of the
instruction a hook stopped unicorn inside -- None in a free run, whose
hooks cannot tell it: the instruction unicorn stopped on, if any --
with the MMIO accesses, ``(address, is_write, value)`` in order, the
last the one it stopped in: the instruction's own, or in a free run the
last few of any instruction -- an engine that abandons the instruction there needs
them to complete it -- or None) and ``icount``.  Of the canonical state the runner itself touches only
``halted`` (set when unicorn stopped on the adapter's halt instruction,
cleared when an enabled interrupt arrives).

Every method here raises ``NotImplementedError``; an adapter overrides all
of them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: a mark of a translated block (:meth:`UnicornAdapter.decode_block`): the
#: block may change the engine mode the guest needs; the adapter's own marks
#: are the higher bits
MAY_SWITCH = 1

#: outcomes of delivery (see the module docstring)
FRESH = "fresh"
RECREATE = "recreate"

#: how an engine stop is recorded: after or before the instruction at an address
AFTER = "after"
BEFORE = "before"


@dataclass
class BareRun:
    """A Target's ``unicorn_bare`` run (``emu bench``'s ``unicorn-bare``):
    what the guest printed, its exit status (None: it stopped elsewhere),
    the seconds inside ``emu_start`` and how it ended: "debug-exit",
    "halt" or "stopped"."""
    output: bytes
    status: int | None
    seconds: float
    how: str


class AdapterUnavailable(Exception):
    """This unicorn cannot run the architecture (one line: why)."""


class UnicornAdapter:
    """The interface; ``emu/isa/<arch>/unicorn_adapter.py`` subclasses it once."""

    #: unicorn's ``UC_ARCH_*`` for this architecture
    uc_arch: int = 0
    #: the adapter answers :meth:`trap_before` and :meth:`halted_before`, so
    #: the engine may run free (no block hook, no count; see emu.accel.unicorn)
    FREE_RUN: bool = False
    #: :meth:`settle` completes an instruction unicorn abandoned inside an
    #: MMIO access (``abandoned``), so the engine may stop there for its own
    #: reasons (a free run's slice is over, an interrupt line noticed late);
    #: otherwise it stops at the next port access instead: stopped inside an
    #: access, unicorn runs the instruction again and repeats the access
    COMPLETES_ABANDONED: bool = False
    #: the end of the physical address space: everything from RAM's end to
    #: here is MMIO
    phys_end: int = 1 << 32

    def __init__(self, engine):
        self.engine = engine

    # -- engines ---------------------------------------------------------------------
    def mode_for(self, state) -> int:
        """The ``UC_MODE_*`` of an engine that can hold ``state``."""
        raise NotImplementedError

    def mode_needed(self) -> int:
        """The ``UC_MODE_*`` unicorn's own CPU (``engine.uc``) needs now."""
        raise NotImplementedError

    def configure(self, uc) -> None:
        """Called on a new ``Uc`` before anything else (CPU model...)."""
        raise NotImplementedError

    def engine_created(self, uc, mode: int) -> None:
        """``uc`` is the new running engine, RAM and MMIO mapped: add the
        architecture's hooks (port I/O, instructions kasou serves)."""
        raise NotImplementedError

    def before_unmap(self, uc) -> None:
        """RAM is about to be unmapped from ``uc``."""
        raise NotImplementedError

    def close(self) -> None:
        """The engine is closed: drop what the adapter made."""
        raise NotImplementedError

    # -- state -----------------------------------------------------------------------
    def put_state(self, fresh: bool = False) -> None:
        """machine.cpu -> unicorn (making an engine of the right mode);
        ``fresh``: starting from a CPU that never faulted."""
        raise NotImplementedError

    def get_state(self) -> None:
        """unicorn -> machine.cpu."""
        raise NotImplementedError

    def refresh(self) -> None:
        """After :data:`FRESH`: replace unicorn's CPU by one that never
        faulted, holding the same state."""
        raise NotImplementedError

    def pc(self) -> int:
        """The address (as breakpoints and blocks name it) of unicorn's next instruction."""
        raise NotImplementedError

    def start_address(self) -> int:
        """What ``emu_start`` takes to resume at unicorn's current PC."""
        raise NotImplementedError

    def exit_cs(self) -> int | None:
        """The code segment to record with an I/O exit's PC (None: the PC alone)."""
        raise NotImplementedError

    # -- blocks ----------------------------------------------------------------------
    def decode_block(self, uc, addr: int, size: int) -> tuple:
        """(addresses of the instructions of the block unicorn enters at
        ``addr``, ``size`` bytes, marks)."""
        raise NotImplementedError

    def extra_entry(self, uc, addr: int, size: int) -> bool:
        """Is this block entry not an instruction (x86: the entry that finds
        a REP's count zero)?  Asked only when the block starts at the last
        instruction of the block before (a re-entry)."""
        raise NotImplementedError

    def block_marks(self, marks: int) -> None:
        """A block with the adapter's own ``marks`` was entered."""
        raise NotImplementedError

    def marked_block_left(self) -> None:
        """The block after one with the adapter's marks was entered."""
        raise NotImplementedError

    def is_halt(self, code: bytes) -> bool:
        """Does ``code`` start with the instruction that halts (HLT, WFI)?"""
        raise NotImplementedError

    def halted_before(self, pc: int) -> bool:
        """(Free runs: no block was seen.)  Unicorn stopped at ``pc`` on its
        own: is the instruction that ends at ``pc`` the halting one?"""
        raise NotImplementedError

    def trap_before(self, pc: int, intno: int):
        """(Free runs.)  The interrupt hook reported ``intno`` at ``pc``:
        the address of the software-interrupt instruction that ends at
        ``pc`` and raises ``intno`` (a trap), or None (a fault at ``pc``)."""
        raise NotImplementedError

    # -- stops -----------------------------------------------------------------------
    def stopped(self) -> None:
        """``emu_start`` returned (before the engine mode is checked; a
        marked block may have been the last)."""
        raise NotImplementedError

    def settle(self, err, store_stop, extra: bool) -> tuple | None:
        """After ``emu_start`` (``err``: its UcError or None), fix up what
        unicorn left mid-way; ``store_stop`` is (address, next instruction's)
        of an MMIO store after which a device asked to stop, ``extra`` says
        the last block entry was no instruction (:meth:`extra_entry`).
        Returns a fault to deliver on the instruction, (vector, pc), or None."""
        raise NotImplementedError

    # -- interrupts and kasou's own semantics ----------------------------------------
    def interrupt(self, intno: int, pc: int, fault: bool, trap_at):
        """``UC_HOOK_INTR`` with ``intno``: ``fault`` if unicorn stopped on
        the instruction at ``pc``; else ``pc`` is the next one and
        ``trap_at`` the trapping one.  Returns an outcome."""
        raise NotImplementedError

    def deliver(self, vector: int, pc: int, fault: bool, trap_at=None):
        """Deliver ``vector`` raised at ``pc`` with kasou's code; an outcome."""
        raise NotImplementedError

    def invalid_instruction(self, pc: int):
        """Unicorn has no semantics for the instruction at ``pc``: an outcome."""
        raise NotImplementedError

    def serve(self, pc: int):
        """Run the instruction at ``pc`` on kasou's semantics; None or an exit."""
        raise NotImplementedError

    def take_irq(self, vector: int):
        """Deliver the external interrupt ``vector`` (machine.cpu is current):
        None, or the exit that ends the run when the delivery itself could
        not be completed (x86: a triple fault is a SHUTDOWN exit)."""
        raise NotImplementedError

    def irq_enabled(self, state) -> bool:
        """May an external interrupt be taken (EFLAGS.IF, CPSR.I clear)?
        ``state``: machine.cpu, or None for unicorn's CPU."""
        raise NotImplementedError

    def wakes(self, state) -> bool:
        """Does a pending interrupt end the halt of ``state`` (machine.cpu)?
        (x86 HLT: only if EFLAGS.IF lets it in; Arm WFI: always.)"""
        raise NotImplementedError

    def irq_shadow(self, state) -> bool:
        """Is the next instruction in an interrupt shadow (x86 STI, MOV SS)?"""
        raise NotImplementedError

    def retired(self, tb: tuple, pc: int) -> None:
        """Instructions of the block ``tb`` retired up to ``pc`` (to note a shadow)."""
        raise NotImplementedError

    def stats(self) -> dict:
        """The adapter's counters for ``emu bench``."""
        raise NotImplementedError
