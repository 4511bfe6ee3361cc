"""The builder drops a sign extension where only bits below its width are
kept: IMUL's truncated product (SDM Vol. 2A "IMUL": the low half of a
signed product is the low half of the unsigned one) is ``(a * b) & mask``,
not the product of two sign-extended factors, and a MOVSX'd value summed or
multiplied into a register of its width needs no extension.  A sign
extension narrower than the mask stays."""

import random

from emu.isa.x86.semantics.muldiv import _sext
from tests.unit.ir.test_fold_shifts import is_op, new_builder

M32, M16 = 0xFFFFFFFF, 0xFFFF


def test_rules_one_by_one():
    b = new_builder()
    x, y, z = b.get_reg(0, 4), b.get_reg(1, 4), b.get_reg(2, 2)
    assert is_op((_sext(x, 4) * _sext(y, 4)) & M32, "and", b.op2("mul", x, y), M32)
    assert is_op((_sext(x, 4) * 3) & M32, "and", b.op2("mul", x, 3), M32)
    # IMUL r16 of a MOVSX'd word, then ADD: nested, one level in another
    inner = _sext(z, 2) * _sext(x & M16, 2)
    assert is_op((inner + _sext(y & M16, 2)) & M16, "and",
                 b.op2("add", b.op2("mul", z, x & M16), y & M16), M16)
    assert (_sext(z, 2) & M16) is z                 # z is 16 bits wide: the AND folds too


def test_what_is_kept():
    b = new_builder()
    x, y = b.get_reg(0, 4), b.get_reg(1, 1)
    narrow = (_sext(y, 1) * x) & M16                # bit 8 and up depend on y's sign
    assert narrow.op.args[0].op.args[0].op.name == "sub"
    wide = _sext(x, 4) * _sext(x, 4)                # no mask: the whole signed product
    assert wide.op.name == "mul" and wide.op.args[0].op.name == "sub"
    assert is_op((x - 5) & M32, "and", x - 5, M32)          # a subtraction that is no extension


def test_the_rules_are_identities():
    rnd = random.Random(7)
    for _ in range(3000):
        size = rnd.choice((1, 2, 4))
        mask = (1 << 8 * size) - 1
        wide = rnd.choice((size, 4, 8))
        a, b = rnd.getrandbits(8 * wide), rnd.getrandbits(8 * wide)
        assert (_sext(a, wide) * _sext(b, wide)) & mask == (a * b) & mask
        assert (_sext(a, wide) + _sext(b, wide)) & mask == (a + b) & mask
        assert (_sext(a, wide) - b) & mask == (a - b) & mask
