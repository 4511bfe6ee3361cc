"""A32 on the unicorn engine: the adapter (:mod:`emu.isa.unicorn_adapter`)
between the generic runner (:mod:`emu.accel.unicorn`) and unicorn's ARM CPU.

What is modelled, and how it maps onto unicorn 2's ARM (QEMU's
``target/arm``):

* **CPU model** ``UC_CPU_ARM_CORTEX_A15`` for ``-cpu cortex-a15``.  Unicorn
  has no ARMv4T core (its oldest, the ARM926, is ARMv5TE: CLZ, BLX, LDRD and
  BKPT decode there and are undefined on the ARM7TDMI), so ``-cpu arm7tdmi``
  is refused in one line rather than run as another architecture.
* **One engine.**  ``UC_MODE_ARM`` only: unicorn's ARM CPU changes between
  ARM and Thumb state by itself (BX, exception return), and a start address
  with bit 0 set starts it in Thumb state (:meth:`start_address`).  Block
  boundaries need no disassembler: A32 instructions are four bytes, T16 two
  and a 32-bit Thumb instruction starts with 0b11101, 0b11110 or 0b11111
  (ARM DDI 0406C A6.1).
* **Registers** (ARM DDI 0406C B1.3): r0-r15, the CPSR, and every banked
  copy -- r8-r14 of the user and FIQ banks, r13-r14 of SVC, ABT, IRQ and
  UND -- with the SPSR of each exception mode.  Unicorn's register API shows
  only the current mode's registers, so :meth:`put_state` and
  :meth:`get_state` visit each mode in turn (a CPSR write with another mode
  switches banks, as an MSR does) and return to the current one.  SCTLR and
  VBAR (B4.1.130, B4.1.156) go through unicorn's coprocessor register
  access.  The local exclusive monitor (LDREX/STREX) is unicorn's own and
  is not carried over.
* **MMIO** (the PL011, the GIC): everything outside RAM below 4 GiB is one
  MMIO region of the runner, served through ``Machine.dispatch_exit`` as
  the access happens.  When a device asks to stop the run (or the GIC
  raises an interrupt the CPU can take) during an access, unicorn abandons
  the instruction right after the access, registers as before it (measured:
  a post-indexed STR or an LDM keeps its base, a load its destination):
  running it again would repeat the access.  :meth:`settle` completes it on
  kasou's semantics instead, giving the accesses already served their
  values again, as the interpreter replays an MMIO read.  Which accesses
  were the instruction's is found by a dry run of it (its own MMIO
  accesses, in order, matched against the last ones served): in a free
  run unicorn's PC in a hook is that of an earlier block, so the
  accesses name no instruction (an STM or STRD whose second store raised
  the IRQ ran twice so, its first store repeated).
* **Exceptions.**  Unicorn calls the interrupt hook for SVC (PC past it)
  and BKPT (PC on it) and reports an undefined instruction as
  ``UC_ERR_INSN_INVALID``; it never takes an exception itself.  kasou runs
  the instruction on its own semantics (:mod:`emu.isa.arm.step`): an SVC,
  a BKPT or an undefined instruction enters its vector through the vector
  table (:mod:`emu.isa.arm.exceptions`), exactly as on the interpreter, and
  the new state goes back into unicorn.  With ``-semihosting``, ``SVC
  0x123456`` (``SVC 0xAB`` in Thumb state) and ``BKPT 0xAB`` are served
  there instead: a SEMIHOSTING exit dispatched at once through the Machine,
  its result in r0.
* **Free runs** (:mod:`emu.accel.unicorn`: no block hook, no count, unless
  a feature needs exact counts): the adapter answers what the runner asks
  once unicorn has stopped without a block seen -- whether an SVC or BKPT
  ends at the PC the interrupt hook saw (:meth:`trap_before`) and whether
  the instruction before it was a WFI that passed its condition
  (:meth:`halted_before`).  The PL011's accesses are MMIO exits as when
  counting; the Arm guests' output, status and exits are the same either
  way (tests/differential/test_arm_qemu.py).
* **IRQ.**  The GIC's output is the runner's ``irq_line``; the IRQ
  exception is entered with kasou's code between instructions unless CPSR.I
  masks it (B1.8.6).  **WFI** ends the run as HLT; a pending interrupt wakes
  it even while CPSR.I masks it (B1.8.13), as on the interpreter.

Deliberate deviations and known limits:

* Unicorn runs Thumb-2 and the CP15 operations kasou does not model (cache
  maintenance, the debug coprocessor); the interpreter refuses the former
  and takes them as undefined instructions.
* A stop requested from outside (a signal) lands between instructions, or,
  if it lands during an MMIO access, repeats that access.
"""

from __future__ import annotations

import unicorn as uc_mod
from unicorn import arm_const as A

from ...exits import InternalErrorExit, MmioExit, SemihostingExit
from ..ops import Unsupported
from ..unicorn_adapter import FRESH, AdapterUnavailable, UnicornAdapter
from .exceptions import IRQ_EXC, enter_exception
from .ops import ArmOps
from .semantics import condition_passed
from .state import ABT, F_BIT, FIQ, I_BIT, IRQ, MODE_NAMES, SPSR_MODES, SVC, SYS, T_BIT, UND
from .step import step

#: kasou's CPU model -> unicorn's
CPU_MODELS = {"cortex-a15": A.UC_CPU_ARM_CORTEX_A15}

#: r0-r15 in unicorn's numbering
REGS = tuple(A.UC_ARM_REG_R0 + k for k in range(13)) + (A.UC_ARM_REG_SP, A.UC_ARM_REG_LR,
                                                         A.UC_ARM_REG_PC)
#: unicorn's exception numbers (QEMU target/arm/cpu.h EXCP_*) that kasou
#: runs on its own semantics: undefined, SVC, prefetch and data abort, BKPT
EXCP_UDEF, EXCP_SWI, EXCP_PREFETCH_ABORT, EXCP_DATA_ABORT, EXCP_BKPT = 1, 2, 3, 4, 7
KASOU_RUNS = (EXCP_UDEF, EXCP_SWI, EXCP_PREFETCH_ABORT, EXCP_DATA_ABORT, EXCP_BKPT)

#: a CPSR that visits a bank: that mode, interrupts masked, ARM state
_VISIT = I_BIT | F_BIT
#: CP15 registers carried both ways: (state attribute, (coproc, is64, sec, CRn, CRm, opc1, opc2))
CP15 = (("sctlr", (15, 0, 0, 1, 0, 0, 0)), ("vbar", (15, 0, 0, 12, 0, 0, 0)))
#: WFI: A32 (any condition) and T16 (A8.8.425)
WFI_A32, WFI_T16 = 0x0320F003, 0xBF30


def _thumb32(hw: int) -> bool:
    """Is ``hw`` the first halfword of a 32-bit Thumb instruction (A6.1)?"""
    return hw >> 11 in (0b11101, 0b11110, 0b11111)


class ArmUnicornAdapter(UnicornAdapter):
    uc_arch = uc_mod.UC_ARCH_ARM
    FREE_RUN = True
    COMPLETES_ABANDONED = True
    phys_end = 1 << 32

    def __init__(self, engine):
        super().__init__(engine)
        m = engine.machine
        self.machine = m
        if m.model.name not in CPU_MODELS:
            raise AdapterUnavailable(
                f"-cpu {m.model.name} is not modelled by -accel unicorn: unicorn has no ARMv4T "
                f"core (its oldest, the ARM926, is ARMv5TE); it runs -cpu "
                f"{', '.join(CPU_MODELS)}")
        self._ops = None
        self._decoder = None
        self._replay = []            # values of accesses served before unicorn abandoned an insn
        self._semihosted = None      # the semihosting call of the instruction kasou runs
        self._code = 0               # the address of the instruction kasou runs
        self.served = 0              # instructions run on kasou's semantics

    # -- engines ---------------------------------------------------------------------------
    def mode_for(self, state) -> int:
        return uc_mod.UC_MODE_ARM

    def mode_needed(self) -> int:
        return uc_mod.UC_MODE_ARM

    def configure(self, uc) -> None:
        uc.ctl_set_cpu_model(CPU_MODELS[self.machine.model.name])

    def engine_created(self, uc, mode: int) -> None:
        pass

    def before_unmap(self, uc) -> None:
        pass

    def close(self) -> None:
        pass

    # -- state -----------------------------------------------------------------------------
    def put_state(self, fresh: bool = False) -> None:
        engine = self.engine
        if engine.uc is None:
            engine.create(uc_mod.UC_MODE_ARM)
        uc = engine.uc
        s = self.machine.cpu
        w = uc.reg_write
        banks = s.snapshot_banks()
        for mode, regs in self._bank_views(banks):
            w(A.UC_ARM_REG_CPSR, mode | _VISIT)
            for rid, v in zip(REGS[15 - len(regs):15], regs):
                w(rid, v)
            if mode in SPSR_MODES:
                w(A.UC_ARM_REG_SPSR, s.spsr[mode])
        w(A.UC_ARM_REG_CPSR, s.cpsr)
        for rid, v in zip(REGS[:15], s.r):
            w(rid, v)
        w(A.UC_ARM_REG_PC, s.pc | (1 if s.cpsr & T_BIT else 0))
        for name, reg in CP15:
            w(A.UC_ARM_REG_CP_REG, reg + (getattr(s, name),))

    @staticmethod
    def _bank_views(banks: dict):
        """(mode, registers from r8 or r13 to r14) of every bank."""
        yield SYS, banks["R"][8:15]
        yield FIQ, banks["R_fiq"]
        for mode in (SVC, ABT, IRQ, UND):
            yield mode, banks["R_" + MODE_NAMES[mode]]

    def get_state(self) -> None:
        uc = self.engine.uc
        s = self.machine.cpu
        r = uc.reg_read
        cpsr = r(A.UC_ARM_REG_CPSR)
        visible = [r(rid) for rid in REGS]
        banks = {}
        for mode, regs in self._bank_views(s.snapshot_banks()):
            uc.reg_write(A.UC_ARM_REG_CPSR, mode | _VISIT)
            banks[mode] = [r(rid) for rid in REGS[15 - len(regs):15]]
            if mode in SPSR_MODES:
                s.spsr[mode] = r(A.UC_ARM_REG_SPSR)
        uc.reg_write(A.UC_ARM_REG_CPSR, cpsr)
        s.cpsr = cpsr            # the banks below are stored as this mode sees them
        s.load_banks({"R": visible[:8] + banks[SYS] + [visible[15]], "R_fiq": banks[FIQ],
                      **{"R_" + MODE_NAMES[m]: banks[m] for m in (SVC, ABT, IRQ, UND)}})
        s.r[:15] = visible[:15]
        s.pc = visible[15]
        for name, reg in CP15:
            setattr(s, name, r(A.UC_ARM_REG_CP_REG, reg))

    def refresh(self) -> None:
        # FRESH here means: machine.cpu was changed by kasou, put it into unicorn
        self.put_state()

    def pc(self) -> int:
        return self.engine.uc.reg_read(A.UC_ARM_REG_PC)

    def start_address(self) -> int:
        uc = self.engine.uc
        thumb = uc.reg_read(A.UC_ARM_REG_CPSR) & T_BIT
        return uc.reg_read(A.UC_ARM_REG_PC) | (1 if thumb else 0)

    def exit_cs(self):
        return None

    # -- blocks ----------------------------------------------------------------------------
    def decode_block(self, uc, addr: int, size: int) -> tuple:
        if not uc.reg_read(A.UC_ARM_REG_CPSR) & T_BIT:
            return tuple(range(addr, addr + size, 4)), 0
        code = bytes(uc.mem_read(addr, size))
        out = []
        k = 0
        while k < size:
            out.append(addr + k)
            k += 4 if _thumb32(int.from_bytes(code[k:k + 2], "little")) else 2
        return tuple(out), 0

    def extra_entry(self, uc, addr: int, size: int) -> bool:
        return False

    def block_marks(self, marks: int) -> None:
        pass

    def marked_block_left(self) -> None:
        pass

    def is_halt(self, code: bytes) -> bool:
        cpsr = self.engine.uc.reg_read(A.UC_ARM_REG_CPSR)
        if cpsr & T_BIT:
            return int.from_bytes(code[:2], "little") == WFI_T16
        word = int.from_bytes(code[:4], "little")
        return word & 0x0FFFFFFF == WFI_A32 and condition_passed(cpsr, word >> 28)

    def _insn_before(self, pc: int) -> tuple:
        """``(address, encoding)`` of the instruction in the current
        instruction set that ends at ``pc`` (T16: a halfword; A32: a word),
        or ``(None, None)`` where no memory holds it."""
        thumb = self.engine.uc.reg_read(A.UC_ARM_REG_CPSR) & T_BIT
        n = 2 if thumb else 4
        try:
            code = bytes(self.engine.uc.mem_read(pc - n, n))
        except uc_mod.UcError:
            return None, None
        return pc - n, code

    def halted_before(self, pc: int) -> bool:
        """WFI ends at ``pc`` (unicorn leaves a WFI with the PC past it)."""
        at, code = self._insn_before(pc)
        return at is not None and self.is_halt(code)

    def trap_before(self, pc: int, intno: int):
        """SVC and BKPT are the A32/T16 instructions that raise their
        exception themselves: reported past the instruction when it ends at
        ``pc`` and encodes the exception unicorn named; anything else is an
        exception of the instruction at ``pc`` (None)."""
        at, code = self._insn_before(pc)
        if at is None:
            return None
        if len(code) == 2:
            hw = int.from_bytes(code, "little")
            ok = {EXCP_SWI: hw & 0xFF00 == 0xDF00, EXCP_BKPT: hw & 0xFF00 == 0xBE00}
        else:
            w = int.from_bytes(code, "little")
            ok = {EXCP_SWI: w & 0x0F000000 == 0x0F000000 and w >> 28 != 0xF,
                  EXCP_BKPT: w & 0x0FF000F0 == 0x01200070}
        return at if ok.get(intno, False) else None

    # -- stops -----------------------------------------------------------------------------
    def stopped(self) -> None:
        pass

    def settle(self, err, store_stop, extra: bool):
        abandoned = self.engine.abandoned
        if err is None and abandoned is not None:
            at, accesses = abandoned
            pc = self.pc()
            values = self._served(pc, accesses) if at is None or at == pc else []
            if values:
                # unicorn abandoned the instruction after the accesses the
                # Machine served: complete it on kasou's semantics with their values
                self._replay = values
                try:
                    self._run_on_kasou(pc)
                finally:
                    self._replay = []
        return None

    def _served(self, at: int, accesses: list) -> list:
        """The values of the accesses the instruction at ``at`` made before
        unicorn abandoned it: the longest run at the end of ``accesses``
        ((address, is_write, value), the last the one it stopped in) that is
        how the instruction's own MMIO accesses begin.  A free run keeps the
        last accesses of whichever instructions made them; an instruction
        that did not make the last one was not abandoned ([])."""
        own = self._mmio_accesses(at)
        for n in range(min(len(own), len(accesses)), 0, -1):
            tail = accesses[-n:]
            if [(a, w) for a, w, _ in tail] == own[:n]:
                return [v for _, _, v in tail]
        return []

    def _mmio_accesses(self, at: int) -> list:
        """(address, is_write) of each access outside RAM the instruction at
        ``at`` makes, in order: a dry run of kasou's semantics on a copy of
        the CPU, whose bus notes them (reads return 0: no A32 or T16
        instruction's addresses depend on what it loads) and stores nothing."""
        m = self.machine
        ram = m.ram
        self.get_state()
        s = m.cpu.copy()
        s.pc = at
        made = []

        def read(addr, size):
            if ram.contains(addr, size):
                return ram.read(addr, size)
            if at <= addr < at + 4:
                return m.mmio.read(addr, size)      # its fetch (see _kasou_ops)
            made.append((addr, False))
            return 0

        def write(addr, size, value):
            if not ram.contains(addr, size):
                made.append((addr, True))

        try:
            step(s, ArmOps(s, m.model, read, write), self._kasou_decoder())
        except Unsupported:
            return []
        return made

    # -- interrupts and kasou's own semantics ------------------------------------------------
    def interrupt(self, intno: int, pc: int, fault: bool, trap_at):
        at = pc if fault else trap_at
        if intno not in KASOU_RUNS or at is None:
            return InternalErrorExit("EMULATION", f"unicorn raised exception {intno} at "
                                     f"0x{pc:x}, which kasou does not model", pc=pc)
        out = self._run_on_kasou(at)
        return FRESH if out is None else out

    def deliver(self, vector: int, pc: int, fault: bool, trap_at=None):
        # settle() never asks for a delivery: kasou takes A32 exceptions itself
        return InternalErrorExit("EMULATION", f"no delivery of vector {vector} is modelled "
                                 "on this engine", pc=pc)

    def invalid_instruction(self, pc: int):
        return self._run_on_kasou(pc)

    def serve(self, pc: int):
        return self._run_on_kasou(pc)

    def _run_on_kasou(self, at: int):
        """Run the instruction at ``at`` on kasou's semantics, as the
        interpreter does (an exception it raises enters the vector), and
        put the result into unicorn.  None, or the exit that ends the run."""
        m = self.machine
        s = m.cpu
        self.get_state()
        s.pc = at
        self._code = at
        before = s.copy()
        ops = self._kasou_ops()
        try:
            step(s, ops, self._kasou_decoder())
        except Unsupported as e:
            s.load(before)
            self.put_state()
            return InternalErrorExit("EMULATION", str(e), pc=at)
        call, self._semihosted = self._semihosted, None
        if call is not None and getattr(call, "dispatched", False):
            # the call ended the run (SYS_EXIT): it does not return; the CPU
            # stays on it, as the interpreter leaves it
            s.load(before)
            self.put_state()
            return call
        self.served += 1
        self.put_state()
        return None

    def _kasou_ops(self):
        if self._ops is None:
            m = self.machine
            ram = m.ram

            def read(addr, size):
                if ram.contains(addr, size):
                    return ram.read(addr, size)
                if self._code <= addr < self._code + 4:
                    # fetching code outside RAM: read from the bus, no exit
                    # (as the interpreter fetches it)
                    return m.mmio.read(addr, size)
                if self._replay:
                    return self._replay.pop(0)
                return self.engine.serve_exit(MmioExit(addr, size, False)).data

            def write(addr, size, value):
                if ram.contains(addr, size):
                    ram.write(addr, size, value)
                elif self._replay:
                    self._replay.pop(0)
                else:
                    self.engine.serve_exit(MmioExit(addr, size, True, value))

            self._ops = ArmOps(m.cpu, m.model, read, write)
            if m.semihosting is not None:
                self._ops.semihosting = self._semihost
        return self._ops

    def _semihost(self, ops) -> None:
        r = ops.s.r
        self._semihosted = self.engine.serve_exit(SemihostingExit(r[0], r[1]))
        r[0] = self._semihosted.result & 0xFFFFFFFF

    def _kasou_decoder(self):
        if self._decoder is None:
            m = self.machine
            self._decoder = m.target.decoder(m.model, m.target.tb_flags(m.cpu))
        return self._decoder

    def take_irq(self, vector: int):
        s = self.machine.cpu
        s.halted = False
        enter_exception(s, self.machine.model, IRQ_EXC, s.pc)
        self.put_state()
        return None

    def irq_enabled(self, state) -> bool:
        cpsr = self.engine.uc.reg_read(A.UC_ARM_REG_CPSR) if state is None else state.cpsr
        return not cpsr & I_BIT

    def wakes(self, state) -> bool:
        # WFI wakes on a pending interrupt whether CPSR.I masks it or not (B1.8.13)
        return True

    def irq_shadow(self, state) -> bool:
        return False

    def retired(self, tb: tuple, pc: int) -> None:
        pass

    def stats(self) -> dict:
        return {"instructions run by kasou": self.served}


__all__ = ["ArmUnicornAdapter", "CPU_MODELS"]
