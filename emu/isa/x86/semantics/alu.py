"""Binary and unary integer arithmetic and logic (SDM Vol. 1 §7.3.2, §7.3.4).

These are the translator's bread and butter, so none of them branches on a
run-time value: they are inlined into translated blocks.
"""

from ..flags import CC_ADC, CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SBB, CC_SUB, MASK
from . import sem


@sem("ADD")
def add(ops, i):
    """ADD r/m, r/m/imm  (SDM Vol. 2A "ADD")"""
    a = ops.read(i.ops[0])
    b = ops.read(i.ops[1])
    r = (a + b) & MASK[i.size]
    ops.set_cc(CC_ADD, r, a, b, i.size)
    ops.write(i.ops[0], r)


@sem("SUB")
def sub(ops, i):
    """SUB r/m, r/m/imm  (SDM Vol. 2B "SUB")"""
    a = ops.read(i.ops[0])
    b = ops.read(i.ops[1])
    r = (a - b) & MASK[i.size]
    ops.set_cc(CC_SUB, r, a, b, i.size)
    ops.write(i.ops[0], r)


@sem("CMP")
def cmp(ops, i):
    """CMP r/m, r/m/imm  (SDM Vol. 2A "CMP"): SUB without the write."""
    a = ops.read(i.ops[0])
    b = ops.read(i.ops[1])
    ops.set_cc(CC_SUB, (a - b) & MASK[i.size], a, b, i.size)


@sem("ADC")
def adc(ops, i):
    """ADC r/m, r/m/imm  (SDM Vol. 2A "ADC")"""
    a = ops.read(i.ops[0])
    b = ops.read(i.ops[1])
    c = ops.get_cf()
    r = (a + b + c) & MASK[i.size]
    ops.set_cc(ops.select(c, CC_ADC, CC_ADD), r, a, b, i.size)
    ops.write(i.ops[0], r)


@sem("SBB")
def sbb(ops, i):
    """SBB r/m, r/m/imm  (SDM Vol. 2B "SBB")"""
    a = ops.read(i.ops[0])
    b = ops.read(i.ops[1])
    c = ops.get_cf()
    r = (a - b - c) & MASK[i.size]
    ops.set_cc(ops.select(c, CC_SBB, CC_SUB), r, a, b, i.size)
    ops.write(i.ops[0], r)


def _logic(fn):
    def sem_fn(ops, i):
        a = ops.read(i.ops[0])
        b = ops.read(i.ops[1])
        r = fn(a, b)
        ops.set_cc(CC_LOGIC, r, 0, 0, i.size)
        ops.write(i.ops[0], r)
    return sem_fn


sem("AND")(_logic(lambda a, b: a & b))
sem("OR")(_logic(lambda a, b: a | b))
sem("XOR")(_logic(lambda a, b: a ^ b))


@sem("TEST")
def test(ops, i):
    """TEST r/m, r/imm  (SDM Vol. 2B "TEST"): AND without the write."""
    a = ops.read(i.ops[0])
    b = ops.read(i.ops[1])
    ops.set_cc(CC_LOGIC, a & b, 0, 0, i.size)


@sem("INC")
def inc(ops, i):
    """INC r/m  (SDM Vol. 2A "INC"): CF is not affected."""
    a = ops.read(i.ops[0])
    r = (a + 1) & MASK[i.size]
    ops.flags_before_inc()
    ops.set_cc(CC_INC, r, a, 1, i.size)
    ops.write(i.ops[0], r)


@sem("DEC")
def dec(ops, i):
    """DEC r/m  (SDM Vol. 2A "DEC"): CF is not affected."""
    a = ops.read(i.ops[0])
    r = (a - 1) & MASK[i.size]
    ops.flags_before_inc()
    ops.set_cc(CC_DEC, r, a, 1, i.size)
    ops.write(i.ops[0], r)


@sem("NEG")
def neg(ops, i):
    """NEG r/m  (SDM Vol. 2B "NEG"): 0 - operand; CF = operand != 0."""
    b = ops.read(i.ops[0])
    r = (0 - b) & MASK[i.size]
    ops.set_cc(CC_SUB, r, 0, b, i.size)
    ops.write(i.ops[0], r)


@sem("NOT")
def not_(ops, i):
    """NOT r/m  (SDM Vol. 2B "NOT"): no flags."""
    a = ops.read(i.ops[0])
    ops.write(i.ops[0], a ^ MASK[i.size])
