"""x86's description for the IR: register globals, the lazy flag record, pure flag helpers.

What :mod:`emu.ir` asks of a target (:class:`emu.ir.frontend.IRTarget`),
filled in for x86:

* globals: the sixteen general registers (``X86State.regs``, SDM Vol. 1
  §3.4.1 and §3.7.2.1) by number, the six segment registers (§3.4.2) as
  the address spaces of ``ld``/``st``, and ``rip``;
* the lazy flag record: ``X86State``'s ``cc_op, cc_res, cc_a, cc_b,
  cc_size`` and ``fl`` (see :mod:`emu.isa.x86.flags`); CF is bit 0 of
  RFLAGS (§3.4.3);
* pure helpers: ``cond`` (a Jcc/SETcc/CMOVcc condition, Vol. 2 Appendix B),
  ``carry`` and ``rflags`` over a record, and ``aux`` (AF alone, what a
  record keeps when CF and OF alone change);
* memory hooks: flat (no paging) segment-based accesses, :mod:`emu.isa.x86.ir_mem`.
"""

from __future__ import annotations

from ...ir.frontend import FlagRecord, IRTarget
from . import flags as F
from .ir_mem import FLAT
from .state import REG_NAMES64, SEG_NAMES


def rflags_of(op, res, a, b, size, fl):
    """X86State.rflags for a lazy record (a pure function of it)."""
    if op == F.CC_EFLAGS:
        return fl
    return (fl & ~F.ARITH) | F.compute(op, res, a, b, size, fl)


# pure helpers the IR may call (name -> (function, result bits)); generated
# code binds them by these names
PURE_CALLS = {
    "cond": (F.cond, 1),
    "carry": (F.carry, 1),
    "rflags": (rflags_of, None),
    "aux": (F.aux, 5),
}

_ALL = ("op", "res", "a", "b", "size")
_RECORD_USES = {op: _ALL for op in (F.CC_ADD, F.CC_SUB, F.CC_ADC, F.CC_SBB)}
_RECORD_USES.update({op: ("op", "res", "size") for op in (F.CC_LOGIC, F.CC_INC, F.CC_DEC)})
_RECORD_USES[F.CC_RES] = ("op", "res", "a", "size")

FLAG_RECORD = FlagRecord(
    state_names={"op": "cc_op", "res": "cc_res", "a": "cc_a", "b": "cc_b", "size": "cc_size", "fl": "fl"},
    cf_mask=F.CF,
    # cc_op values under which fl's arithmetic bits do not show in RFLAGS
    cf_hidden=(F.CC_ADD, F.CC_SUB, F.CC_ADC, F.CC_SBB, F.CC_LOGIC, F.CC_RES),
    # INC and DEC compute every arithmetic flag but CF (SDM Vol. 2A "INC", "DEC"):
    # under them only CF of fl shows
    fa_hidden=(F.CC_INC, F.CC_DEC),
    # the record fields each cc_op reads in flags.compute / carry / cond
    record_uses=_RECORD_USES,
    # flags.carry for a cc_op known when the code is generated
    carry_exprs={F.CC_ADD: "int({res} < {a})", F.CC_SUB: "int({a} < {b})", F.CC_LOGIC: "0",
                 F.CC_RES: "{a} & 1", F.CC_ADC: "int({res} <= {a})", F.CC_SBB: "int({a} <= {b})"},
    # a shift's record: CF is bit 0 of the packed flags in cc_a
    carry_low_bit=F.CC_RES,
    # the flags the record computes, all a setfl of the arithmetic flags
    # (MUL, shifts) and foldcf change: DF, IF, TF... stay, and a region's
    # string steps read DF as a constant
    arith_mask=F.ARITH,
    # RFLAGS of a record: fl's other bits as they are (rflags_of)
    flags_call="rflags",
)

X86_IR = IRTarget("x86", REG_NAMES64, SEG_NAMES, "rip", FLAG_RECORD, PURE_CALLS, FLAT)
