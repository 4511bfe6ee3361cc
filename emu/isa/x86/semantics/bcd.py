"""Decimal arithmetic (SDM Vol. 1 §7.3.3; Vol. 2A "AAA", "AAD", "AAM", "AAS",
"DAA", "DAS"; 8086 Family User's Manual §2.7 "Arithmetic instructions").

DAA DAS AAA AAS AAM AAD.  The flags that the manuals call undefined are
what the chips produce (the SingleStepTests vectors are the judge); the
flags are given explicitly through the ``CC_RES`` record (CF, OF, AF in
``cc_a`` bits 0, 1, 4; SF ZF PF from the result).

Per-model behaviour (``ops.model.level``):

* AAA/AAS on the 8086 add/subtract 6 to AL alone and 1 to AH alone; the
  286 and later adjust AX as a whole (a carry out of AL reaches AH).
* AAM with a zero immediate raises #DE (8086: the pushed IP is the next
  instruction, handled by the fault delivery).
* AAM and AAD set SF, ZF and PF from AL on every model (the SDM defines
  them so; QEMU and the chips agree).  AAM clears CF, OF and AF.
* AAD: AL = AL + AH * imm8, AH = 0; on the 8086/286 CF/OF/AF are those of
  the 8-bit add.  ``aad_logic_flags`` (``-cpu max``): CF = OF = AF = 0, as
  QEMU and KVM leave them (the SDM calls the three undefined).  KVM's
  instruction emulator on this host also takes SF and ZF from all of AX (a
  16-bit ``OR AX,0``); that contradicts the SDM, so ``max`` does not follow
  it (tests/conformance/known_kvm_disagreements.json lists those vectors).
* ``das_clears_of`` (``-cpu max``): DAS leaves OF (undefined) = 0, as KVM
  does.

None is a helper: DAA, DAS, AAA and AAS choose their adjustments with
``ops.select`` on the run-time conditions (no Python branch on a value),
and AAM and AAD compute with their immediate, a constant of the
instruction, so the translator compiles them all into the block (AAM 0
raises #DE always, and is then run by the interpreter).
"""

from .. import flags as F
from ..flags import CC_RES
from . import sem


def _res(ops, r, cf, of, af):
    """Record explicit CF/OF/AF (conditions: bools, or the translator's
    1-bit values) with SZP from the byte ``r``."""
    ops.set_cc(CC_RES, r, cf | of << 1 | af << 4, 0, 1)


def _flags(ops):
    """(CF, AF) in force, as conditions."""
    f = ops.get_flags()
    return (f & F.CF) != 0, (f & F.AF) != 0


def _limit(ops, af):
    """The AL above which DAA/DAS adjust the high digit: 0x99, or on the
    8086 0x9F when AF is set."""
    return ops.select(af, 0x9F, 0x99) if ops.model.level == 86 else 0x99


@sem("DAA")
def daa(ops, i):
    """DAA  (SDM Vol. 2A "DAA - Decimal Adjust AL after Addition")"""
    al = ops.get_reg(0, 1)
    cf, af = _flags(ops)
    low = ((al & 0xF) > 9) | af
    r = ops.select(low, al + 6, al)
    high = (al > _limit(ops, af)) | cf
    r = ops.select(high, r + 0x60, r) & 0xFF
    of = (~al & r & 0x80) != 0
    ops.set_reg(0, 1, r)
    _res(ops, r, high, of, low)


@sem("DAS")
def das(ops, i):
    """DAS  (SDM Vol. 2A "DAS - Decimal Adjust AL after Subtraction")"""
    al = ops.get_reg(0, 1)
    cf, af = _flags(ops)
    low = ((al & 0xF) > 9) | af
    r = ops.select(low, al - 6, al)
    high = (al > _limit(ops, af)) | cf
    # the 286 keeps the borrow of the low adjust in CF (AL < 6 with AF set)
    new_cf = high | (low & (al < 6)) if ops.model.level >= 286 else high
    r = ops.select(high, r - 0x60, r) & 0xFF
    of = False if ops.model.das_clears_of else (al & ~r & 0x80) != 0
    ops.set_reg(0, 1, r)
    _res(ops, r, new_cf, of, low)


@sem("AAA")
def aaa(ops, i):
    """AAA  (SDM Vol. 2A "AAA - ASCII Adjust After Addition")"""
    ax = ops.get_reg(0, 2)
    _, af = _flags(ops)
    al, ah = ax & 0xFF, ax >> 8
    adjust = ((al & 0xF) > 9) | af
    if ops.model.level == 86:
        al = ops.select(adjust, (al + 6) & 0xFF, al)
        ah = ops.select(adjust, (ah + 1) & 0xFF, ah)
    else:
        ax = ops.select(adjust, (ax + 0x106) & 0xFFFF, ax)
        al, ah = ax & 0xFF, ax >> 8
    ops.set_reg(0, 2, (ah << 8) | (al & 0x0F))
    _res(ops, al, adjust, False, adjust)


@sem("AAS")
def aas(ops, i):
    """AAS  (SDM Vol. 2A "AAS - ASCII Adjust AL After Subtraction")"""
    ax = ops.get_reg(0, 2)
    _, af = _flags(ops)
    al, ah = ax & 0xFF, ax >> 8
    adjust = ((al & 0xF) > 9) | af
    if ops.model.level == 86:
        al = ops.select(adjust, (al - 6) & 0xFF, al)
        ah = ops.select(adjust, (ah - 1) & 0xFF, ah)
    else:
        low = (ax - 6) & 0xFFFF
        al, ah = ops.select(adjust, low & 0xFF, al), ops.select(adjust, ((low >> 8) - 1) & 0xFF, ah)
    ops.set_reg(0, 2, (ah << 8) | (al & 0x0F))
    _res(ops, al, adjust, False, adjust)


@sem("AAM")
def aam(ops, i):
    """AAM imm8  (SDM Vol. 2A "AAM - ASCII Adjust AX After Multiply")"""
    base = i.ops[0].value & 0xFF
    al = ops.get_reg(0, 1)
    if base == 0:
        ops.raise_exc(0, None, "AAM with a zero divisor")
    ah, r = al // base, al % base
    ops.set_reg(0, 2, (ah << 8) | r)
    _res(ops, r, False, False, False)


@sem("AAD")
def aad(ops, i):
    """AAD imm8  (SDM Vol. 2A "AAD - ASCII Adjust AX Before Division")"""
    base = i.ops[0].value & 0xFF
    ax = ops.get_reg(0, 2)
    al, ah = ax & 0xFF, ax >> 8
    t = (ah * base) & 0xFF
    r = (al + t) & 0xFF
    ops.set_reg(0, 2, r)
    if ops.model.aad_logic_flags:
        _res(ops, r, False, False, False)
    else:
        ops.set_cc(F.CC_ADD, r, al, t, 1)
