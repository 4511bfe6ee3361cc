"""The ARM Ops vocabulary, and its concrete implementation.

A32 semantics (``semantics.py``) speak only through these calls, so one
implementation can run them on Python ints (here) and another can stand
behind a translator:

* registers: ``reg(n)`` (r15 reads as the instruction's address + 8, ARM
  DDI 0406C A2.3), ``reg_late(n)`` (r15 read in a later cycle of a
  multi-cycle instruction -- a register-shifted operand, a stored PC, the
  operands of a multiply or SWP: +12 on the ARM7TDMI, DDI 0100I A5.1.9 and
  A2.4.3; +8 on ARMv7, where those uses are UNPREDICTABLE), ``set_reg(n, v)``,
  ``user_reg``/``set_user_reg``
  (the user bank, LDM/STM ``^``);
* the PC: ``write_pc(v, how)`` with ``how`` one of ``"branch"`` (B/BL),
  ``"bx"`` (BX/BLX: interworking), ``"load"`` (LDR/LDM/POP: interworking
  from ARMv5), ``"alu"`` (data processing: interworking from ARMv7 in ARM
  state), the
  pseudocode's BranchWritePC/BXWritePC/LoadWritePC/ALUWritePC (A2.3.1);
* memory: ``load(addr, size)`` and ``store(addr, size, v)`` for 1, 2, 4
  bytes, served by the two callbacks the Ops are built with;
* status: ``cpsr()``/``set_cpsr(v, mask)``, ``spsr()``/``set_spsr(v, mask)``,
  ``flag_c()``, ``set_nzcv(n, z, c, v)`` (None leaves a flag), and
  ``exception_return()``;
* ``raise_exc(vector, detail)``: a guest exception (``GuestException``),
  delivered by the step function through the vector table.
"""

from __future__ import annotations

from ..ops import GuestException
from .exceptions import exception_return
from .state import C_BIT, N_BIT, T_BIT, V_BIT, Z_BIT

M32 = 0xFFFFFFFF


class ArmOps:
    """A32 operations on concrete values over one ArmState.

    ``read_mem(addr, size)`` and ``write_mem(addr, size, value)`` are the
    bus; either may raise ``GuestException`` (a data abort)."""

    def __init__(self, state, model, read_mem, write_mem):
        self.s = state
        self.model = model
        self.read_mem = read_mem
        self.write_mem = write_mem
        self.insn_addr = 0
        self.insn_size = 4
        self.pc_read = 8             # r15 as an operand: + 8 in ARM state, + 4 in Thumb (A2.3)
        self.insn = None
        # Arm semihosting (SVC 0x123456 / 0xAB in Thumb, BKPT 0xAB): a callable
        # ``semihosting(ops)`` that serves the call (r0 = operation, r1 = block)
        # instead of the exception; None: they are ordinary SVC/BKPT
        self.semihosting = None

    # -- registers ---------------------------------------------------------------
    def reg(self, n: int) -> int:
        return (self.insn_addr + self.pc_read) & M32 if n == 15 else self.s.r[n]

    def reg_late(self, n: int) -> int:
        if n != 15:
            return self.s.r[n]
        late = self.model.pc_late_offset if self.pc_read == 8 else self.pc_read
        return (self.insn_addr + late) & M32

    def link(self) -> int:
        """The return address a BL/BLX writes to LR: the next instruction,
        with bit 0 set in Thumb state (A8.8.25)."""
        return (self.insn_addr + self.insn_size) | (self.pc_read == 4)

    def set_reg(self, n: int, v: int) -> None:
        if n == 15:
            self.write_pc(v, "alu")
        else:
            self.s.r[n] = v & M32

    def user_reg(self, n: int) -> int:
        return (self.insn_addr + self.pc_read) & M32 if n == 15 else self.s.user_reg(n)

    def set_user_reg(self, n: int, v: int) -> None:
        self.s.set_user_reg(n, v)

    def write_pc(self, v: int, how: str) -> None:
        s = self.s
        v &= M32
        arch = self.model.arch
        thumb = s.cpsr & T_BIT
        inter = (how == "bx" or (how == "load" and arch >= 5)
                 or (how == "alu" and arch >= 7 and not thumb))
        if inter:
            if v & 1:
                s.cpsr |= T_BIT
                s.pc = v & ~1
            else:
                # ARMv4T BX: PC = Rm AND NOT 1; from ARMv5 an ARM target
                # with bit 1 set is UNPREDICTABLE, and QEMU keeps the bit too
                s.cpsr &= ~T_BIT
                s.pc = v & ~1
        elif thumb:
            s.pc = v & ~1
        elif arch >= 5:
            s.pc = v & ~3
        else:
            s.pc = v        # ARMv4: bits 1:0 kept (UNPREDICTABLE); fetches ignore them

    # -- memory ------------------------------------------------------------------
    def load(self, addr: int, size: int) -> int:
        return self.read_mem(addr & M32, size)

    def store(self, addr: int, size: int, v: int) -> None:
        self.write_mem(addr & M32, size, v & ((1 << (8 * size)) - 1))

    # -- status ------------------------------------------------------------------
    def cpsr(self) -> int:
        return self.s.cpsr

    def set_cpsr(self, v: int, mask: int = M32) -> None:
        s = self.s
        s.set_cpsr((s.cpsr & ~mask) | (v & mask))

    def spsr(self) -> int:
        return self.s.get_spsr()

    def has_spsr(self) -> bool:
        return self.s.has_spsr()

    def set_spsr(self, v: int, mask: int = M32) -> None:
        s = self.s
        s.set_spsr((s.get_spsr() & ~mask) | (v & mask))

    def flag_c(self) -> int:
        return (self.s.cpsr >> 29) & 1

    def set_nzcv(self, n, z, c=None, v=None) -> None:
        s = self.s
        f = s.cpsr
        if n is not None:
            f = (f | N_BIT) if n else (f & ~N_BIT)
        if z is not None:
            f = (f | Z_BIT) if z else (f & ~Z_BIT)
        if c is not None:
            f = (f | C_BIT) if c else (f & ~C_BIT)
        if v is not None:
            f = (f | V_BIT) if v else (f & ~V_BIT)
        s.cpsr = f

    def exception_return(self) -> None:
        exception_return(self.s)

    def select(self, c, a, b):
        return a if c else b

    def raise_exc(self, vector: int, detail: str = "") -> None:
        raise GuestException(vector, None, detail)
