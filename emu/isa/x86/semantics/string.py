"""String instructions (SDM Vol. 1 §7.3.9; Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ";
8086 Family User's Manual §2.7 "String instructions"; iAPX 286 PRM §3.8).

MOVS CMPS SCAS LODS STOS INS OUTS.  The source is ``seg:rSI`` (DS unless a
segment override prefix names another), the destination is always ``ES:rDI``
(no override).  rSI/rDI/rCX are chosen by the *address* size; each step adds
or subtracts the element size as DF says.

Under a REP prefix one call is **one iteration**: with rCX = 0 nothing
happens; otherwise the element is moved, rCX decremented and, unless the
count ran out (or, for CMPS/SCAS, the REPE/REPNE condition ended it), IP is
set back to the instruction (``ops.jump(i.ip)``, the first prefix), so an
interrupt or single-step can come between iterations exactly as on the chip.

Model facts: on the 8086 and 286 the F2 (REPNE) prefix repeats MOVS, LODS,
STOS, INS and OUTS just as F3 does (the Z test is only made by CMPS/SCAS).
All of these run on concrete values (``helper=True``): their loop and I/O
are run-time control flow.
"""

from .. import flags as F
from ..flags import CC_SUB, MASK
from ..state import DS, ES
from . import sem

RSI, RDI, RCX, RAX, RDX = 6, 7, 1, 0, 2


def _step(ops, i):
    """+size or -size (as a value to add, modulo the address size) by DF."""
    if ops.get_flags() & F.DF:
        return (-i.size) & MASK[i.asize]
    return i.size


def _advance(ops, i, reg, step):
    a = i.asize
    ops.set_reg(reg, a, (ops.get_reg(reg, a) + step) & MASK[a])


def _src_seg(i):
    return DS if i.seg is None else i.seg


def _repeat(ops, i, body, compare=False):
    """Run one iteration of ``body`` under the instruction's REP prefix."""
    if not i.rep:
        body()
        return
    a = i.asize
    count = ops.get_reg(RCX, a)
    if count == 0:
        return
    body()
    count = (count - 1) & MASK[a]
    ops.set_reg(RCX, a, count)
    if count == 0:
        return
    if compare:
        zf = ops.cond(F.CC_Z)
        if (i.rep == 0xF3) != bool(zf):      # REPE ends on ZF=0, REPNE on ZF=1
            return
    ops.jump(i.ip)


@sem("MOVS", helper=True)
def movs(ops, i):
    """MOVS m8/m16/m32, m8/m16/m32 (MOVSB/MOVSW/MOVSD): ES:[rDI] = seg:[rSI]."""
    def body():
        step = _step(ops, i)
        v = ops.load(_src_seg(i), ops.get_reg(RSI, i.asize), i.size)
        ops.store(ES, ops.get_reg(RDI, i.asize), i.size, v)
        _advance(ops, i, RSI, step)
        _advance(ops, i, RDI, step)
    _repeat(ops, i, body)


@sem("CMPS", helper=True)
def cmps(ops, i):
    """CMPS m8/m16/m32, m8/m16/m32: flags of seg:[rSI] - ES:[rDI]."""
    def body():
        step = _step(ops, i)
        a = ops.load(_src_seg(i), ops.get_reg(RSI, i.asize), i.size)
        b = ops.load(ES, ops.get_reg(RDI, i.asize), i.size)
        ops.set_cc(CC_SUB, (a - b) & MASK[i.size], a, b, i.size)
        _advance(ops, i, RSI, step)
        _advance(ops, i, RDI, step)
    _repeat(ops, i, body, compare=True)


@sem("SCAS", helper=True)
def scas(ops, i):
    """SCAS m8/m16/m32: flags of AL/AX/EAX - ES:[rDI]."""
    def body():
        step = _step(ops, i)
        a = ops.get_reg(RAX, i.size)
        b = ops.load(ES, ops.get_reg(RDI, i.asize), i.size)
        ops.set_cc(CC_SUB, (a - b) & MASK[i.size], a, b, i.size)
        _advance(ops, i, RDI, step)
    _repeat(ops, i, body, compare=True)


@sem("LODS", helper=True)
def lods(ops, i):
    """LODS m8/m16/m32: AL/AX/EAX = seg:[rSI]."""
    def body():
        step = _step(ops, i)
        v = ops.load(_src_seg(i), ops.get_reg(RSI, i.asize), i.size)
        ops.set_reg(RAX, i.size, v)
        _advance(ops, i, RSI, step)
    _repeat(ops, i, body)


@sem("STOS", helper=True)
def stos(ops, i):
    """STOS m8/m16/m32: ES:[rDI] = AL/AX/EAX."""
    def body():
        step = _step(ops, i)
        ops.store(ES, ops.get_reg(RDI, i.asize), i.size, ops.get_reg(RAX, i.size))
        _advance(ops, i, RDI, step)
    _repeat(ops, i, body)


@sem("INS", helper=True)
def ins(ops, i):
    """INS m8/m16/m32, DX: ES:[rDI] = port DX (an IO exit; the read comes first,
    so a re-executed iteration after the Machine served it commits once)."""
    def body():
        step = _step(ops, i)
        v = ops.port_in(ops.get_reg(RDX, 2), i.size)
        ops.store(ES, ops.get_reg(RDI, i.asize), i.size, v)
        _advance(ops, i, RDI, step)
    _repeat(ops, i, body)


@sem("OUTS", helper=True)
def outs(ops, i):
    """OUTS DX, m8/m16/m32: port DX = seg:[rSI]."""
    def body():
        step = _step(ops, i)
        v = ops.load(_src_seg(i), ops.get_reg(RSI, i.asize), i.size)
        ops.port_out(ops.get_reg(RDX, 2), i.size, v)
        _advance(ops, i, RSI, step)
    _repeat(ops, i, body)
