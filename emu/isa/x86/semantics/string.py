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

Model facts: on the 286 a segment-limit fault (a word at offset 0xFFFF) is
taken only after the microcode has advanced the pointers: a faulting source
read has already advanced rSI (MOVS, LODS, OUTS) or rSI and rDI (CMPS,
which reads ES:rDI first); a faulting destination access has advanced both.
Under REP the count is ahead of the pointers: a faulting memory *read* has
taken this iteration off rCX (MOVS source, LODS, SCAS, OUTS, the second
CMPS read; not the first CMPS read, ES:rDI), and a faulting memory *write*
(MOVS and STOS destination, INS) has also counted the next iteration: rCX
drops by 2, to 0xFFFF when the faulting element was the last one.  The
pushed IP is the instruction's first prefix, as for an interrupt between
iterations, so a handler restarts the element with rCX + 1 (read) or rCX + 2
(write) and the pointers stepped back.  That is ``model.string_fault_late``:
found in the SingleStepTests 80286 vectors (A5 #167/#175 source faults in a
REP MOVSW, 6D #126/#151/#168 REP INSW, 6F REP OUTSW, A7 #191 REP CMPSW) and
in Intel's "80286 REP MOVS and REP INS Restartability" (1984), whose restart
rule for REP MOVS/INS destination violations needs rCX = 0xFFFF after the
last element (B/C steppings left 0 there; later steppings 0xFFFF).
On the 8086 and 286 the F2 (REPNE) prefix repeats MOVS,
LODS, STOS, INS and OUTS just as F3 does (only CMPS/SCAS test ZF).
Under a REP prefix these run on concrete values (helpers): the loop is
run-time control flow; so do INS and OUTS (port I/O).  One plain MOVS,
CMPS, SCAS, LODS or STOS is straight-line code (DF picks the step with
``ops.select``) and translates (``helper="rep"``).
"""

from .. import flags as F
from ..flags import CC_SUB, MASK
from ..state import DS, ES
from ...ops import GuestException
from . import sem

RSI, RDI, RCX, RAX, RDX = 6, 7, 1, 0, 2


def _step(ops, i):
    """+size or -size (as a value to add, modulo the address size) by DF."""
    return ops.select(ops.get_flags() & F.DF, (-i.size) & MASK[i.asize], i.size)


def _advance(ops, i, reg, step):
    a = i.asize
    ops.set_reg(reg, a, (ops.get_reg(reg, a) + step) & MASK[a])


READ, WRITE = 1, 2   # what a faulting access has taken off rCX under REP (286)


def _access(ops, i, fn, regs, step, counts=READ):
    """Do one memory access; on a fault, first advance ``regs`` (and, under
    REP, take ``counts`` off rCX) if the model takes string faults late (286)."""
    try:
        return fn()
    except GuestException:
        if ops.model.string_fault_late:
            for r in regs:
                _advance(ops, i, r, step)
            if i.rep and counts:
                ops.set_reg(RCX, i.asize, (ops.get_reg(RCX, i.asize) - counts) & MASK[i.asize])
        raise


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


@sem("MOVS", helper="rep")
def movs(ops, i):
    """MOVS m8/m16/m32, m8/m16/m32 (MOVSB/MOVSW/MOVSD): ES:[rDI] = seg:[rSI]."""
    def body():
        step = _step(ops, i)
        v = _access(ops, i, lambda: ops.load(_src_seg(i), ops.get_reg(RSI, i.asize), i.size),
                    (RSI,), step)
        _access(ops, i, lambda: ops.store(ES, ops.get_reg(RDI, i.asize), i.size, v),
                (RSI, RDI), step, counts=WRITE)
        _advance(ops, i, RSI, step)
        _advance(ops, i, RDI, step)
    _repeat(ops, i, body)


@sem("CMPS", helper="rep")
def cmps(ops, i):
    """CMPS m8/m16/m32, m8/m16/m32: flags of seg:[rSI] - ES:[rDI]."""
    def body():
        step = _step(ops, i)
        # the 286 reads ES:[rDI] first: its fault has advanced rDI only
        b = _access(ops, i, lambda: ops.load(ES, ops.get_reg(RDI, i.asize), i.size),
                    (RDI,), step, counts=0)
        a = _access(ops, i, lambda: ops.load(_src_seg(i), ops.get_reg(RSI, i.asize), i.size),
                    (RSI, RDI), step)
        ops.set_cc(CC_SUB, (a - b) & MASK[i.size], a, b, i.size)
        _advance(ops, i, RSI, step)
        _advance(ops, i, RDI, step)
    _repeat(ops, i, body, compare=True)


@sem("SCAS", helper="rep")
def scas(ops, i):
    """SCAS m8/m16/m32: flags of AL/AX/EAX - ES:[rDI]."""
    def body():
        step = _step(ops, i)
        a = ops.get_reg(RAX, i.size)
        b = _access(ops, i, lambda: ops.load(ES, ops.get_reg(RDI, i.asize), i.size), (RDI,), step)
        ops.set_cc(CC_SUB, (a - b) & MASK[i.size], a, b, i.size)
        _advance(ops, i, RDI, step)
    _repeat(ops, i, body, compare=True)


@sem("LODS", helper="rep")
def lods(ops, i):
    """LODS m8/m16/m32: AL/AX/EAX = seg:[rSI]."""
    def body():
        step = _step(ops, i)
        v = _access(ops, i, lambda: ops.load(_src_seg(i), ops.get_reg(RSI, i.asize), i.size),
                    (RSI,), step)
        ops.set_reg(RAX, i.size, v)
        _advance(ops, i, RSI, step)
    _repeat(ops, i, body)


@sem("STOS", helper="rep")
def stos(ops, i):
    """STOS m8/m16/m32: ES:[rDI] = AL/AX/EAX."""
    def body():
        step = _step(ops, i)
        _access(ops, i, lambda: ops.store(ES, ops.get_reg(RDI, i.asize), i.size,
                                          ops.get_reg(RAX, i.size)), (RDI,), step, counts=WRITE)
        _advance(ops, i, RDI, step)
    _repeat(ops, i, body)


@sem("INS", helper=True)
def ins(ops, i):
    """INS m8/m16/m32, DX: ES:[rDI] = port DX (an IO exit; the read comes first,
    so a re-executed iteration after the Machine served it commits once)."""
    def body():
        step = _step(ops, i)
        v = ops.port_in(ops.get_reg(RDX, 2), i.size)
        _access(ops, i, lambda: ops.store(ES, ops.get_reg(RDI, i.asize), i.size, v), (RDI,), step,
                counts=WRITE)
        _advance(ops, i, RDI, step)
    _repeat(ops, i, body)


@sem("OUTS", helper=True)
def outs(ops, i):
    """OUTS DX, m8/m16/m32: port DX = seg:[rSI]."""
    def body():
        step = _step(ops, i)
        v = _access(ops, i, lambda: ops.load(_src_seg(i), ops.get_reg(RSI, i.asize), i.size),
                    (RSI,), step)
        ops.port_out(ops.get_reg(RDX, 2), i.size, v)
        _advance(ops, i, RSI, step)
    _repeat(ops, i, body)
