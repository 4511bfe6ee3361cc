"""x86 RFLAGS and lazy condition codes (SDM Vol. 1 §3.4.3, Appendix A; QEMU's cc_op).

An arithmetic instruction does not compute flags; it records *what it did*:
``cc_op`` (which operation), ``cc_res`` (the masked result), ``cc_a`` and
``cc_b`` (its operands) and ``cc_size`` (bytes).  The six arithmetic flags
are derived from that record only when something reads them -- a Jcc, a
PUSHF, an ADC.  Most results are never tested, so most flag work is never done.

``CC_RES`` is the generic record for instructions whose CF/OF/AF the
semantics compute themselves (shifts, multiplies, BCD adjusts): SF, ZF and PF
come from ``cc_res`` and CF, OF, AF are bits 0, 1 and 4 of ``cc_a``.
"""

from __future__ import annotations

CF, PF, AF, ZF, SF, TF, IF, DF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800
IOPL, NT, RF, VM, AC, VIF, VIP, ID = 0x3000, 0x4000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000
FIXED1 = 0x2
ARITH = CF | PF | AF | ZF | SF | OF

# cc_op values.  ADC/SBB are recorded only with a carry-in of 1: with a
# carry-in of 0 they *are* ADD/SUB, and are recorded as such.
CC_EFLAGS, CC_ADD, CC_ADC, CC_SUB, CC_SBB, CC_LOGIC, CC_INC, CC_DEC, CC_RES = range(9)
CC_NAMES = ("EFLAGS", "ADD", "ADC", "SUB", "SBB", "LOGIC", "INC", "DEC", "RES")

PARITY = bytes(0 if bin(i).count("1") & 1 else PF for i in range(256))

SIGN = {1: 0x80, 2: 0x8000, 4: 0x80000000, 8: 0x8000000000000000}
MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: 0xFFFFFFFFFFFFFFFF}


def compute(op: int, res: int, a: int, b: int, size: int, fl: int) -> int:
    """The six arithmetic flags (other bits zero) for a lazy record."""
    sign = SIGN[size]
    f = PARITY[res & 0xFF]
    if res == 0:
        f |= ZF
    if res & sign:
        f |= SF
    if op == CC_ADD:
        if res < a:
            f |= CF
        f |= (a ^ b ^ res) & AF
        if (a ^ res) & (b ^ res) & sign:
            f |= OF
    elif op == CC_SUB:
        if a < b:
            f |= CF
        f |= (a ^ b ^ res) & AF
        if (a ^ b) & (a ^ res) & sign:
            f |= OF
    elif op == CC_LOGIC:
        pass
    elif op == CC_RES:
        f |= (a & 1) | ((a & 2) << 10) | (a & AF)
    elif op == CC_INC:
        f |= fl & CF
        if res == sign:
            f |= OF
        if res & 0xF == 0:
            f |= AF
    elif op == CC_DEC:
        f |= fl & CF
        if res == sign - 1:
            f |= OF
        if res & 0xF == 0xF:
            f |= AF
    elif op == CC_ADC:
        if res <= a:
            f |= CF
        f |= (a ^ b ^ res) & AF
        if (a ^ res) & (b ^ res) & sign:
            f |= OF
    elif op == CC_SBB:
        if a <= b:
            f |= CF
        f |= (a ^ b ^ res) & AF
        if (a ^ b) & (a ^ res) & sign:
            f |= OF
    elif op == CC_EFLAGS:
        return fl & ARITH
    else:
        raise ValueError(f"bad cc_op {op}")
    return f


#: CF alone (0 or 1) of a lazy record, by ``cc_op``: fn(res, a, b, fl)
CARRY = (lambda res, a, b, fl: fl & CF,                 # EFLAGS
         lambda res, a, b, fl: 1 if res < a else 0,     # ADD
         lambda res, a, b, fl: 1 if res <= a else 0,    # ADC
         lambda res, a, b, fl: 1 if a < b else 0,       # SUB
         lambda res, a, b, fl: 1 if a <= b else 0,      # SBB
         lambda res, a, b, fl: 0,                       # LOGIC
         lambda res, a, b, fl: fl & CF,                 # INC
         lambda res, a, b, fl: fl & CF,                 # DEC
         lambda res, a, b, fl: a & 1)                   # RES


def carry(op: int, res: int, a: int, b: int, fl: int) -> int:
    """CF alone (0 or 1), cheaper than :func:`compute` -- ADC, SBB, RCL and Jc need only it."""
    return CARRY[op](res, a, b, fl)


def aux(op: int, res: int, a: int, b: int) -> int:
    """AF alone (0 or AF) of a record other than ``CC_EFLAGS``: with SF, ZF
    and PF (which every record derives from ``res`` alike) it is all a
    ``CC_RES`` record needs to stand for the same flags with new CF and OF
    (:meth:`ConcreteOps.set_flags`)."""
    if op == CC_LOGIC:
        return 0
    if op == CC_INC:
        return AF if res & 0xF == 0 else 0
    if op == CC_DEC:
        return AF if res & 0xF == 0xF else 0
    if op == CC_RES:
        return a & AF
    return (a ^ b ^ res) & AF


# Condition codes, by the low nibble of Jcc/SETcc/CMOVcc (SDM Vol. 1 Appendix B).
CC_O, CC_NO, CC_B, CC_NB, CC_Z, CC_NZ, CC_BE, CC_NBE, CC_S, CC_NS, CC_P, CC_NP, CC_L, CC_NL, CC_LE, CC_NLE = range(16)
COND_NAMES = ("o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g")


def test_cond(cc: int, f: int) -> bool:
    """Evaluate condition ``cc`` on a materialised flags word."""
    base = cc >> 1
    if base == 0:
        r = f & OF
    elif base == 1:
        r = f & CF
    elif base == 2:
        r = f & ZF
    elif base == 3:
        r = f & (CF | ZF)
    elif base == 4:
        r = f & SF
    elif base == 5:
        r = f & PF
    elif base == 6:
        r = bool(f & SF) != bool(f & OF)
    else:
        r = (f & ZF) or (bool(f & SF) != bool(f & OF))
    return (not r) if cc & 1 else bool(r)


# Conditions on a lazy record, as Python expressions of the record
# (r = res, a, b, s = size, f = fl) where one is shorter than computing the
# flags: ZF of any recorded result is ``r == 0``; after CMP/SUB, CF is
# ``a < b`` and a signed comparison is an unsigned one of the operands with
# their sign bits flipped; after a logic operation CF = OF = 0.
_EFLAGS_TESTS = ("f & 0x800", "f & 0x1", "f & 0x40", "f & 0x41", "f & 0x80", "f & 0x4",
                 "(f & 0x80 != 0) != (f & 0x800 != 0)",
                 "f & 0x40 or (f & 0x80 != 0) != (f & 0x800 != 0)")
_SUB_TESTS = ("(a ^ b) & (a ^ r) & SIGN[s]", "a < b", "r == 0", "a <= b", "r & SIGN[s]",
              "PARITY[r & 0xFF]", "(a ^ SIGN[s]) < (b ^ SIGN[s])", "(a ^ SIGN[s]) <= (b ^ SIGN[s])")
_LOGIC_TESTS = ("False", "False", "r == 0", "r == 0", "r & SIGN[s]", "PARITY[r & 0xFF]",
                "r & SIGN[s]", "r == 0 or r & SIGN[s]")


def _cond_fn(cc: int, op: int):
    """fn(res, a, b, size, fl) -> bool: condition ``cc`` on a record of ``op``."""
    base = cc >> 1
    if op == CC_EFLAGS:
        test = _EFLAGS_TESTS[base]
    elif op == CC_SUB:
        test = _SUB_TESTS[base]
    elif op == CC_LOGIC:
        test = _LOGIC_TESTS[base]
    elif base == 2:
        test = "r == 0"
    else:
        test = f"test_cond({cc & ~1}, compute({op}, r, a, b, s, f))"
    src = f"lambda r, a, b, s, f: {'not' if cc & 1 else 'bool'}({test})"
    return eval(src, {"SIGN": SIGN, "PARITY": PARITY, "compute": compute, "test_cond": test_cond})


#: ``CONDS[op << 4 | cc]``: condition ``cc`` on a record of ``cc_op`` ``op``
CONDS = tuple(_cond_fn(cc, op) for op in range(len(CC_NAMES)) for cc in range(16))


def cond(cc: int, op: int, res: int, a: int, b: int, size: int, fl: int) -> bool:
    """Evaluate a condition straight from the lazy record: for CMP/SUB +
    Jcc, TEST/AND + Jcc and ZF of any recorded result (a DEC/INC/ADD + JNZ
    loop) without computing the flags (:data:`CONDS`)."""
    return CONDS[op << 4 | cc](res, a, b, size, fl)


def describe(f: int) -> str:
    """Flags by name, as gdb's ``eflags`` shows them: ``[ ZF PF IF ]``."""
    names = []
    for bit, name in ((CF, "CF"), (PF, "PF"), (AF, "AF"), (ZF, "ZF"), (SF, "SF"),
                      (TF, "TF"), (IF, "IF"), (DF, "DF"), (OF, "OF"), (NT, "NT"),
                      (RF, "RF"), (VM, "VM"), (AC, "AC"), (ID, "ID")):
        if f & bit:
            names.append(name)
    iopl = (f & IOPL) >> 12
    if iopl:
        names.append(f"IOPL={iopl}")
    return " ".join(names)
