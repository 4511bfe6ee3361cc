"""One instruction, without an engine: fetch at the PC, decode (A32, or T16
in Thumb state), check the condition (A8.3), execute the semantics, deliver
a guest exception through the vector table (``exceptions.py``).

In Thumb state a halfword is fetched; on ARMv6T2 and later a first
halfword 0b11101/0b11110/0b11111 starts a 32-bit instruction, of which
BL and BLX are executed and anything else raises :class:`ThumbUnsupported`
(an ``Unsupported``, which an engine reports as an INTERNAL_ERROR exit
naming it) before any state changes, as does an IT instruction -- Thumb-2
code is never mis-executed.
"""

from __future__ import annotations

from ..ops import GuestException
from .exceptions import PABT, UNDEF, enter_exception
from .semantics import REGISTRY, condition_passed
from .thumb import ThumbUnsupported, fetch_thumb

__all__ = ["step", "ThumbUnsupported"]


def step(state, ops, decoder) -> None:
    """Execute the instruction at ``state.pc``.  ``ops`` is an ArmOps over
    ``state``; ``decoder`` the A32 Decoder for ``ops.model`` built with
    ``REGISTRY``.  A data abort raised by the bus (``GuestException`` with
    vector 4) or any exception the semantics raise is taken here."""
    pc = state.pc
    thumb = state.thumb
    try:
        if thumb:
            insn = fetch_thumb(ops.load, pc, ops.model.arch, decoder.thumb())
        else:
            insn = decoder.decode_word(ops.load(pc & ~3, 4), pc)
    except GuestException as e:
        enter_exception(state, ops.model, PABT if e.vector == 4 else e.vector, pc)
        return
    ops.insn_addr = pc
    ops.insn_size = insn.size
    ops.pc_read = 4 if thumb else 8
    ops.insn = insn
    if not condition_passed(state.cpsr, insn.cond):
        state.pc = pc + insn.size
        return
    handler = insn.handler or REGISTRY.get(insn.name)
    state.pc = pc + insn.size
    # The semantics write registers only after their last access that can
    # fault (loads are read in full before any writeback), so an exception
    # finds the registers as the instruction found them, but for the PC.
    try:
        if handler is None:
            ops.raise_exc(UNDEF, f"no semantics for {insn.name}")
        handler(ops, insn)
    except GuestException as e:
        enter_exception(state, ops.model, e.vector, pc, insn.size)
    except ThumbUnsupported:
        state.pc = pc
        raise
