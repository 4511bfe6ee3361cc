"""The ARM Core (:class:`emu.isa.core.Core`): A32 and T16 on the generic
interpreter loop.

* Code is keyed by the address of the instruction (no segments:
  ``fetch_base`` is 0) in two caches, ARM state and Thumb state (CPSR.T
  decides how the bytes at the PC decode, ARM ARM A2.5).
* A cache entry wraps the decoded instruction: running it checks its
  condition (A8.3, by table) with the PC already advanced past it, then
  runs the semantics, bound to the instruction's fields and address where
  the encoding has a binder (``semantics.BINDERS``: r15 reads as the
  instruction + 8, + 4 in Thumb, A2.3, as constants), else the registry's
  function with the Ops pointed at the instruction.
* Memory: RAM directly (read and written in place unless the granule
  holds code); any other address is the board's MMIO, through
  the interpreter's exit protocol -- a store becomes an MMIO exit after the
  instruction, a load ends the run with an MMIO read whose value is
  replayed when the instruction runs again.  Code outside RAM is read from
  the bus (all ones where nothing is mapped), as on x86.
* Faults (undefined instruction, aborts, SVC) enter the vector table
  (:func:`emu.isa.arm.exceptions.enter_exception`).  The IRQ input is
  taken between instructions unless CPSR.I masks it; the board's interrupt
  controller (the virt board's GIC) gives no vector: the guest reads the
  interrupt's ID from the GIC itself.
* WFI halts the CPU: an HLT exit, and the board decides when an interrupt
  wakes it (WFI wakes on a pending interrupt even while CPSR.I masks it,
  B1.8.13).
* Arm semihosting (``-semihosting``: ``SVC 0x123456``, ``BKPT 0xAB``) ends
  the run with a SEMIHOSTING exit that the Machine serves; its result is
  replayed into r0 when the instruction runs again, as an MMIO read's
  value is.
"""

from __future__ import annotations

import struct

from ...exits import HltExit, MmioExit, SemihostingExit, mark_source
from ...memory import GRANULE_SHIFT
from ..core import Core
from ..ops import GuestException, IoPending
from .exceptions import IRQ_EXC, PABT, UNDEF, enter_exception
from .ops import ArmOps
from .semantics import BINDERS, BINDS_CONDITION, CONDITION_TABLE, REGISTRY
from .state import I_BIT, T_BIT
from .thumb import ArmDecoder, fetch_thumb

#: the value of an access of 1, 2, 4 bytes; its struct (little-endian)
SIZE_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}
UNPACK = {n: struct.Struct("<" + c) for n, c in ((1, "B"), (2, "H"), (4, "I"))}


class ArmConcreteOps(ArmOps):
    """ArmOps over the Machine's RAM and MMIO bus, with the interpreter's
    exit protocol (``pending_exits``, ``pending_read``, ``io_replay``,
    ``io_pos``; :mod:`emu.isa.core`).  No MMU: addresses are 32-bit
    physical ones (``amask``, and no ``translate``, as the translator reads
    them)."""

    amask = 0xFFFFFFFF
    translate = None

    def __init__(self, state, model, ram, mmio):
        super().__init__(state, model, self._read, self._write)
        self.ram = ram
        self.ram_base, self.ram_size, self.ram_mm = ram.base, ram.size, ram.mm
        self.mmio = mmio
        self.pending_exits = []
        self.pending_read = None
        self.io_replay = []
        self.io_pos = 0
        self.trace_int = None
        self.semihosting = None      # set by the core when the board serves semihosting
        self.on_state_change = None  # the core: CPSR.T changed (the other decoder's cache)
        #: a device access served at once, from the interpreter (a read of an
        #: instruction that reads once, a write while no exit is queued) or
        #: from translated code (the core sets them): address -> serve(size,
        #: value), the value read (0 for a write), or -1: not served (the
        #: machine's quiet servers, :meth:`emu.machine.Machine._quiet_server`);
        #: None: none
        self.mmio_reads = None
        self.mmio_writes = None

    def load(self, addr: int, size: int) -> int:
        """ArmOps.load with RAM read in place (the hot path of every load)."""
        addr &= 0xFFFFFFFF
        a = addr - self.ram_base
        if 0 <= a <= self.ram_size - size:
            return UNPACK[size].unpack_from(self.ram_mm, a)[0]
        return self._read(addr, size)

    def store(self, addr: int, size: int, v: int) -> None:
        """ArmOps.store with RAM written in place, unless it writes a byte
        of code (RAM then drops the code decoded from its page)."""
        addr &= 0xFFFFFFFF
        v &= SIZE_MASK[size]
        a = addr - self.ram_base
        if 0 <= a <= self.ram_size - size:
            cm = self.ram.code_map
            if not (cm[a >> GRANULE_SHIFT] or cm[(a + size - 1) >> GRANULE_SHIFT]) \
                    or not self.ram.holds_code(a, size):
                UNPACK[size].pack_into(self.ram_mm, a, v)
                return
        self._write(addr, size, v)

    def _replayed(self):
        """The value the Machine gave the access this instruction is at, or
        None (the run must end to ask for it)."""
        if self.io_pos < len(self.io_replay):
            v = self.io_replay[self.io_pos]
            self.io_pos += 1
            return v
        return None

    def _read(self, addr: int, size: int) -> int:
        ram = self.ram
        if ram.contains(addr, size):
            return ram.read(addr, size)
        v = self._replayed()
        if v is not None:
            return v
        if self.mmio_reads is not None and getattr(self.insn, "one_read", False):
            # the device may take it now (a UART's flag register polled):
            # only for an instruction that reads once, which an exit after
            # this read can never make read it again
            v = self.mmio_reads[addr](size, 0)
            if v >= 0:
                return v
        self.pending_read = MmioExit(addr, size, False)
        raise IoPending()

    def _write(self, addr: int, size: int, value: int) -> None:
        ram = self.ram
        if ram.contains(addr, size):
            ram.write(addr, size, value)
        elif (self.mmio_writes is None or self.pending_exits
              or self.mmio_writes[addr](size, value) < 0):
            # an exit after the instruction -- unless the device takes the
            # write quietly now (a UART's transmit: no exit per character),
            # which keeps the order only while no earlier write is queued
            self.pending_exits.append(MmioExit(addr, size, True, value))

    def fetch(self, addr: int, size: int) -> int:
        """Instruction bytes: from RAM, or read from the bus where no RAM is
        (all ones where nothing is mapped), as QEMU executes from MMIO --
        not an exit: a fetch is not an access the guest's program makes."""
        ram = self.ram
        if ram.contains(addr, size):
            return ram.read(addr, size)
        return self.mmio.read(addr, size)

    def semihost(self, ops) -> None:
        """The semihosting trap: the Machine serves the call; r0 gets its result."""
        r = self.s.r
        v = self._replayed()
        if v is None:
            self.pending_read = SemihostingExit(r[0], r[1])
            raise IoPending()
        r[0] = v & 0xFFFFFFFF


#: the encodings that make exactly one data read (``CoreInsn.one_read``):
#: a device may serve theirs at once (``ArmConcreteOps.mmio_reads``) --
#: of an instruction reading twice, the first read could be made again
#: when the second ends the run with an exit and the instruction restarts
ONE_READ = frozenset(("LDR_imm", "LDR_reg", "LDRB_imm", "LDRB_reg", "LDRH_imm", "LDRH_reg",
                      "LDRSB_imm", "LDRSB_reg", "LDRSH_imm", "LDRSH_reg", "LDREX", "LDREXB",
                      "LDREXH", "T_LDR_lit", "SWP", "SWPB"))


class CoreInsn:
    """A decoded instruction as the generic loop sees it (``ip``,
    ``next_ip``, ``handler``); ``insn`` is the A32 Insn it runs.

    ``handler`` is made once, when the instruction is decoded: the
    semantics bound to the instruction's fields and address where the
    encoding has a binder (:data:`emu.isa.arm.semantics.BINDERS`), else the
    registry's function; wrapped in the condition check unless the
    condition is AL, and in the checks for a change to Thumb state or a
    halt where the instruction can make one."""

    __slots__ = ("ip", "next_ip", "insn", "pc_read", "handler", "run", "one_read")

    #: no A32/T32 instruction repeats inside one step (emu.isa.core)
    repeats = False

    def __init__(self, insn, ip: int, thumb: bool, model):
        self.insn = insn
        self.ip = ip
        self.next_ip = (ip + insn.size) & 0xFFFFFFFF
        self.pc_read = 4 if thumb else 8
        self.handler = self.run = _make_handler(insn, ip, thumb, model)
        self.one_read = insn.name in ONE_READ

    @property
    def name(self) -> str:
        return self.insn.name

    @property
    def length(self) -> int:
        return self.insn.size

    def __repr__(self) -> str:
        from .disasm import format_insn
        return ("(t16) " if self.pc_read == 4 else "") + format_insn(self.insn)


def _make_handler(insn, ip: int, thumb: bool, model):
    """``handler(ops, w)`` of the instruction ``insn`` at ``ip``."""
    binder = BINDERS.get(insn.name)
    run = binder(insn, model, ip, thumb) if binder is not None else None
    # a bound data-processing or load instruction changes state only by
    # writing the PC; B and BL never do
    plain = run is not None and (insn.name in ("B", "BL") or not _writes_pc(insn))
    if run is None:
        fn = insn.handler or REGISTRY.get(insn.name)
        size = insn.size
        pc_read = 4 if thumb else 8
        if fn is None:
            detail = f"no semantics for {insn.name}"

            def run(ops, w):
                raise GuestException(UNDEF, None, detail)
        else:
            def run(ops, w):
                ops.insn_addr = ip
                ops.insn_size = size
                ops.pc_read = pc_read
                fn(ops, insn)
    passes = CONDITION_TABLE[insn.cond]
    if plain:
        if insn.cond == 0xE or insn.name in BINDS_CONDITION:
            return run

        def conditional(ops, w):
            if passes[ops.s.cpsr >> 28]:
                run(ops, w)
        return conditional

    def checked(ops, w):
        s = ops.s
        before = s.cpsr
        if not passes[before >> 28]:
            return
        run(ops, w)
        if (s.cpsr ^ before) & T_BIT:     # BX, BLX, an exception return: the other state
            ops.on_state_change()
        if s.halted:                     # WFI
            ops.pending_exits.append(HltExit())
    return checked


def _writes_pc(insn) -> bool:
    """Can the bound instruction write r15 (a load, ALU result or writeback
    into the PC, an exception return)?"""
    if insn.name in ("LDM", "STM"):
        return bool(insn.regs >> 15 & 1) or not insn.regs or insn.rn == 15 or bool(insn.user)
    return insn.rd == 15 or insn.rt == 15 or insn.rn == 15


class ArmCore(Core):
    def __init__(self, machine):
        super().__init__(machine)
        self.model = machine.model
        self.decoder = ArmDecoder(self.model, REGISTRY)
        self.ops = ArmConcreteOps(self.s, self.model, machine.ram, machine.mmio)
        self.ops.mmio_reads = getattr(machine, "quiet_mmio_reads", None)
        self.ops.mmio_writes = getattr(machine, "quiet_mmio_writes", None)
        if machine.semihosting is not None:
            self.ops.semihosting = self.ops.semihost
        self.ops.on_state_change = self.state_changed
        self.caches = {False: {}, True: {}}
        self.pc_slot = (self.s.r, 15)      # the loop's PC without the property (emu.isa.core)
        machine.ram.add_invalidation_listener(self.invalidate_page)
        self.state_changed()

    # -- code -------------------------------------------------------------------------
    def state_changed(self) -> None:
        self.cache = self.caches[self.s.thumb]

    def decode_at(self, addr: int, pc: int):
        s = self.s
        ops = self.ops
        thumb = s.thumb
        if thumb:
            insn = fetch_thumb(ops.fetch, pc, self.model.arch, self.decoder.thumb())
        else:
            insn = self.decoder.decode_word(ops.fetch(pc & ~3, 4), pc)
        w = CoreInsn(insn, pc, thumb, self.model)
        self.remember_code(addr, pc, pc + insn.size - 1, insn.size)
        self.cache[addr] = w
        return w

    # -- guest events ---------------------------------------------------------------------
    def deliver_fault(self, exc, insn) -> None:
        s = self.s
        if insn is None:
            vector = PABT if exc.vector == 4 else exc.vector
            enter_exception(s, self.model, vector, s.pc)
        else:
            enter_exception(s, self.model, exc.vector, insn.ip, insn.insn.size)
        self.state_changed()

    def interrupts_enabled(self) -> bool:
        return not self.s.cpsr & I_BIT

    def deliver_interrupt(self, vector: int) -> None:
        s = self.s
        s.halted = False
        enter_exception(s, self.model, IRQ_EXC, s.pc)
        self.state_changed()
        if self.ops.trace_int is not None:
            self.ops.trace_int(IRQ_EXC, s.r[14], None)

    def boundary_served(self) -> None:
        self.state_changed()

    def stays_halted(self, irq_line: bool) -> bool:
        s = self.s
        if not s.halted:
            return False
        if irq_line:                 # WFI wakes on a pending interrupt, masked or not
            s.halted = False
            return False
        return True

    def run_ended(self) -> None:
        self.state_changed()

    def mark_source(self, exits, addr: int) -> None:
        mark_source(exits, addr, None)
