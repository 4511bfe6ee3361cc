"""The interpreter's shortcuts around the lazy flag record (emu.isa.x86.flags)
and its register fast path, checked against their definitions:

* a condition read straight from a record (``flags.CONDS``, what Jcc/SETcc/
  CMOVcc use) is the SDM's condition (Vol. 1 Appendix B, ``test_cond``) on
  the flags the record stands for (``compute``, itself checked by hand in
  test_add_sub_flags.py);
* ``ConcreteOps.get_df`` / ``get_flags`` / ``get_cf`` / ``set_flags`` on a
  lazy record agree with the materialised RFLAGS word;
* register operands read and written by shift and mask keep the bits an
  8- or 16-bit write keeps and zero-extend a 32-bit one (Vol. 1 §3.4.1.1).
"""

import random

import pytest

from emu.isa.x86 import flags as F
from emu.isa.x86.insn import Reg
from emu.machine import Machine

OPS = range(len(F.CC_NAMES))


def _records(op, seed, n=400):
    """Records of ``op`` as the semantics leave them: masked operands and
    the masked result of the operation (edge values favoured)."""
    rnd = random.Random(seed)
    for _ in range(n):
        size = rnd.choice((1, 2, 4, 8))
        m = F.MASK[size]

        def pick():
            return rnd.choice((0, 1, m, m >> 1, (m >> 1) + 1, rnd.randrange(m + 1)))
        a, b = pick(), pick()
        res = {F.CC_ADD: (a + b) & m, F.CC_ADC: (a + b + 1) & m, F.CC_SUB: (a - b) & m,
               F.CC_SBB: (a - b - 1) & m, F.CC_LOGIC: a & b, F.CC_INC: (a + 1) & m,
               F.CC_DEC: (a - 1) & m}.get(op, pick())
        if op == F.CC_RES:
            a = rnd.randrange(32)          # CF, OF, AF as bits 0, 1, 4
        fl = rnd.randrange(1 << 12) | F.FIXED1
        yield res, a, b, size, fl


@pytest.mark.parametrize("op", OPS, ids=F.CC_NAMES)
def test_a_condition_from_the_record_is_the_condition_on_its_flags(op):
    for res, a, b, size, fl in _records(op, op):
        flags = (fl & ~F.ARITH) | F.compute(op, res, a, b, size, fl)
        for cc in range(16):
            got = F.cond(cc, op, res, a, b, size, fl)
            assert got is (F.test_cond(cc, flags) is True), (F.COND_NAMES[cc], res, a, b, size)
        assert F.carry(op, res, a, b, fl) == flags & F.CF
        if op != F.CC_EFLAGS:
            assert F.aux(op, res, a, b) == flags & F.AF


@pytest.mark.parametrize("op", OPS, ids=F.CC_NAMES)
def test_concrete_flag_reads_and_writes_agree_with_the_materialised_word(op):
    m = Machine("pc", "interp", memory=1 << 20)
    ops, s = m.accel.core.ops, m.cpu
    rnd = random.Random(100 + op)
    for res, a, b, size, fl in _records(op, 50 + op, n=100):
        record = (op, res, a, b, size)
        s.fl = fl
        s.cc_op, s.cc_res, s.cc_a, s.cc_b, s.cc_size = record
        word = s.rflags
        assert ops.get_flags() == word
        assert ops.get_df() == word & F.DF
        assert ops.get_cf() == word & F.CF
        for cc in range(16):
            assert ops.cond(cc) == F.test_cond(cc, word)
        mask = rnd.choice((F.CF | F.OF, F.DF, F.ARITH, F.CF))
        value = rnd.randrange(1 << 12)
        ops.set_flags(value, mask)
        assert s.rflags == (word & ~mask) | (value & mask) | F.FIXED1
        if mask & F.ARITH:
            assert s.cc_op in (F.CC_EFLAGS, F.CC_RES)
        else:                   # DF alone: the record stays
            assert (s.cc_op, s.cc_res, s.cc_a, s.cc_b, s.cc_size) == record


@pytest.mark.parametrize("n,size,hi,value,after", [
    (0, 1, False, 0x1AB, 0x11223344556677AB),    # AL: the other 56 bits kept
    (0, 1, True, 0x1AB, 0x112233445566AB88),     # AH: bits 8-15 only
    (0, 2, False, 0x1ABCD, 0x112233445566ABCD),  # AX
    (0, 4, False, 0x1ABCDEF01, 0xABCDEF01),      # EAX: zero-extended to 64 bits
    (0, 8, False, 0x1ABCDEF01, 0x1ABCDEF01),     # RAX
])
def test_register_operands_keep_and_extend_as_the_width_says(n, size, hi, value, after):
    m = Machine("pc", "interp", memory=1 << 20)
    ops = m.accel.core.ops
    m.cpu.regs[n] = 0x1122334455667788
    o = Reg(n, size, hi)
    ops.write(o, value)
    assert m.cpu.regs[n] == after
    assert ops.read(o) == value & o.mask
