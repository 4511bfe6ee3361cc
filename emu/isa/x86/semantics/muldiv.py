"""Multiply and divide (SDM Vol. 1 §7.3.2): MUL IMUL DIV IDIV, #DE.

MUL and the three IMUL forms are inline (no run-time Python branching):
CF = OF = "the product does not fit the destination" is computed
arithmetically and recorded as ``CC_RES``.  SF, ZF, PF and AF are undefined
(SDM); on the 8086 and 286 kasou derives SF/ZF/PF from the low half of the
product, with AF = 0, as QEMU does; ``-cpu max`` keeps them unchanged
(``mul_keeps_szap``), as the AMD host under KVM does.

DIV and IDIV raise #DE (vector 0) through ``ops.divide_error_if``: the
interpreter raises it; translated code leaves before the instruction where
it would be raised (a zero divisor, a quotient that does not fit) and the
interpreter runs it, and computes every other division in the block.
Their flags are undefined; the 8086 and 286 models leave them unchanged,
``-cpu max`` sets them as the KVM host does (``div_flags``: SF = ZF = PF =
0, AF = 1, CF and OF kept).  A division that faults changes
no flag on any model.

Deliberate model differences (``CpuModel`` fields, checked against the
SingleStepTests 8086 vectors):

* ``idiv_rejects_min``: the 8086 raises #DE for the most negative quotient
  (-128 / -32768); the 286 and later accept it.
* ``rep_negates_imul_idiv``: on the 8086 a REP/REPNE prefix in front of
  IMUL/IDIV negates the product or quotient: the prefix sets the internal F1
  flag that the microcode also uses to remember the result's sign (published
  analyses of the 8086 multiply/divide microcode; the vectors' README: "a
  REP prefix before IDIV flips the quotient's sign").  The
  remainder is not affected.  Where the 8086 pushes the next IP on #DE is
  :mod:`emu.isa.x86.interrupts`'s business.
"""

from ..flags import CC_RES, CF, MASK, OF, SIGN
from . import sem

CF_OF = CF | OF


def _sext(v, size):
    """Two's-complement value of a ``size``-byte quantity (arithmetic only;
    ``size`` may be 16, a 128-bit dividend)."""
    s = 1 << (8 * size - 1)
    return (v ^ s) - s


def _acc(ops, size):
    """The implicit multiplicand/dividend-low register: AL, AX, EAX or RAX."""
    return ops.get_reg(0, size)


def _store_wide(ops, size, p):
    """Write a double-width product: AX (size 1) or rDX:rAX."""
    if size == 1:
        ops.set_reg(0, 2, p & 0xFFFF)
    else:
        bits = 8 * size
        ops.set_reg(0, size, p & MASK[size])
        ops.set_reg(2, size, (p >> bits) & MASK[size])


def _rep_negate(ops, i, v):
    """The 8086's REP-prefixed IMUL/IDIV quirk (a translation-time choice)."""
    if i.rep and ops.model.rep_negates_imul_idiv:
        return 0 - v
    return v


def _mul_flags(ops, lost, lo, size):
    """CF = OF = (``lost`` != 0): the product did not fit.  SF ZF AF PF are
    undefined: derived from the low half (AF = 0) as QEMU does, or kept
    (``model.mul_keeps_szap``: what the AMD host under KVM does)."""
    if ops.model.mul_keeps_szap:
        ops.set_flags(ops.select(lost, CF_OF, 0), CF_OF)
    else:
        ops.set_cc(CC_RES, lo, ops.select(lost, 3, 0), 0, size)


def _div_flags(ops):
    """The flags a DIV/IDIV that did not fault leaves (all undefined): kept,
    or ``model.div_flags`` = (mask, value)."""
    if ops.model.div_flags:
        mask, value = ops.model.div_flags
        ops.set_flags(value, mask)


@sem("MUL")
def mul(ops, i):
    """MUL r/m  (SDM Vol. 2B "MUL"): AX = AL*r/m8; rDX:rAX = rAX*r/m.
    CF = OF = upper half != 0."""
    size = i.size
    b = ops.read(i.ops[0])
    p = ops.get_reg(0, size) * b           # AL, AX, EAX or RAX
    lo = p & MASK[size]
    _mul_flags(ops, p >> (8 * size), lo, size)
    _store_wide(ops, size, p)


@sem("IMUL1")
def imul1(ops, i):
    """IMUL r/m  (SDM Vol. 2A "IMUL", one-operand form): signed AX = AL*r/m8;
    rDX:rAX = rAX*r/m.  CF = OF = the product is not the sign extension of
    its low half."""
    size = i.size
    b = ops.read(i.ops[0])
    a = _acc(ops, size)
    p = _rep_negate(ops, i, _sext(a, size) * _sext(b, size))
    lo = p & MASK[size]
    _mul_flags(ops, _sext(lo, size) - p, lo, size)
    _store_wide(ops, size, p)


def _imul_trunc(ops, i, a, b):
    size = i.size
    p = _sext(a, size) * _sext(b, size)
    lo = p & MASK[size]
    _mul_flags(ops, _sext(lo, size) - p, lo, size)
    ops.write(i.ops[0], lo)


@sem("IMUL2")
def imul2(ops, i):
    """IMUL r, r/m  (SDM Vol. 2A "IMUL", two-operand form): truncated signed
    product; CF = OF = significant bits were lost."""
    b = ops.read(i.ops[1])
    a = ops.read(i.ops[0])
    _imul_trunc(ops, i, a, b)


@sem("IMUL3")
def imul3(ops, i):
    """IMUL r, r/m, imm  (SDM Vol. 2A "IMUL", three-operand form); the
    immediate is already sign-extended to the operand size by the decoder."""
    a = ops.read(i.ops[1])
    b = ops.read(i.ops[2])
    _imul_trunc(ops, i, a, b)


def _dividend(ops, size):
    if size == 1:
        return ops.get_reg(0, 2)
    return (ops.get_reg(2, size) << (8 * size)) | ops.get_reg(0, size)


def _store_divmod(ops, size, q, r):
    if size == 1:
        ops.set_reg(0, 2, (q & 0xFF) | ((r & 0xFF) << 8))
    else:
        ops.set_reg(0, size, q & MASK[size])
        ops.set_reg(2, size, r & MASK[size])


@sem("DIV")
def div(ops, i):
    """DIV r/m  (SDM Vol. 2A "DIV"): unsigned AX / r/m8 -> AL rem AH;
    rDX:rAX / r/m -> rAX rem rDX.  #DE on a zero divisor or a quotient
    that does not fit.  Flags undefined (left unchanged)."""
    size = i.size
    d = ops.read(i.ops[0])
    n = _dividend(ops, size)
    ops.divide_error_if(d == 0, "DIV by zero")
    q = n // d
    ops.divide_error_if(q > MASK[size], "DIV quotient overflow")
    _store_divmod(ops, size, q, n % d)
    _div_flags(ops)


@sem("IDIV")
def idiv(ops, i):
    """IDIV r/m  (SDM Vol. 2A "IDIV"): signed division, quotient rounded
    toward zero, remainder with the dividend's sign.  #DE on a zero divisor
    or a quotient out of range.  Flags undefined (left unchanged)."""
    size = i.size
    d = _sext(ops.read(i.ops[0]), size)
    n = _sext(_dividend(ops, size), 2 if size == 1 else 2 * size)
    ops.divide_error_if(d == 0, "IDIV by zero")
    n_neg, d_neg = n < 0, d < 0
    q = ops.select(n_neg, -n, n) // ops.select(d_neg, -d, d)
    q = ops.select(n_neg != d_neg, -q, q)
    r = n - q * d
    lo = -SIGN[size] + (1 if ops.model.idiv_rejects_min else 0)
    ops.divide_error_if((q < lo) | (q >= SIGN[size]), "IDIV quotient overflow")
    q = _rep_negate(ops, i, q)
    _store_divmod(ops, size, q, r)
    _div_flags(ops)
