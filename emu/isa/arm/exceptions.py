"""A32 exception entry and return (ARM DDI 0406C B1.8; ARMv4T: DDI 0100I A2.6).

Vector numbers are the vector table slots (offset / 4):

====  ==================  ====  ==========================  ==============
slot  exception           mode  LR                          masks set
====  ==================  ====  ==========================  ==============
0     reset               SVC   (unknown; left as it was)   I, F, A
1     undefined           UND   faulting insn + 4           I
2     supervisor call     SVC   SVC insn + 4                I
3     prefetch abort      ABT   faulting insn + 4           I, A
4     data abort          ABT   faulting insn + 8           I, A
6     IRQ                 IRQ   next insn + 4               I, A
7     FIQ                 FIQ   next insn + 4               I, F, A
====  ==================  ====  ==========================  ==============

(Table B1-4, B1-6; the A bit exists from ARMv6.)  The vector base is
0xFFFF0000 when SCTLR.V is set (high vectors), else VBAR on a model with
the Security extension, else 0 (B1.8.1).  Entry saves the CPSR in the new
mode's SPSR, clears T (SCTLR.TE is not modelled: ARM state), J and IT, sets
E from SCTLR.EE, and jumps.  Return copies the SPSR back (B1.8.10), which is
what a data-processing S instruction writing the PC and LDM with ``^`` and
the PC do.
"""

from __future__ import annotations

from .state import (A_BIT, ABT, F_BIT, FIQ, I_BIT, IRQ, MODE_MASK, SVC, T_BIT, UND, E_BIT,
                    J_BIT)

RESET, UNDEF, SVC_CALL, PABT, DABT, IRQ_EXC, FIQ_EXC = 0, 1, 2, 3, 4, 6, 7

EXC_NAMES = {RESET: "reset", UNDEF: "undefined instruction", SVC_CALL: "supervisor call",
             PABT: "prefetch abort", DABT: "data abort", IRQ_EXC: "IRQ", FIQ_EXC: "FIQ"}

# vector -> (mode, LR offset from the reference address, extra masks)
_ENTRY = {
    RESET: (SVC, 0, F_BIT | A_BIT),
    UNDEF: (UND, 4, 0),
    SVC_CALL: (SVC, 4, 0),
    PABT: (ABT, 4, A_BIT),
    DABT: (ABT, 8, A_BIT),
    IRQ_EXC: (IRQ, 4, A_BIT),
    FIQ_EXC: (FIQ, 4, F_BIT | A_BIT),
}

SCTLR_V = 1 << 13
SCTLR_EE = 1 << 25
_IT_BITS = (3 << 25) | (0x3F << 10)


def vector_base(state, model) -> int:
    if model.has_cp15 and state.sctlr & SCTLR_V:
        return 0xFFFF0000
    return state.vbar if model.has_vbar else 0


def enter_exception(state, model, vector: int, ref_addr: int, size: int = 4) -> None:
    """Take exception ``vector``.  ``ref_addr`` is the faulting instruction's
    address for synchronous exceptions, the next instruction's for IRQ/FIQ
    (the LR offsets of the table above are relative to it).  ``size``: the
    faulting instruction's length; an undefined instruction or SVC in
    Thumb state returns to the next instruction, + 2 (Table B1-7)."""
    mode, lr_off, masks = _ENTRY[vector]
    if vector in (UNDEF, SVC_CALL):
        lr_off = size
    old = state.cpsr
    new = (old & ~(MODE_MASK | T_BIT | J_BIT | _IT_BITS | E_BIT)) | mode | I_BIT
    if model.arch >= 6:
        new |= masks
    else:
        new |= masks & F_BIT
    if model.has_cp15 and state.sctlr & SCTLR_EE:
        new |= E_BIT
    state.set_cpsr(new)
    state.spsr[mode] = old
    if vector != RESET:
        state.r[14] = (ref_addr + lr_off) & 0xFFFFFFFF
    state.pc = vector_base(state, model) + 4 * vector
    state.excl_addr = None


def exception_return(state) -> None:
    """CPSR <- SPSR of the current mode (B1.8.10).  In user or system mode,
    which has no SPSR, the CPSR is left as it is (UNPREDICTABLE)."""
    if state.has_spsr():
        state.set_cpsr(state.get_spsr())


def take_interrupt(state, model, fiq: bool = False) -> bool:
    """Between instructions: take a pending IRQ (or FIQ) unless CPSR.I (F)
    masks it (B1.8.6).  True if it was taken; LR is the resumed
    instruction + 4, so ``SUBS PC, LR, #4`` returns to it."""
    if state.cpsr & (F_BIT if fiq else I_BIT):
        return False
    state.halted = False
    enter_exception(state, model, FIQ_EXC if fiq else IRQ_EXC, state.pc)
    return True
