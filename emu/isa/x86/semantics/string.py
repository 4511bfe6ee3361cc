"""String instructions (SDM Vol. 1 §7.3.9; Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ";
8086 Family User's Manual §2.7 "String instructions"; iAPX 286 PRM §3.8).

MOVS CMPS SCAS LODS STOS INS OUTS.  The source is ``seg:rSI`` (DS unless a
segment override prefix names another), the destination is always ``ES:rDI``
(no override).  rSI/rDI/rCX are chosen by the *address* size; each step adds
or subtracts the element size as DF says.

Under a REP prefix one call runs the iterations the engine allows
(``ops.repeat_more()``, one decode per REP): with rCX = 0 nothing happens;
otherwise each iteration moves an element and decrements rCX, until the
count runs out (or, for CMPS/SCAS, the REPE/REPNE condition ends it) or the
engine asks to stop between iterations -- its budget is spent, an interrupt,
single-step or breakpoint waits, the iteration made an I/O exit or wrote
code.  Then IP is set back to the instruction (``ops.jump(i.ip)``, the first
prefix), so an interrupt or single-step comes between iterations exactly as
on the chip; each iteration counts as one instruction.  A fault in an
iteration leaves the earlier ones done, rCX/rSI/rDI as the chip leaves
them.  REP MOVS/STOS/LODS whose iterations all take the plain-RAM path run
those the engine allows at once (``ops.string_bulk``,
:func:`emu.isa.x86.string_fast.plain_run`), with the same result.

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
    mask = MASK[i.asize]
    return ops.select(ops.get_df(), mask + 1 - i.size, i.size)


READ, WRITE = 1, 2   # what a faulting access has taken off rCX under REP (286)


class _Fault(Exception):
    """An element's memory access faulted (``exc``): on a model that takes
    string faults late (286) the pointers ``regs`` have advanced already and,
    under REP, ``counts`` iterations are off rCX."""

    def __init__(self, exc, regs, counts=READ):
        super().__init__(exc)
        self.exc = exc
        self.regs = regs
        self.counts = counts


def _late(ops, i, f, step):
    """Leave rSI/rDI/rCX as the model leaves them after the fault ``f``."""
    if ops.model.string_fault_late:
        a = i.asize
        for r in f.regs:
            ops.set_reg(r, a, (ops.get_reg(r, a) + step) & MASK[a])
        if i.rep and f.counts:
            ops.set_reg(RCX, a, (ops.get_reg(RCX, a) - f.counts) & MASK[a])


def _src_seg(i):
    seg = i.seg
    return DS if seg is None else seg


def _load(ops, seg, off, size, regs, counts=READ):
    """An element's read; a fault carries what the model has advanced (``_Fault``)."""
    try:
        return ops.load(seg, off, size)
    except GuestException as e:
        raise _Fault(e, regs, counts) from None


def _store(ops, off, size, v, regs, counts=WRITE):
    """An element's write to ES:[rDI]; a fault as for :func:`_load`."""
    try:
        ops.store(ES, off, size, v)
    except GuestException as e:
        raise _Fault(e, regs, counts) from None


def _repeat(ops, i, element, seg, use_si, use_di, compare=False, bulk=False):
    """Run ``element(ops, seg, size, si, di)`` -- one element's accesses at
    offsets rSI (in segment ``seg``) and rDI -- and step the pointers it
    uses; once, or under the instruction's REP prefix for as many
    iterations as the count, the REPE/REPNE condition and the engine allow.
    DF cannot change during a REP, so the step is found once, and
    rSI/rDI/rCX are kept in hand between iterations and written back when
    the repetition stops (finished, paused, faulted or waiting for an I/O
    read)."""
    a = i.asize
    mask = MASK[a]
    size = i.size
    if not i.rep:
        step = ops.select(ops.get_df(), mask + 1 - size, size)
        si = ops.get_reg(RSI, a) if use_si else None
        di = ops.get_reg(RDI, a) if use_di else None
        try:
            element(ops, seg, size, si, di)
        except _Fault as f:
            _late(ops, i, f, step)
            raise f.exc from None
        if use_si:
            ops.set_reg(RSI, a, (si + step) & mask)
        if use_di:
            ops.set_reg(RDI, a, (di + step) & mask)
        return
    count = ops.get_reg(RCX, a)
    if count == 0:
        return
    if bulk:
        # MOVS, STOS, LODS over plain RAM: the iterations allowed at once
        n = ops.string_bulk(i)
        if n:
            if n < count:
                ops.jump(i.ip)
            return
    step = _step(ops, i)
    si = ops.get_reg(RSI, a)
    di = ops.get_reg(RDI, a)
    repe = i.rep == 0xF3
    more = False
    repeat_more = ops.repeat_more
    try:
        while True:
            element(ops, seg, size, si, di)
            si = (si + step) & mask
            di = (di + step) & mask
            count = (count - 1) & mask
            if count == 0:
                break
            if compare and repe != bool(ops.cond(F.CC_Z)):   # REPE ends on ZF=0, REPNE on ZF=1
                break
            if not repeat_more():
                more = True
                break
    except _Fault as f:
        _write_back(ops, a, use_si, use_di, si, di, count)
        _late(ops, i, f, step)
        raise f.exc from None
    except BaseException:       # a fault that is not an access's, an I/O read to serve
        _write_back(ops, a, use_si, use_di, si, di, count)
        raise
    _write_back(ops, a, use_si, use_di, si, di, count)
    if more:
        ops.jump(i.ip)


def _write_back(ops, a, use_si, use_di, si, di, count):
    if use_si:
        ops.set_reg(RSI, a, si)
    if use_di:
        ops.set_reg(RDI, a, di)
    ops.set_reg(RCX, a, count)


# One element of each string instruction: fn(ops, seg, size, si, di), seg
# being the source segment (DS or the override prefix's).

def _movs_element(ops, seg, size, si, di):
    # the accesses of _load and _store, inline: the copy is the hot REP
    try:
        v = ops.load(seg, si, size)
    except GuestException as e:
        raise _Fault(e, (RSI,), READ) from None
    try:
        ops.store(ES, di, size, v)
    except GuestException as e:
        raise _Fault(e, (RSI, RDI), WRITE) from None


def _cmps_element(ops, seg, size, si, di):
    # the 286 reads ES:[rDI] first: its fault has advanced rDI only
    b = _load(ops, ES, di, size, (RDI,), 0)
    a = _load(ops, seg, si, size, (RSI, RDI))
    ops.set_cc(CC_SUB, (a - b) & MASK[size], a, b, size)


def _scas_element(ops, seg, size, si, di):
    a = ops.get_reg(RAX, size)
    b = _load(ops, ES, di, size, (RDI,))
    ops.set_cc(CC_SUB, (a - b) & MASK[size], a, b, size)


def _lods_element(ops, seg, size, si, di):
    try:
        v = ops.load(seg, si, size)
    except GuestException as e:
        raise _Fault(e, (RSI,), READ) from None
    ops.set_reg(RAX, size, v)


def _stos_element(ops, seg, size, si, di):
    try:
        ops.store(ES, di, size, ops.get_reg(RAX, size))
    except GuestException as e:
        raise _Fault(e, (RDI,), WRITE) from None


def _ins_element(ops, seg, size, si, di):
    _store(ops, di, size, ops.port_in(ops.get_reg(RDX, 2), size), (RDI,))


def _outs_element(ops, seg, size, si, di):
    ops.port_out(ops.get_reg(RDX, 2), size, _load(ops, seg, si, size, (RSI,)))


@sem("MOVS", helper="rep")
def movs(ops, i):
    """MOVS m8/m16/m32, m8/m16/m32 (MOVSB/MOVSW/MOVSD): ES:[rDI] = seg:[rSI]."""
    _repeat(ops, i, _movs_element, _src_seg(i), True, True, bulk=True)


@sem("CMPS", helper="rep")
def cmps(ops, i):
    """CMPS m8/m16/m32, m8/m16/m32: flags of seg:[rSI] - ES:[rDI]."""
    _repeat(ops, i, _cmps_element, _src_seg(i), True, True, compare=True)


@sem("SCAS", helper="rep")
def scas(ops, i):
    """SCAS m8/m16/m32: flags of AL/AX/EAX - ES:[rDI]."""
    _repeat(ops, i, _scas_element, ES, False, True, compare=True)


@sem("LODS", helper="rep")
def lods(ops, i):
    """LODS m8/m16/m32: AL/AX/EAX = seg:[rSI]."""
    _repeat(ops, i, _lods_element, _src_seg(i), True, False, bulk=True)


@sem("STOS", helper="rep")
def stos(ops, i):
    """STOS m8/m16/m32: ES:[rDI] = AL/AX/EAX."""
    _repeat(ops, i, _stos_element, ES, False, True, bulk=True)


@sem("INS", helper=True)
def ins(ops, i):
    """INS m8/m16/m32, DX: ES:[rDI] = port DX (an IO exit; the read comes first,
    so a re-executed iteration after the Machine served it commits once)."""
    _repeat(ops, i, _ins_element, ES, False, True)


@sem("OUTS", helper=True)
def outs(ops, i):
    """OUTS DX, m8/m16/m32: port DX = seg:[rSI]."""
    _repeat(ops, i, _outs_element, _src_seg(i), True, False)


#: the instructions a REP prefix repeats (the decoder marks them ``repeats``)
REPEATING = frozenset(("MOVS", "CMPS", "SCAS", "LODS", "STOS", "INS", "OUTS"))
