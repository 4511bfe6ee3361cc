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
* in translated code without paging, a REP runs in its block
  (:func:`rep_move_translated`, :func:`rep_compare_translated`: ``call_bail``
  methods of ConcreteOps over the register values the block holds), with
  no exit to the dispatcher -- a short copy or search in a loop costs one
  call;
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
#: the elements of a REPE/REPNE run compared in its first window (:func:`_compare`)
WINDOW = 64

#: each byte value as a one-byte string (a pattern to search RAM for)
_BYTE = tuple(bytes((v,)) for v in range(256))


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
    hi = min(am, sg.fast_limit, top - 1 - sg.base)      # the last byte an element may use
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
    ``amask``, no paging), if each would take ConcreteOps' plain-RAM path
    (:func:`_move`).  rSI/rDI/rCX (and, LODS, the accumulator) are left as
    after the ``n`` iterations.  False: nothing done."""
    regs = s.regs
    asize = insn.asize
    am = MASKS[asize]
    size = insn.size
    name = insn.name
    v = _move(s, ram, amask, name, size, am, DS if insn.seg is None else insn.seg,
              regs[6] & am, regs[7] & am, regs[0], s.fl & 0x400, n, overlap)
    if v is None:
        return False
    if name == "LODS":
        regs[0] = v if size >= 4 else (regs[0] & ~MASKS[size]) | v
    span = n * size
    _advance(regs, asize, am, regs[1] & am, n, -span if s.fl & 0x400 else span,
             name != "STOS", name != "LODS")
    return True


def _move(s, ram, amask: int, name: str, size: int, am: int, seg: int, si: int, di: int, ax: int,
          back, n: int, overlap: bool):
    """The memory work of ``n`` iterations of REP MOVS/STOS/LODS (``name``)
    of ``size``-byte elements from offsets ``si`` (in segment ``seg``) and
    ``di`` (in ES) of an address size whose offsets are ``am`` wide, the
    accumulator ``ax``, stepping down when ``back`` (DF), on state ``s`` and
    ``ram`` (physical addresses below ``amask``, no paging), if each
    iteration would take ConcreteOps' plain-RAM path: all offsets inside
    the segment limits without wrapping, the whole run in RAM, no code
    byte written (self-modifying code stays on the slow path), and for
    MOVS no overlap that an element-by-element copy would see -- or, with
    ``overlap``, one at a distance of an element or more
    (:func:`_overlapped`).  Returns the last element read (LODS) or 0; None:
    nothing done."""
    span = n * size
    top = amask + 1 if amask < ram.size else ram.size      # a string run must end below
    mm = ram.mm
    if name != "STOS":
        src = _place(s.segs[seg], si, size, span, back, am, top)
        if src < 0:
            return None
        if name == "LODS":
            last = src if back else src + span - size
            return int.from_bytes(mm[last:last + size], "little")
    dst = _place(s.segs[ES], di, size, span, back, am, top)
    if dst < 0:
        return None
    cm = ram.code_map
    g0, g1 = dst >> 6, (dst + span - 1) >> 6
    if (cm[g0] or cm[g1] or (g1 - g0 > 1 and cm.find(b"\1", g0, g1) >= 0)) \
            and ram.holds_code(dst, span):
        return None
    if name == "STOS":
        v = ax & MASKS[size]
        if span == 1:
            mm[dst] = v
        else:
            mm[dst:dst + span] = v.to_bytes(size, "little") * n
    elif (dst < src < dst + span) if back else (src < dst < src + span):
        # overlapping the way a forward/backward copy sees
        d = src - dst if back else dst - src
        if not overlap or d < size:
            return None
        mm[dst:dst + span] = _overlapped(mm, src, span, d, back)
    else:
        mm[dst:dst + span] = mm[src:src + span]
    return 0


def _place(sg, off: int, size: int, span: int, back, am: int, top: int) -> int:
    """The physical address of the lowest byte of a run of ``span`` bytes of
    ``size``-byte elements from offset ``off`` of segment ``sg`` (stepping
    down when ``back``), when all of it lies inside the limit, without the
    offset wrapping at ``am``, and below ``top``; else -1 (as
    :func:`_reach` short of the run's elements)."""
    if back:
        lo, hi = off - span + size, off + size - 1
    else:
        lo, hi = off, off + span - 1
    if lo < 0 or hi > am or hi > sg.fast_limit:
        return -1
    p = sg.base + lo
    return p if p + hi - lo < top else -1


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
    differ, or -1: the lowest set bit of their exclusive or, read as
    little-endian numbers."""
    d = int.from_bytes(x, "little") ^ int.from_bytes(y, "little")
    return ((d & -d).bit_length() - 1) >> 3 if d else -1


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
    addresses below ``amask``, no paging): those :func:`_compare` runs.
    rSI/rDI/rCX and the flag record are left as after them.  Returns (the
    iterations run, whether the last one's comparison ended the
    repetition); (0, False): nothing done (the first element is not plain
    RAM)."""
    regs = s.regs
    asize = insn.asize
    am = MASKS[asize]
    size = insn.size
    back = s.fl & 0x400                                                 # DF
    scas = insn.name == "SCAS"
    r = _compare(s, ram, amask, scas, insn.rep == 0xF3, size, am, DS if insn.seg is None else insn.seg,
                 regs[6] & am, regs[7] & am, regs[0], back, n)
    if r is None:
        return 0, False
    done, ended, a, b = r
    s.cc_op, s.cc_res, s.cc_a, s.cc_b, s.cc_size = CC_SUB, (a - b) & MASKS[size], a, b, size
    step = done * size
    _advance(regs, asize, am, regs[1] & am, done, -step if back else step, not scas, True)
    return done, ended


def _compare(s, ram, amask: int, scas: bool, repe: bool, size: int, am: int, seg: int, si: int,
             di: int, ax: int, back, n: int):
    """Up to ``n`` iterations of REPE (``repe``) or REPNE CMPS or SCAS
    (``scas``) of ``size``-byte elements from offsets ``si`` (in segment
    ``seg``) and ``di`` (in ES) of an address size whose offsets are ``am``
    wide, the accumulator ``ax``, stepping down when ``back``: those whose
    elements lie in plain RAM inside the segment limits without wrapping,
    up to and with the first comparison that ends the repetition (REPE: a
    difference, REPNE: an equal pair) -- looked for in windows of the run
    growing fourfold from ``WINDOW`` elements, so that a short string under
    a large count (``repne scasb`` with rCX = -1) reads little.  Returns
    (the iterations run, whether the last one's comparison ended the
    repetition, and the two elements it compared: the flags are those of
    their SUB); None: the first element is not plain RAM."""
    top = amask + 1 if amask < ram.size else ram.size
    mm = ram.mm
    es = s.segs[ES]
    sg = None if scas else s.segs[seg]
    if size == 1 and not back:
        r = _compare_bytes_up(mm, es, sg, repe, am, top, si, di, ax & 0xFF, n if n < WINDOW else WINDOW)
        if r is not None and (r[1] or r[0] == n):
            return r
    pat = (ax & MASKS[size]).to_bytes(size, "little") if scas else None
    step = -size if back else size
    done, w, c = 0, WINDOW, 0
    while True:
        m = n - done if n - done < w else w     # this window's elements (c: the last one's)
        span = m * size
        d = di + done * step                    # the window's first offsets, in the run's order
        o = si + done * step
        p = _place(es, d, size, span, back, am, top)
        q = 0 if scas else _place(sg, o, size, span, back, am, top)
        if p < 0 or q < 0:
            # the window meets a limit, a wrap or the end of RAM: the elements in reach
            k = _reach(es, d, size, m, back, am, top)
            if not scas:
                k = _reach(sg, o, size, k, back, am, top)
            if k <= 0:
                if not done:
                    return None
                j = -1
                break                           # the previous window's last element ends it
            m, span = k, k * size
            p = _lowest(es, d, size, k, back)
            q = 0 if scas else _lowest(sg, o, size, k, back)
        if scas and size == 1 and not back and not repe:
            # REPNE SCASB up: the host's search, in RAM itself
            j = mm.find(pat, p, p + span)
            if j >= 0:
                done += j - p + 1
                return done, True, ax & 0xFF, ax & 0xFF
            x, y = pat * m, mm[p:p + span]
        else:
            y = _in_order(mm[p:p + span], size, back)
            x = pat * m if scas else _in_order(mm[q:q + span], size, back)
            if repe:                                # REPE: ends at the first difference
                j = _first_difference(x, y)
                if j >= 0:
                    j //= size
            else:                                   # REPNE: ends at the first equal pair
                j = _find_element(y, pat, size) if scas else _first_equal(x, y, size)
        c = m
        if j >= 0:
            done += j + 1
            break
        done += c
        if done == n:
            break
        w <<= 2
    last = (c - 1 if j < 0 else j) * size
    return done, j >= 0, int.from_bytes(x[last:last + size], "little"), \
        int.from_bytes(y[last:last + size], "little")


def _compare_bytes_up(mm, es, sg, repe: bool, am: int, top: int, si: int, di: int, al: int, n: int):
    """:func:`_compare` of the first ``n`` (at most a window) byte elements
    of a run stepping up (DF clear), SCAS (``sg`` None: the elements
    compared with ``al``) or CMPS, when all ``n`` lie in reach: one slice
    of each run and one search in it -- the short strings of ``strlen``
    and ``memcmp`` loops.  None: some element is out of reach (the windows
    of :func:`_compare` find how many are in it)."""
    hi = di + n - 1
    if hi > am or hi > es.fast_limit or es.base + hi >= top:
        return None
    p = es.base + di
    if sg is None:
        if not repe:                            # REPNE SCASB: the first byte equal to AL
            j = mm.find(_BYTE[al], p, p + n)
            return (j - p + 1, True, al, al) if j >= 0 else (n, False, al, mm[p + n - 1])
        y = mm[p:p + n]
        j = n - len(y.lstrip(_BYTE[al]))        # REPE SCASB: the first byte that is not AL
        return (j + 1, True, al, y[j]) if j < n else (n, False, al, y[-1])
    hs = si + n - 1
    if hs > am or hs > sg.fast_limit or sg.base + hs >= top:
        return None
    q = sg.base + si
    x, y = mm[q:q + n], mm[p:p + n]
    j = _first_difference(x, y) if repe else _first_equal(x, y, 1)
    return (j + 1, True, x[j], y[j]) if j >= 0 else (n, False, x[-1], y[-1])


#: the repeated moves of translated code, by ``kind`` (:func:`rep_move_translated`)
MOVES = ("MOVS", "STOS", "LODS")


def rep_move_translated(ops, kind: int, size: int, am: int, seg: int, cx: int, si: int, di: int,
                        ax: int, df: int, avail: int) -> int:
    """A REP MOVS/STOS/LODS (``MOVES[kind]``) of translated code
    (:meth:`emu.isa.x86.ir_front.X86IRBuilder.rep_string`), bound as a
    method of ConcreteOps ``ops``: its ``cx`` iterations all at once, when
    they take the plain-RAM path (:func:`_move`) and the budget covers them
    (``avail``: the instructions it covers beyond the path's own count).
    The register values come in (``si``, ``di``, ``ax`` as the instruction
    reads them, ``df`` DF's bit) and the block computes the new ones.
    Returns the iterations beyond the first (0 for a count of 0), LODS's
    last element above bit 32; -1: nothing done -- the block leaves before
    the instruction and the engine's slow path runs it."""
    if cx <= 1:
        if cx == 0:
            return 0 if kind != 2 else -1
    elif cx > avail + 1:
        return -1
    if not ops.plain:
        return -1
    if not df and kind != 2:
        # stepping up, the common short copy or fill: _move's tests inline,
        # one slice; any case it does not take (a limit, a wrap, the end of
        # RAM, a code granule, an overlap) goes on to _move
        s, ram = ops.s, ops.ram
        hi = cx * size - 1
        dsg = s.segs[ES]
        top = ops.amask + 1 if ops.amask < ram.size else ram.size
        if di + hi <= am and di + hi <= dsg.fast_limit:
            dst = dsg.base + di
            end = dst + hi
            cm = ram.code_map
            if end < top and not cm[dst >> 6] and not cm[end >> 6] and end - dst < 64:
                if kind:
                    ram.mm[dst:end + 1] = (ax & MASKS[size]).to_bytes(size, "little") * cx
                    return cx - 1
                ssg = s.segs[seg]
                if si + hi <= am and si + hi <= ssg.fast_limit:
                    src = ssg.base + si
                    if src + hi < top and not src < dst <= src + hi:
                        mm = ram.mm
                        mm[dst:end + 1] = mm[src:src + hi + 1]
                        return cx - 1
    v = _move(ops.s, ops.ram, ops.amask, MOVES[kind], size, am, seg, si, di, ax, df, cx, True)
    if v is None:
        return -1
    return cx - 1 | v << 32


def rep_compare_translated(ops, scas: int, repe: int, size: int, am: int, seg: int, cx: int, si: int,
                           di: int, ax: int, df: int, avail: int) -> int:
    """A REPE/REPNE CMPS or SCAS (``scas``) of translated code, as
    :func:`rep_move_translated`: its iterations up to the comparison that
    ends it (:func:`_compare`), when it ends within plain RAM and the
    budget.  Returns the iterations beyond the first, the two elements its
    last comparison compared above bit 32 and bit 64 (the flags are their
    SUB's); -1: nothing done (a count of 0 too)."""
    if cx == 0 or not ops.plain:
        return -1
    n = cx if cx <= avail + 1 else avail + 1
    s, ram = ops.s, ops.ram
    r = None
    if size == 1 and not df:
        # a short string's bytes stepping up: the first window's one slice and search
        top = ops.amask + 1 if ops.amask < ram.size else ram.size
        r = _compare_bytes_up(ram.mm, s.segs[ES], None if scas else s.segs[seg], repe, am, top, si, di,
                              ax & 0xFF, n if n < WINDOW else WINDOW)
        if r is not None and not r[1] and r[0] < n:
            r = None                    # past the first window: _compare's larger ones
    if r is None:
        r = _compare(s, ram, ops.amask, scas, repe, size, am, seg, si, di, ax, df, n)
        if r is None:
            return -1
    done, ended, a, b = r
    if done < cx and not ended:         # stopped short: a limit, the end of RAM, the budget
        return -1
    return done - 1 | a << 32 | b << 64
