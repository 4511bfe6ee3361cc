"""REP string instructions over plain RAM in one go: the fast path of x86 string instructions.

A repeated string instruction is a helper (its iterations are run-time
control flow, SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ"); when its
iterations would take ConcreteOps' plain-RAM path, they run all at once
here, each still counting as one instruction:

* REP MOVS/STOS/LODS (:func:`plain_run`): in the interpreter's REP loop
  (:meth:`ConcreteOps.string_bulk`, for the iterations its budget allows in
  one step) and in the translator (:mod:`emu.accel.tcg`, through
  ``X86Frontend.fast_path``: :func:`string_fast`, which also runs a MOVS
  whose destination overlaps its source by an element or more at once:
  the pattern an element-by-element copy repeats, :func:`_overlapped`);
* REPE/REPNE CMPS and SCAS (:func:`plain_compare`, the translator's): the
  elements compared are searched with the host's byte-string operations
  for the first that ends the repetition (REPE: a difference, REPNE: an
  equal pair; SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ", Table 4-13), over
  the run of elements that lies in plain RAM inside the segment limits --
  the element where the run stops short (a limit, an address wrap, the end
  of RAM) is left to the interpreter, which faults or wraps exactly.  The
  flags are those of the last comparison made, as a SUB's (Vol. 2A "CMPS",
  Vol. 2B "SCAS").
"""

from __future__ import annotations

from array import array

from .flags import CC_SUB, MASK as MASKS
from .state import DS, ES

STRING_FAST = frozenset(("MOVS", "STOS", "LODS"))
COMPARES = frozenset(("CMPS", "SCAS"))
#: element size -> an array typecode of that many bytes (reversing a backward run)
_CODES = {n: next(c for c in "BHILQ" if array(c).itemsize == n) for n in (1, 2, 4, 8)}


def string_fast(tr, insn, budget: int) -> int:
    """Run up to ``budget`` iterations of a REP MOVS/STOS/LODS/CMPS/SCAS at
    once, when those iterations would take ConcreteOps' plain-RAM path: no
    paging, offsets inside the segment limits without wrapping, in RAM, no
    code granule written (self-modifying code stays on the slow path),
    nothing pending (an interrupt, TF, an I/O restart) that the interpreter
    would act on between iterations, and for MOVS no overlap that a
    byte-by-byte copy would see.  Returns the iterations retired (each one
    instruction, as the interpreter counts them; a count of 0 retires the
    instruction alone), or 0: not applicable, let the interpreter run it."""
    name = insn.name
    compare = name in COMPARES
    if not compare and name not in STRING_FAST:
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
    if count == 0:              # no iteration: the instruction only retires
        s.rip = insn.next_ip
        ops.insn = insn
        tr.counters["string_fast_insns"] += 1
        return 1
    n = count if count < budget else budget
    if compare:
        done, last = plain_compare(s, tr.machine.ram, ops.amask, insn, n)
        if not done:
            return 0
        n = done
        s.rip = insn.next_ip if count == n or last else insn.ip
    else:
        if not plain_run(s, tr.machine.ram, ops.amask, insn, n, overlap=True):
            return 0
        s.rip = insn.next_ip if count == n else insn.ip
    ops.insn = insn
    tr.counters["string_fast_insns"] += n
    return n


def _reach(sg, off: int, size: int, n: int, back, am: int, top: int) -> int:
    """How many of ``n`` elements of ``size`` bytes from offset ``off`` of
    segment ``sg`` (stepping down when ``back``) lie inside its limit,
    without the offset wrapping at ``am``, and below ``top`` (the end of
    the RAM the address lines reach)."""
    hi = min(am, sg.limit, top - 1 - sg.base)      # the last byte an element may use
    if back:
        if off + size - 1 > hi:
            return 0
        k = off // size + 1
    else:
        k = (hi - off + 1) // size if hi >= off else 0
    return k if k < n else n


def _lowest(sg, off: int, size: int, n: int, back) -> int:
    """The physical address of the lowest byte of the ``n`` elements from ``off``."""
    return sg.base + (off - (n - 1) * size if back else off)


def _advance(regs, asize: int, am: int, count: int, n: int, step: int, use_si: bool, use_di: bool) -> None:
    """rSI/rDI/rCX after ``n`` iterations of ``step`` bytes, as
    ConcreteOps.set_reg writes them (32 bits: zero-extended)."""
    if asize >= 4:
        if use_si:
            regs[6] = (regs[6] + step) & am
        if use_di:
            regs[7] = (regs[7] + step) & am
        regs[1] = count - n
    else:
        if use_si:
            regs[6] = (regs[6] & ~am) | ((regs[6] + step) & am)
        if use_di:
            regs[7] = (regs[7] & ~am) | ((regs[7] + step) & am)
        regs[1] = (regs[1] & ~am) | (count - n)


def plain_run(s, ram, amask: int, insn, n: int, overlap: bool = False) -> bool:
    """Run ``n`` iterations (0 < n <= rCX) of the REP MOVS/STOS/LODS
    ``insn`` at once, on state ``s`` and ``ram`` (physical addresses below
    ``amask``, no paging), if each would take ConcreteOps' plain-RAM path:
    all offsets inside the segment limits without wrapping, the whole run in
    RAM, no code granule written (self-modifying code stays on the slow
    path), and for MOVS no overlap that an element-by-element copy would
    see -- or, with ``overlap``, one at a distance of an element or more
    (:func:`_overlapped`).  rSI/rDI/rCX are left as after the ``n``
    iterations.  False: nothing done."""
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
        sg = s.segs[DS if insn.seg is None else insn.seg]
        off = regs[6] & am
        if _reach(sg, off, size, n, back, am, top) < n:
            return False
        src = _lowest(sg, off, size, n, back)
    if name != "LODS":
        sg = s.segs[ES]
        off = regs[7] & am
        if _reach(sg, off, size, n, back, am, top) < n:
            return False
        dst = _lowest(sg, off, size, n, back)
        cm = ram.code_map
        g0, g1 = dst >> 6, (dst + span - 1) >> 6
        if (cm[g0] or cm[g1] or (g1 - g0 > 1 and any(cm[g0:g1]))) and ram.holds_code(dst, span):
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
            # overlapping the way a forward/backward copy sees
            d = src - dst if back else dst - src
            if not overlap or d < size:
                return False
            mm[dst:dst + span] = _overlapped(mm, src, span, d, back)
        else:
            mm[dst:dst + span] = mm[src:src + span]
    _advance(regs, asize, am, count, n, -span if back else span, name != "STOS", name != "LODS")
    return True


def _overlapped(mm, src: int, span: int, d: int, back) -> bytes:
    """What a copy of ``span`` bytes from ``src`` (lowest address) to ``d``
    bytes above it (``back``: below it) leaves, element by element in the
    order of the run, when ``d`` is at least an element: every element
    reads bytes the run has already written or that it never writes, so
    each destination byte is the one ``d`` before it in the run's order --
    the ``d`` source bytes the run does not overwrite, repeated."""
    seed = mm[src + span - d:src + span] if back else mm[src:src + d]
    whole = seed * -(-span // d)
    return whole[len(whole) - span:] if back else whole[:span]


def _in_order(raw: bytes, size: int, back) -> bytes:
    """The elements of ``raw`` (the bytes of a run, lowest address first) in
    the order a run that steps down (``back``) visits them, each element's
    bytes as they are."""
    if not back:
        return raw
    if size == 1:
        return raw[::-1]
    a = array(_CODES[size], raw)
    a.reverse()
    return a.tobytes()


def _first_difference(x: bytes, y: bytes) -> int:
    """The index of the first byte where ``x`` and ``y`` (of one length)
    differ, or -1: halving the range by comparisons of slices."""
    if x == y:
        return -1
    lo, hi = 0, len(x)          # x[:lo] == y[:lo], x[:hi] != y[:hi]
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if x[lo:mid] == y[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _first_equal(x: bytes, y: bytes, size: int) -> int:
    """The index of the first ``size``-byte element equal in ``x`` and ``y``, or -1."""
    for j in range(0, len(x), size):
        if x[j:j + size] == y[j:j + size]:
            return j // size
    return -1


def _find_element(y: bytes, pat: bytes, size: int) -> int:
    """The index of the first ``size``-byte element of ``y`` equal to ``pat``, or -1."""
    i = y.find(pat)
    while i > 0 and i % size:
        i = y.find(pat, i + 1)
    return i if i < 0 else i // size


def plain_compare(s, ram, amask: int, insn, n: int) -> tuple:
    """Run up to ``n`` iterations (0 < n <= rCX) of the REPE/REPNE
    CMPS/SCAS ``insn`` at once, on state ``s`` and ``ram`` (physical
    addresses below ``amask``, no paging): those whose elements lie in
    plain RAM inside the segment limits without wrapping, up to and with
    the first comparison that ends the repetition.  rSI/rDI/rCX and the
    flag record are left as after them.  Returns (the iterations run,
    whether the last one's comparison ended the repetition); (0, False):
    nothing done (the first element is not plain RAM)."""
    regs = s.regs
    asize = insn.asize
    am = MASKS[asize]
    count = regs[1] & am
    size = insn.size
    back = s.fl & 0x400                                                 # DF
    top = min(amask + 1, ram.size)
    mm = ram.mm
    scas = insn.name == "SCAS"
    es = s.segs[ES]
    di = regs[7] & am
    k = _reach(es, di, size, n, back, am, top)
    if not scas:
        sg = s.segs[DS if insn.seg is None else insn.seg]
        si = regs[6] & am
        k = _reach(sg, si, size, k, back, am, top)
    if k <= 0:
        return 0, False
    span = k * size
    dst = _lowest(es, di, size, k, back)
    y = _in_order(mm[dst:dst + span], size, back)
    if scas:
        pat = (regs[0] & MASKS[size]).to_bytes(size, "little")
        x = None
    else:
        src = _lowest(sg, si, size, k, back)
        x = _in_order(mm[src:src + span], size, back)
    if insn.rep == 0xF3:                        # REPE: ends at the first difference
        j = _first_difference(pat * k if scas else x, y)
        if j >= 0:
            j //= size
    else:                                       # REPNE: ends at the first equal pair
        j = _find_element(y, pat, size) if scas else _first_equal(x, y, size)
    done = k if j < 0 else j + 1
    last = (done - 1) * size
    a = int.from_bytes(pat if scas else x[last:last + size], "little")
    b = int.from_bytes(y[last:last + size], "little")
    s.cc_op, s.cc_res, s.cc_a, s.cc_b, s.cc_size = CC_SUB, (a - b) & MASKS[size], a, b, size
    step = done * size
    _advance(regs, asize, am, count, done, -step if back else step, not scas, True)
    return done, j >= 0
