"""Bit and byte instructions (SDM Vol. 1 §7.3.7, §7.3.1.2): BT BTS BTR BTC BSF BSR, CMPXCHG, CMPXCHG8B, XADD.

Inline (no run-time Python branching): BT/BTS/BTR/BTC in every form,
CMPXCHG (the "equal?" choice is an ``ops.select``), XADD, and BSF and BSR
(the bit index is ``bit_length`` of the lowest set bit or of the source,
the IR's ``bitlen``; a zero source, which leaves the destination
untouched, is an ``ops.select`` in translated code).

Bit-string addressing (SDM Vol. 2A "BT", Table 3-2 notes): with a register
bit offset and a memory operand, the offset is a *signed* number of bits
relative to the effective address, so the operand-size word accessed is at
``EA + size * (offset SAR log2(8*size))`` (wrapping at the address size) and
the bit within it is ``offset mod (8*size)``.  An immediate offset, or a
register destination, only selects a bit of the operand itself (modulo the
operand width).

Flags: BTx set CF to the selected bit; ZF is unaffected and OF, SF, AF, PF
are undefined -- kasou leaves them unchanged.  BSF/BSR set ZF = (source ==
0) and, like current Intel and AMD parts, leave the destination unchanged
when the source is 0; CF, OF, SF, AF, PF are undefined and left unchanged.
CMPXCHG sets the flags of ``CMP accumulator, destination``; XADD those of
the ADD.

Write order: with a memory destination the memory write comes first (it is
the one that can fault), then registers; with a register destination the
order is the SDM's pseudocode order, which decides the result when both
operands name the same register.
"""

from .. import flags as F
from ..flags import CC_ADD, CC_SUB, MASK, SIGN
from ..insn import MEM, REG
from . import sem

_LOG2_BITS = {1: 3, 2: 4, 4: 5, 8: 6}


def _bit_operand(ops, i):
    """Resolve the bit base and offset: (segment, address or None, value, bit index).

    For a register destination, ``address`` is None."""
    size = i.size
    bits = 8 * size
    dst, src = i.ops[0], i.ops[1]
    off = ops.read(src)
    if dst.kind == MEM:
        ea = ops.ea(dst)
        if src.kind == REG:
            s = SIGN[size]
            soff = (off ^ s) - s
            ea = (ea + (soff >> _LOG2_BITS[size]) * size) & dst.amask
        v = ops.load(dst.seg, ea, size)
        return dst.seg, ea, v, off & (bits - 1)
    return None, None, ops.read(dst), off & (bits - 1)


def _bt_op(update):
    def bt_sem(ops, i):
        seg, ea, v, bit = _bit_operand(ops, i)
        cf = (v >> bit) & 1
        if update is not None:
            nv = update(v, bit) & MASK[i.size]
            if ea is None:
                ops.write(i.ops[0], nv)
            else:
                ops.store(seg, ea, i.size, nv)
        ops.set_flags(cf, F.CF)
    return bt_sem


_bts = _bt_op(lambda v, b: v | (1 << b))
_btr = _bt_op(lambda v, b: v & ~(1 << b))
_btc = _bt_op(lambda v, b: v ^ (1 << b))
_bt = _bt_op(None)


@sem("BT")
def bt(ops, i):
    """BT r/m, r/imm8  (SDM Vol. 2A "BT"): CF = the selected bit."""
    _bt(ops, i)


@sem("BTS")
def bts(ops, i):
    """BTS r/m, r/imm8  (SDM Vol. 2A "BTS"): CF = the bit, then set it."""
    _bts(ops, i)


@sem("BTR")
def btr(ops, i):
    """BTR r/m, r/imm8  (SDM Vol. 2A "BTR"): CF = the bit, then clear it."""
    _btr(ops, i)


@sem("BTC")
def btc(ops, i):
    """BTC r/m, r/imm8  (SDM Vol. 2A "BTC"): CF = the bit, then complement it."""
    _btc(ops, i)


def _scan_translated(ops, i, v, index) -> None:
    """BSF/BSR over IR: the source ``v`` a run-time value, ``index`` the bit
    index it has when nonzero; a zero source leaves the destination as it
    was (a 32-bit one keeps its upper half in 64-bit mode, as the CPU
    under KVM does) and sets ZF.  The interpreter's path (in ``bsf`` and
    ``bsr``) branches on the value instead; both mean the same."""
    zero = v == 0
    dst = i.ops[0]
    if i.size == 4:
        ops.set_reg(dst.n, 8, ops.select(zero, ops.get_reg(dst.n, 8), index))
    else:
        ops.write(dst, ops.select(zero, ops.read(dst), index))
    ops.set_flags(ops.select(zero, F.ZF, 0), F.ZF)


@sem("BSF")
def bsf(ops, i):
    """BSF r, r/m  (SDM Vol. 2A "BSF"): index of the lowest set bit; ZF = (source == 0)."""
    v = ops.read(i.ops[1])
    if not isinstance(v, int):
        _scan_translated(ops, i, v, (v & -v).bit_length() - 1)
        return
    if v == 0:
        ops.set_flags(F.ZF, F.ZF)
        return
    ops.write(i.ops[0], (v & -v).bit_length() - 1)
    ops.set_flags(0, F.ZF)


@sem("BSR")
def bsr(ops, i):
    """BSR r, r/m  (SDM Vol. 2A "BSR"): index of the highest set bit; ZF = (source == 0)."""
    v = ops.read(i.ops[1])
    if not isinstance(v, int):
        _scan_translated(ops, i, v, v.bit_length() - 1)
        return
    if v == 0:
        ops.set_flags(F.ZF, F.ZF)
        return
    ops.write(i.ops[0], v.bit_length() - 1)
    ops.set_flags(0, F.ZF)


@sem("CMPXCHG")
def cmpxchg(ops, i):
    """CMPXCHG r/m, r  (SDM Vol. 2A "CMPXCHG"): if accumulator == r/m then
    r/m = r (ZF=1) else accumulator = r/m (ZF=0); flags of CMP acc, r/m.
    A memory destination is written either way (with its own value on a
    mismatch), as the locked read-modify-write cycle does; a register
    destination only on a match (what the CPU does: a 32-bit one keeps its
    upper half in 64-bit mode on a mismatch)."""
    size = i.size
    dst = i.ops[0]
    d = ops.read(dst)
    s = ops.read(i.ops[1])
    a = ops.get_reg(0, size)
    diff = (a - d) & MASK[size]                 # 0 when equal
    new_dst = ops.select(diff, d, s)
    if size == 4:
        # equal: rAX is not written at all (its upper half survives in 64-bit mode)
        acc_n, new_acc = 8, ops.select(diff, d, ops.get_reg(0, 8))
    else:
        acc_n, new_acc = size, ops.select(diff, d, a)
    if dst.kind == MEM:
        ops.write(dst, new_dst)
        ops.set_reg(0, acc_n, new_acc)
    else:
        ops.set_reg(0, acc_n, new_acc)
        if size == 4:
            # a 32-bit register destination is not written back on a mismatch:
            # its upper half survives in 64-bit mode (the CPU under KVM; the
            # SDM's pseudocode writes DEST := TEMP, which would clear it)
            ops.set_reg(dst.n, 8, ops.select(diff, ops.get_reg(dst.n, 8), new_dst))
        else:
            ops.write(dst, new_dst)
    ops.set_cc(CC_SUB, diff, a, d, size)


@sem("CMPXCHG8B", helper=True)
def cmpxchg8b(ops, i):
    """CMPXCHG8B m64  (SDM Vol. 2A "CMPXCHG8B/CMPXCHG16B"): if EDX:EAX == m64
    then ZF=1 and m64 = ECX:EBX, else ZF=0 and EDX:EAX = m64 (m64 is written
    back with its own value, as the locked cycle does).  Only ZF changes; on
    a match rAX and rDX are not written at all.  With REX.W it is
    CMPXCHG16B, which ``-cpu max`` does not report (CPUID.01H:ECX.CX16 = 0):
    #UD, as for a register operand (the decoder's ``M``)."""
    if i.osize == 8:
        ops.raise_exc(6, None, "CMPXCHG16B: CPUID.01H:ECX.CX16 is 0 on this CPU model")
    m = i.ops[0]
    v = ops.read(m)
    if v == (ops.get_reg(2, 4) << 32) | ops.get_reg(0, 4):
        ops.write(m, (ops.get_reg(1, 4) << 32) | ops.get_reg(3, 4))
        ops.set_flags(F.ZF, F.ZF)
    else:
        ops.write(m, v)
        ops.set_reg(0, 4, v & 0xFFFFFFFF)
        ops.set_reg(2, 4, v >> 32)
        ops.set_flags(0, F.ZF)


@sem("XADD")
def xadd(ops, i):
    """XADD r/m, r  (SDM Vol. 2B "XADD"): TEMP = SRC + DEST; SRC = DEST; DEST = TEMP."""
    size = i.size
    dst, src = i.ops[0], i.ops[1]
    d = ops.read(dst)
    s = ops.read(src)
    r = (d + s) & MASK[size]
    if dst.kind == MEM:
        ops.write(dst, r)
        ops.write(src, d)
    else:
        ops.write(src, d)
        ops.write(dst, r)
    ops.set_cc(CC_ADD, r, d, s, size)
