"""One A32 instruction, without an engine: fetch at the PC, decode, check the
condition (A8.3), execute the semantics, deliver a guest exception through
the vector table (``exceptions.py``).

Thumb state is not implemented: stepping with CPSR.T set raises
:class:`ThumbUnsupported` (an ``Unsupported``, which an engine reports as
an INTERNAL_ERROR exit naming it) before anything is fetched, so Thumb code
is never executed as A32.  Entering Thumb state (BX/BLX to an odd address,
an SPSR with T set) is itself modelled; only the next step refuses.
"""

from __future__ import annotations

from ..ops import GuestException, Unsupported
from .exceptions import UNDEF, enter_exception
from .semantics import REGISTRY, condition_passed


class ThumbUnsupported(Unsupported):
    """The CPU is in Thumb state, which kasou's ARM target does not execute."""

    def __init__(self, pc: int):
        super().__init__(f"Thumb state entered (PC {pc:#010x}): Thumb (T16/T32) is not implemented")
        self.pc = pc


def step(state, ops, decoder) -> None:
    """Execute the instruction at ``state.pc``.  ``ops`` is an ArmOps over
    ``state``; ``decoder`` a Decoder for ``ops.model`` built with
    ``REGISTRY``.  A data abort raised by the bus (``GuestException`` with
    vector 4) or any exception the semantics raise is taken here."""
    pc = state.pc
    if state.thumb:
        raise ThumbUnsupported(pc)
    try:
        word = ops.load(pc & ~3, 4)
    except GuestException as e:
        enter_exception(state, ops.model, 3 if e.vector == 4 else e.vector, pc)
        return
    insn = decoder.decode_word(word, pc)
    ops.insn_addr = pc
    ops.insn = insn
    if not condition_passed(state.cpsr, insn.cond):
        state.pc = pc + 4
        return
    handler = insn.handler or REGISTRY.get(insn.name)
    state.pc = pc + 4
    saved = (list(state.r), state.cpsr)
    try:
        if handler is None:
            ops.raise_exc(UNDEF, f"no semantics for {insn.name}")
        handler(ops, insn)
    except GuestException as e:
        state.set_cpsr(saved[1])
        state.r[:] = saved[0]
        enter_exception(state, ops.model, e.vector, pc)
