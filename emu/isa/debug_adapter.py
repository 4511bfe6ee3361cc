"""The debug adapter contract: what the debugger and the gdb stub may ask
about a guest architecture (``Target.debug_adapter``).

The debugger (:mod:`emu.debug.session`, :mod:`emu.debug.repl`) is a generic
step / continue / watch / reverse engine, and the gdb stub
(:mod:`emu.debug.gdbstub`) a generic remote-protocol server: neither knows
a register, an instruction or a stack layout.  They ask the adapter that
the board's Target gives for a Machine, as gdb's ``gdbarch`` answers for
its generic ``infrun``/``frame``/``remote`` code (GDB Internals, "Adding a
New Target"; QEMU's ``CPUClass.gdb_read_register``/``gdb_core_xml_file``).

An adapter provides:

* **registers** -- :meth:`registers` (the set ``info registers`` shows and
  a stop's register diff compares, at the CPU's current width),
  :meth:`get_register` / :meth:`set_register` (any name the architecture
  has, ``$pc`` included), :meth:`word_size` (the width of the current
  mode's registers and pointers), :meth:`describe_register` (the flags
  register by flag name) and ``pc_names`` (the register that holds the
  PC, which ``info registers`` annotates with its location);
  ``derived_fields``/``lazy_fields`` tell the recorder how a state's fields
  compare (see :func:`emu.debug.session.cpu_changes`).  Register names come
  from the Target's ``reg_names`` table;
* **memory** -- :meth:`translate`: a linear address to a physical one
  through the guest's page tables without side effects, at ``page_size``
  granularity; ``segmented_address``: what ``SEG:OFF`` in an expression
  means (x86's real-mode segment:offset), or None where there is none;
* **code** -- :meth:`decode` (one instruction, an object with ``length``),
  :meth:`format_insn`, :meth:`is_call` (what ``next``/``nexti``/``until``
  run whole: x86's CALL and INT, ARM's BL/BLX), :meth:`waits_for_interrupt`
  (HLT, WFI: a step never holds an interrupt back from it),
  :meth:`interrupts_enabled`, :meth:`privilege`;
* **watchpoints** -- :meth:`memory_operands`: the bytes the next instruction
  reads or writes, for read and access watchpoints;
* **frames** -- :meth:`stack_pointer`, :meth:`frames` (the backtrace: x86
  by return addresses and the BP chain, ARM by LR and the prologues that
  save it), ``returns_through_link`` and
  :meth:`frame_setup` (the instructions of a function's frame setup that
  ``step`` runs on entering it, as gdb's prologue analysis skips them);
* **gdb** -- :meth:`gdb_arch` (the architecture named in the target
  description for the CPU's current mode), :meth:`gdb_registers` (the
  ``g`` packet's layout, in remote register number order),
  :meth:`gdb_target_xml` (``qXfer:features:read:target.xml``) and
  ``gdb_placeholders`` (registers in the layout the model does not hold:
  they read as zero and writes to them are ignored).

Every method raises ``NotImplementedError`` here; an architecture's
adapter (``emu/isa/<arch>/debug_adapter.py``) overrides them all.  Bad
input (an unknown register, an unmapped address, undecodable bytes) is a
:class:`DebugError` with a one-line message for the user.
"""

from __future__ import annotations


class DebugError(Exception):
    """Bad input to a debugger command (one line, shown to the user)."""


class DebugAdapter:
    """The interface; one subclass per architecture, one instance per Machine."""

    #: names under which the register holding the PC is shown
    pc_names: tuple = ()
    #: state fields that another field derives from (never compared alone)
    lazy_fields: tuple = ()
    #: properties of the state compared and restored as one value
    derived_fields: tuple = ()
    #: granularity of :meth:`translate`
    page_size: int = 0x1000
    #: gdb layout registers the model does not hold (read 0, writes ignored)
    gdb_placeholders: frozenset = frozenset()
    #: ``(seg, off) -> linear address`` for ``SEG:OFF`` expressions, or None
    segmented_address = None
    #: a call leaves its return address in a register (ARM's LR), so a
    #: function that saves none returns without moving the stack pointer:
    #: it has returned when the stack pointer is above its slot *and* the PC
    #: is at its return address (False: the stack pointer alone tells, as a
    #: return pops the slot, x86's RET)
    returns_through_link = False

    def __init__(self, target, machine):
        self.target = target
        self.machine = machine

    # -- registers -------------------------------------------------------------------
    def registers(self, state) -> dict:
        """{name: value} of the registers shown by ``info registers`` and
        compared after each stop, at the current mode's width."""
        raise NotImplementedError

    def get_register(self, state, name: str) -> int:
        """The value of ``$name`` (``pc``: the linear address of the next
        instruction); DebugError if the architecture has no such register."""
        raise NotImplementedError

    def set_register(self, state, name: str, value: int) -> None:
        """``$name = value`` in ``state``; DebugError if unknown or not
        writable from the debugger."""
        raise NotImplementedError

    def word_size(self, state) -> int:
        """Bytes in a register/pointer of the CPU's current mode."""
        raise NotImplementedError

    def describe_register(self, name: str, value: int) -> str | None:
        """A register's value decoded (the flags by name, without brackets),
        or None for a plain number."""
        raise NotImplementedError

    # -- memory ----------------------------------------------------------------------
    def translate(self, state, addr: int) -> int | None:
        """Linear ``addr`` to physical (itself with translation off), without
        side effects; None if the guest's tables do not map it."""
        raise NotImplementedError

    # -- code ------------------------------------------------------------------------
    def decode(self, state, code: bytes, lin: int):
        """The instruction whose bytes start ``code``, fetched from linear
        ``lin`` in the CPU's current mode; DebugError if they do not decode."""
        raise NotImplementedError

    def format_insn(self, insn) -> str:
        raise NotImplementedError

    def is_call(self, insn) -> bool:
        """``insn`` calls a routine that returns after it (run whole by next)."""
        raise NotImplementedError

    def waits_for_interrupt(self, insn) -> bool:
        raise NotImplementedError

    def interrupts_enabled(self, state) -> bool:
        raise NotImplementedError

    def privilege(self, state) -> int:
        raise NotImplementedError

    def memory_operands(self, state, insn) -> list:
        """[(linear address, size, access)] of ``insn``'s memory operands
        (``insn`` decoded at the PC of ``state``); access is "r", "w" or "rw"."""
        raise NotImplementedError

    # -- frames ----------------------------------------------------------------------
    def stack_pointer(self, state) -> int:
        """The linear address the stack pointer names."""
        raise NotImplementedError

    def frames(self, view, limit: int) -> list:
        """[(pc, slot)] from the innermost frame: its PC and the linear address
        where its return address is kept (None: the outermost), a stack slot
        that the return pops (``finish`` stops once the stack pointer is
        above it).  ``view``
        reads the guest as the debugger does: ``view.cpu``, ``view.pc()``,
        ``view.read_memory(addr, n)`` and ``view.decode(lin)``."""
        raise NotImplementedError

    def frame_setup(self, view, source: str) -> int:
        """How many instructions at the PC (a function's entry, in source
        file ``source``) set up its frame, for ``step`` to run on entering."""
        raise NotImplementedError

    # -- gdb -------------------------------------------------------------------------
    def gdb_arch(self, state) -> str:
        raise NotImplementedError

    def gdb_registers(self, arch: str) -> list:
        """[(name, bytes, tdesc type, feature)] in remote register number order."""
        raise NotImplementedError

    def gdb_target_xml(self, arch: str) -> str:
        raise NotImplementedError
