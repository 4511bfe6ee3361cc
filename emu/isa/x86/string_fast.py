"""REP MOVS/STOS/LODS over plain RAM in one go: the fast path of x86 string instructions.

A repeated string instruction is a helper (its iterations are run-time
control flow, SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ"); when every one of
its iterations would take ConcreteOps' plain-RAM path, they run all at
once here (:func:`plain_run`), each still counting as one instruction: in
the interpreter's REP loop (:meth:`ConcreteOps.string_bulk`, for the
iterations its budget allows in one step) and in the translator
(:mod:`emu.accel.tcg`, through ``X86Frontend.fast_path``: :func:`string_fast`).
"""

from __future__ import annotations

from .flags import MASK as MASKS
from .state import DS, ES

STRING_FAST = frozenset(("MOVS", "STOS", "LODS"))


def string_fast(tr, insn, budget: int) -> int:
    """Run up to ``budget`` iterations of a REP MOVS/STOS/LODS at once, when
    every iteration would take ConcreteOps' plain-RAM path: no paging, all
    offsets inside the segment limits without wrapping, the whole run in
    RAM, no code granule written (self-modifying code stays on the slow
    path), nothing pending (an interrupt, TF, an I/O restart) that the
    interpreter would act on between iterations, and for MOVS no overlap
    that a byte-by-byte copy would see.  Returns the iterations retired
    (each one instruction, as the interpreter counts them), or 0: not
    applicable, let the interpreter run it."""
    if insn.name not in STRING_FAST:
        return 0
    s = tr.s
    core = tr.core
    ops = core.ops
    interp = tr.interp
    fl = s.fl
    if (ops.translate is not None or core.code_key[0] or s.rip != insn.ip
            or interp.queued or ops.pending_read is not None or s.halted or s.inhibit_irq
            or (interp.irq_line and fl & 0x200) or fl & 0x100):        # IF, TF
        return 0
    count = s.regs[1] & MASKS[insn.asize]
    n = count if count < budget else budget
    if n <= 0 or not plain_run(s, tr.machine.ram, ops.amask, insn, n):
        return 0
    s.rip = insn.next_ip if count == n else insn.ip
    ops.insn = insn
    tr.counters["string_fast_insns"] += n
    return n


def plain_run(s, ram, amask: int, insn, n: int) -> bool:
    """Run ``n`` iterations (0 < n <= rCX) of the REP MOVS/STOS/LODS
    ``insn`` at once, on state ``s`` and ``ram`` (physical addresses below
    ``amask``, no paging), if each would take ConcreteOps' plain-RAM path:
    all offsets inside the segment limits without wrapping, the whole run in
    RAM, no code granule written (self-modifying code stays on the slow
    path), and for MOVS no overlap that a byte-by-byte copy would see.
    rSI/rDI/rCX are left as after the ``n`` iterations.  False: nothing done."""
    regs = s.regs
    asize = insn.asize
    am = MASKS[asize]
    count = regs[1] & am
    size = insn.size
    span = n * size
    back = s.fl & 0x400                                                 # DF
    top = min(amask + 1, ram.size)              # a string run must end below
    name = insn.name
    mm = ram.mm
    if name != "STOS":
        off = regs[6] & am
        lo = off - span + size if back else off
        sg = s.segs[DS if insn.seg is None else insn.seg]
        src = sg.base + lo
        hi = lo + span - 1
        if lo < 0 or hi > am or hi > sg.limit or src + span > top:
            return False
    if name != "LODS":
        off = regs[7] & am
        lo = off - span + size if back else off
        sg = s.segs[ES]
        dst = sg.base + lo
        hi = lo + span - 1
        if lo < 0 or hi > am or hi > sg.limit or dst + span > top:
            return False
        cm = ram.code_map
        g0, g1 = dst >> 6, (dst + span - 1) >> 6
        if cm[g0] or cm[g1] or (g1 - g0 > 1 and any(cm[g0:g1])):
            return False
    if name == "STOS":
        v = regs[0] & MASKS[size]
        if span == 1:
            mm[dst] = v
        else:
            mm[dst:dst + span] = v.to_bytes(size, "little") * n
    elif name == "LODS":
        last = src if back else src + span - size
        v = int.from_bytes(mm[last:last + size], "little")
        regs[0] = v if size >= 4 else (regs[0] & ~MASKS[size]) | v
    else:
        if (dst < src < dst + span) if back else (src < dst < src + span):
            return False                 # overlapping the way a forward/backward copy sees
        mm[dst:dst + span] = mm[src:src + span]
    step = -span if back else span
    # rSI/rDI/rCX as ConcreteOps.set_reg writes them (32 bits: zero-extended)
    if asize >= 4:
        if name != "STOS":
            regs[6] = (regs[6] + step) & am
        if name != "LODS":
            regs[7] = (regs[7] + step) & am
        regs[1] = count - n
    else:
        if name != "STOS":
            regs[6] = (regs[6] & ~am) | ((regs[6] + step) & am)
        if name != "LODS":
            regs[7] = (regs[7] & ~am) | ((regs[7] + step) & am)
        regs[1] = (regs[1] & ~am) | (count - n)
    return True
