"""The builder folds a right shift through what it shifts: the carry out of
a rotate through carry (RCR/RCL build a (size+1)-bit word and rotate it,
SDM Vol. 2B "RCL/RCR/ROL/ROR") is one bit of an input, not the rotate
computed again and shifted."""

import random

from emu.ir.ir import IRBlock, Temp
from emu.isa.x86.ir_front import X86IRBuilder
from emu.isa.x86.models import get_model


def new_builder():
    blk = IRBlock(0x7C00, 0x7C00)
    return X86IRBuilder(blk, get_model("max"), ss32=False, long64=False)


def same(a, b) -> bool:
    """The same IR value: one temporary (``is``: ``==`` on a temporary is IR),
    or equal constants, or the same op over the same values."""
    if isinstance(a, Temp) and isinstance(b, Temp):
        return a is b or (a.op.name == b.op.name and len(a.op.args) == len(b.op.args)
                          and all(same(x, y) for x, y in zip(a.op.args, b.op.args)))
    return not isinstance(a, Temp) and not isinstance(b, Temp) and a == b


def is_op(v, name, *args):
    return isinstance(v, Temp) and v.op.name == name and len(v.op.args) == len(args) \
        and all(same(x, y) for x, y in zip(v.op.args, args))


def test_the_carry_out_of_rcr_is_bit_0_of_the_operand():
    b = new_builder()
    ax = b.get_reg(0, 2)
    cf_in = b.get_reg(2, 2) & 1
    wide = (cf_in << 16) | ax                       # CF:AX, 17 bits
    w = ((wide >> 1) | (wide << 16)) & 0x1FFFF      # rotated right by one
    assert is_op(w >> 16, "and", ax, 1)


def test_rules_one_by_one():
    b = new_builder()
    x = b.get_reg(0, 4)
    y = b.get_reg(1, 1)                             # 8 bits wide
    # through an AND only when the shift folds further in: a masked value is
    # left whole (a register's value, which a flag over it names)
    assert is_op(((x << 8) & 0xFF00) >> 8, "and", x, 0xFF)
    masked = x & 0xF0
    assert is_op(masked >> 4, "shr", masked, 4)
    assert (y | (x << 8)) >> 8 is x                 # y < 2**8 falls out, then (x << 8) >> 8
    assert is_op((x << 3) >> 5, "shr", x, 2)
    assert is_op((x << 5) >> 3, "shl", x, 2)


def test_the_rules_are_identities():
    rnd = random.Random(5)
    for _ in range(2000):
        x, y = rnd.getrandbits(40), rnd.getrandbits(8)
        j, k, m = rnd.randrange(0, 20), rnd.randrange(1, 20), rnd.getrandbits(24)
        assert (x & m) >> k == (x >> k) & (m >> k)
        assert (y | x) >> max(k, 8) == x >> max(k, 8)
        assert (x << j) >> k == ((x << (j - k)) if j >= k else (x >> (k - j)))
