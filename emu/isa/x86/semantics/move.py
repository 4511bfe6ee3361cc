"""Data transfer and conversion (SDM Vol. 1 §7.3.1, §7.3.6, §7.3.9)."""

from .. import flags as F
from ..flags import MASK
from ..insn import MEM
from ..state import DS, within_limit
from . import sem


@sem("MOV")
def mov(ops, i):
    """MOV r/m, r/m/imm  (SDM Vol. 2B "MOV")"""
    ops.write(i.ops[0], ops.read(i.ops[1]))


@sem("MOV_FROM_SEG")
def mov_from_seg(ops, i):
    """MOV r/m16, Sreg: a memory destination is always 16 bits; a register
    destination is zero-extended at 32/64-bit operand size."""
    v = ops.get_seg(i.ops[1].n)
    o = i.ops[0]
    if o.kind == MEM:
        ops.store(o.seg, ops.ea(o), 2, v)
    else:
        ops.write(o, v)


@sem("MOV_TO_SEG")
def mov_to_seg(ops, i):
    """MOV Sreg, r/m16 (MOV CS is #UD on 186+; the 8086 executes it)."""
    n = i.ops[0].n
    if n == 1 and ops.model.has_ud:
        ops.raise_exc(6, None, "MOV CS")
    ops.load_seg(n, ops.read(i.ops[1]) & 0xFFFF)


@sem("XCHG")
def xchg(ops, i):
    """XCHG r/m, r  (SDM Vol. 2B "XCHG")"""
    a = ops.read(i.ops[0])
    b = ops.read(i.ops[1])
    ops.write(i.ops[0], b)
    ops.write(i.ops[1], a)


@sem("NOP", "NOP_EV", "WAIT")
def nop(ops, i):
    """NOP; WAIT (no FPU to wait for)."""


@sem("NOP90")
def nop90(ops, i):
    """Opcode 90 in 64-bit mode (SDM Vol. 2B "XCHG", "NOP"): NOP -- also
    with REX.W, and without the zero-extension XCHG EAX, EAX would do --
    unless REX.B makes the register R8: then XCHG r8, rAX."""
    if i.ops[0].n != 0:
        xchg(ops, i)


# x87 memory operand sizes by ESC opcode (and ModR/M reg where they differ),
# SDM Vol. 1 §8.1 / Vol. 2 "FLD", "FSTENV", "FSAVE"; 16-bit environment forms.
_ESC_SIZE = {0xD8: 4, 0xDA: 4, 0xDC: 8, 0xDE: 2}
_ESC_GROUP_SIZE = {0xD9: (4, 4, 4, 4, 14, 2, 14, 2), 0xDB: (4, 4, 4, 4, 2, 10, 2, 10),
                   0xDD: (8, 8, 8, 8, 94, 2, 94, 2), 0xDF: (2, 2, 2, 2, 10, 8, 10, 8)}


@sem("ESC", helper=True)
def esc(ops, i):
    """ESC 0-7 (D8-DF) with no x87 fitted: only the ModR/M is decoded
    (8086 Family User's Manual §2.7 "ESC").  The 286 still checks a memory
    operand against the segment limit: one beyond it raises #GP(13) (iAPX 286
    PRM §B; SingleStepTests 80286 D8 vectors)."""
    if ops.model.level < 286:
        return
    for o in i.ops:
        if o.kind == MEM:
            sizes = _ESC_GROUP_SIZE.get(i.opcode)
            size = sizes[i.reg] if sizes else _ESC_SIZE.get(i.opcode, 2)
            off = ops.ea(o)
            if not within_limit(ops.segs[o.seg], off, size):
                ops.raise_exc(13, 0, "x87 operand beyond the segment limit")


@sem("LEA")
def lea(ops, i):
    """LEA r, m  (SDM Vol. 2A "LEA"): the offset, truncated to the operand size."""
    ops.write(i.ops[0], ops.ea(i.ops[1]) & MASK[i.osize])


@sem("MOVZX")
def movzx(ops, i):
    ops.write(i.ops[0], ops.read(i.ops[1]))


@sem("MOVSX")
def movsx(ops, i):
    v = ops.read(i.ops[1])
    bits = 8 * i.ops[1].size
    sign = 1 << (bits - 1)
    ops.write(i.ops[0], ((v ^ sign) - sign) & MASK[i.osize])


@sem("MOVSXD")
def movsxd(ops, i):
    """MOVSXD r, r/m32  (SDM Vol. 2B "MOVSX/MOVSXD", opcode 63 in 64-bit mode):
    with REX.W the dword is sign-extended to 64 bits; without it the low 32
    (or, with 66, 16) bits are moved.  The source is read as a dword in every
    form (a 16-bit form reads two bytes more than a part would)."""
    movsx(ops, i)


@sem("CBW")
def cbw(ops, i):
    """CBW/CWDE/CDQE: sign-extend the low half of rAX into rAX."""
    half = i.osize // 2
    v = ops.get_reg(0, half)
    sign = 1 << (8 * half - 1)
    ops.set_reg(0, i.osize, ((v ^ sign) - sign) & MASK[i.osize])


@sem("CWD")
def cwd(ops, i):
    """CWD/CDQ/CQO: rDX = all copies of rAX's sign bit."""
    v = ops.get_reg(0, i.osize)
    ops.set_reg(2, i.osize, 0 - ((v >> (8 * i.osize - 1)) & 1))


@sem("LAHF")
def lahf(ops, i):
    """LAHF: AH = SF:ZF:0:AF:0:PF:1:CF (with the model's fixed bits)."""
    f = ops.get_flags()
    ops.set_reg(0, 2, (ops.get_reg(0, 2) & 0xFF) | ((f & 0xD5 | 2) << 8))


@sem("SAHF")
def sahf(ops, i):
    """SAHF: SF ZF AF PF CF = AH."""
    ops.set_flags((ops.get_reg(0, 2) >> 8) & 0xFF, F.SF | F.ZF | F.AF | F.PF | F.CF)


@sem("XLAT")
def xlat(ops, i):
    """XLAT: AL = [seg:rBX + AL], DS unless overridden."""
    seg = DS if i.seg is None else i.seg
    off = (ops.get_reg(3, i.asize) + ops.get_reg(0, 1)) & MASK[i.asize]
    ops.set_reg(0, 1, ops.load(seg, off, 1))


def _load_far(seg_n):
    def fn(ops, i):
        m = i.ops[1]
        off = ops.ea(m)
        n = min(i.osize, 4) if i.osize != 8 else 8
        v = ops.load(m.seg, off, n)
        sel = ops.load(m.seg, (off + n) & m.amask, 2)
        ops.load_seg(seg_n, sel)
        ops.write(i.ops[0], v)
    return fn


sem("LES")(_load_far(0))
sem("LDS")(_load_far(3))
sem("LSS", helper=True)(_load_far(2))
sem("LFS")(_load_far(4))
sem("LGS")(_load_far(5))


@sem("SETCC")
def setcc(ops, i):
    ops.write(i.ops[0], ops.select(ops.cond(i.cc), 1, 0))


@sem("CMOVCC")
def cmovcc(ops, i):
    """CMOVcc: the source is read even when the condition is false, and a
    32-bit destination is zero-extended either way (SDM "CMOVcc")."""
    v = ops.read(i.ops[1])
    old = ops.read(i.ops[0])
    ops.write(i.ops[0], ops.select(ops.cond(i.cc), v, old))


@sem("SALC")
def salc(ops, i):
    """SALC (undocumented, D6): AL = CF ? 0xFF : 0."""
    ops.set_reg(0, 1, ops.select(ops.get_cf(), 0xFF, 0))


@sem("BSWAP")
def bswap(ops, i):
    v = ops.read(i.ops[0])
    n = i.ops[0].size
    r = 0
    for k in range(n):
        r |= ((v >> (8 * k)) & 0xFF) << (8 * (n - 1 - k))
    ops.write(i.ops[0], r)
