"""The IR optimiser (QEMU's ``tcg/optimize.c`` and liveness pass, in small).

Passes, in order:

1. **constant and copy propagation**: ``mov`` is replaced by its source;
   a pure op whose inputs became constants is folded (the builder's own
   folding rules, :func:`emu.ir.builder.fold`; a pure helper call on
   constants runs, the helpers being the target's ``pure_calls``);
2. **dead register writes**: a ``setr`` that a later write of at least its
   width covers, with no read of the register and no exit between, goes;
3. **flag liveness** (one backward pass): a ``setcc``/``setccop``/``setfl``
   whose fields are all overwritten before anything reads them is removed,
   and so is a ``foldcf`` (INC/DEC keeping CF in ``fl``) when no later
   reader can observe fl's CF bit -- that bit only shows through the record
   while the record kind ``cc_op`` is not one of the target's
   ``FlagRecord.cf_hidden`` (x86: while it is INC, DEC, EFLAGS or unknown),
   so liveness tracks it as a field of its own, ``cf``; fl's other
   arithmetic bits, ``fa``, show under that condition too, except under
   the record kinds that keep only the carry (``FlagRecord.fa_hidden``:
   x86's INC and DEC).  A place that sees the record of a block before
   (an exit ahead of the block's first ``setcc``) reads them only if that
   record does not hide them: ``cf?`` and ``fa?``, settled by the
   ``setcc`` that made it -- in the block before, when a region inlines
   the block there.  A
   ``setfl`` whose value only changes arithmetic flags (the front end names
   the older value it keeps the other bits of: ``Op.keeps``) writes that
   older value instead when neither ``cf`` nor ``fa`` is live after it --
   x86's MUL followed by an ADD computes no flags at all.  Like QEMU's dead ``cc_src``, the internal
   ``fl`` may then differ from the interpreter's; the architectural RFLAGS
   never does.  Readers are ``getcc`` and every place the block can leave --
   side exits, helper calls, and memory accesses that may bail -- since the
   live lazy state is written back there, so an exception or a helper sees
   exact flags;
4. **dead code**: pure ops whose results are unused are removed.

Between 1 and 2, :func:`reuse_loads` drops a load of what an earlier load
of the block read, with no store or call between; between 2 and 4,
:func:`strip_masks` drops the masks inside a masked sum or product that
the outer mask makes redundant (``((a * b & m) + c) & m`` is ``(a * b +
c) & m``: a multiply-accumulate's result added to in the same block),
and :func:`sink_selects` moves a conditional register write that a
branch on its condition follows past the branch, to the side that writes
(A32's ``MOVLO r1, r0; BXLO lr``: the return path's move).

Each op is annotated with ``live``: the lazy-record fields live after it
(code generation uses it to avoid materialising dead flag values).

For a region (several blocks compiled into one function, see
:class:`emu.ir.codegen.RegionCodegen`), :func:`region_liveness` runs pass 3
with what each jump really reads: a block inlined at the jump reads what it
reads first (to the least fixed point around the loops); anything else
may stop there and reads everything; :func:`constant_fl_bits` turns its
reads of flag bits no code of the region can change into constants, which
its entry guard checks.
"""

from __future__ import annotations

from .builder import _PYOP1, fold, is_mask, result_bits
from .ir import IRBlock, Temp
from .opcodes import BAIL, CC, CC_FIELDS, COMPARISONS, END, EXIT, MARKER, OPCODES

# liveness sets hold the lazy-record fields, "cf": the CF bit of fl, which
# is all that foldcf writes, and "fa": fl's other arithmetic bits; a record
# of CF_HIDDEN hides both
ALL = frozenset(CC_FIELDS) | {"cf", "fa"}
ALL_NOCF = frozenset(CC_FIELDS)
RECORD = frozenset(("op", "res", "a", "b", "size"))
# "cf?" and "fa?": the same bits read by a place that sees the record of an
# earlier block (an exit before this block's first flag-setting op): live
# only if that record does not hide them -- the setcc before it settles that
# (in the block before, when the block is inlined there)
MAYBE = {"cf?": "cf", "fa?": "fa"}
ALL_MAYBE = ALL_NOCF | frozenset(MAYBE)
ARITH_BITS = frozenset(("cf", "fa")) | frozenset(MAYBE)


def propagate(block: IRBlock) -> None:
    """Constant and copy propagation, folding as it goes."""
    rep = {}
    calls = block.target.pure_calls

    def sub(v):
        if isinstance(v, Temp):
            return rep.get(v.id, v)
        return v

    out = []
    for op in block.ops:
        op.args = [sub(a) for a in op.args]
        if op.keeps is not None:
            op.keeps = sub(op.keeps)
        d = OPCODES[op.name]
        if op.name == "mov":
            rep[op.out.id] = op.args[0]
            continue
        if d.pure and op.out is not None:
            v = None
            if len(op.args) == 2 and op.name not in ("call",):
                v = fold(op.name, op.args[0], op.args[1])
            elif op.name == "select" and not isinstance(op.args[0], Temp):
                v = op.args[1] if op.args[0] else op.args[2]
            elif op.name in _PYOP1 and not isinstance(op.args[0], Temp):
                v = _PYOP1[op.name](op.args[0])
            elif op.name == "call" and not any(isinstance(a, Temp) for a in op.args):
                v = calls[op.aux[0]][0](*op.args)
            if v is not None:
                rep[op.out.id] = v
                continue
        out.append(op)
    block.ops = out


def _cc_op_at(ops) -> list:
    """The cc_op in force after each op: a constant, a tuple of the
    constants a ``select`` picks from (x86's ADC: ADC or ADD by the carry
    in), or None: unknown."""
    cur = None
    res = []
    for op in ops:
        if op.name == "setcc" or op.name == "setccop":
            v = op.args[0]
            cur = v if isinstance(v, int) else _choices(v)
        res.append(cur)
    return res


def _choices(v):
    d = v.op
    if d is not None and d.name == "select" and all(isinstance(a, int) for a in d.args[1:]):
        return tuple(d.args[1:])
    return None


def exit_reads(ccop, record) -> frozenset:
    """What a way out of the block reads of the lazy state: the whole record,
    and fl's CF and other arithmetic bits unless the record in force hides
    them (``record``: the target's :class:`~emu.ir.frontend.FlagRecord`; its
    ``cf_hidden`` kinds hide both, its ``fa_hidden`` kinds the other bits:
    x86's INC and DEC show fl's CF alone; ``ccop`` None: not set in the
    block yet, so "cf?" and "fa?")."""
    if ccop is None:
        return ALL_MAYBE
    kinds = ccop if isinstance(ccop, tuple) else (ccop,)
    reads = ALL_NOCF
    if not all(c in record.cf_hidden for c in kinds):
        reads = reads | {"cf"}
    if not all(c in record.fa_hidden for c in kinds):
        reads = reads | {"fa"}
    return reads


def _settle(live: set, op, record) -> None:
    """Going back past ``op``, a ``setcc`` or ``setccop``: "cf?" and "fa?"
    after it are read when the record kind it sets does not hide them."""
    maybe = live & MAYBE.keys()
    if not maybe:
        return
    live -= maybe
    v = op.args[0]
    kinds = (v,) if isinstance(v, int) else _choices(v)
    for m in maybe:
        h = record.cf_hidden if m == "cf?" else record.fa_hidden
        if kinds is None or not all(c in h for c in kinds):
            live.add(MAYBE[m])


def _liveness(ops, exit_live, mutate, record):
    """One backward pass over ``ops`` (pass 3 in the module docstring).
    ``exit_live(target_ip, cc_op)``, when given, says what a direct jump to
    ``target_ip`` reads (a region's successor block); every other exit
    reads :func:`exit_reads`.  Returns (kept ops, live at entry).

    A ``setfl`` with ``keeps`` whose arithmetic bits nobody reads uses only
    its ``keeps``, and that use reads only fl's other bits: so a ``getcc
    fl`` makes ``cf`` and ``fa`` live only when its value reaches something
    else (``strong``, followed back through the pure ops) -- and an ``and``
    of it with a constant clearing the target's arithmetic flags
    (``FlagRecord.arith_mask``) reads none of them either."""
    ccop = _cc_op_at(ops)
    arith_mask = record.arith_mask
    live = set()
    keep = []
    strong = set()          # temps whose value some kept op reads in full

    def use(args):
        for a in args:
            if isinstance(a, Temp):
                strong.add(a.id)
    for i in range(len(ops) - 1, -1, -1):
        op = ops[i]
        n = op.name
        flags = OPCODES[n].flags
        if n == "getcc":
            f = op.aux[0]
            live.add(f)
            if f == "fl" and (op.out is None or op.out.id in strong):
                # (under a record of an earlier block: its bits show only if
                # that record does not hide them, as for an exit)
                live.update(MAYBE if ccop[i] is None else MAYBE.values())
        elif n == "setcc":
            _settle(live, op, record)
            if not live & RECORD:
                continue
            op.live = frozenset(live)
            live -= RECORD
            keep.append(op)
            use(op.args)
            continue
        elif n == "setccop":
            _settle(live, op, record)
            if "op" not in live:
                continue
            op.live = frozenset(live)
            live.discard("op")
            keep.append(op)
            use(op.args)
            continue
        elif n == "setfl":
            arith = live & ARITH_BITS
            if "fl" not in live and not arith:
                continue
            if op.keeps is not None and not arith:
                if mutate:
                    op.args = [op.keeps]        # only the bits it keeps are read
            else:
                use(op.args)
            op.live = frozenset(live)
            live -= ARITH_BITS
            live.discard("fl")
            keep.append(op)
            continue
        elif n == "foldcf":
            # fl = fl & ~CF | c: only the CF bit changes
            if "cf" not in live and "cf?" not in live:
                continue
            op.live = frozenset(live)
            live.discard("cf")
            live.discard("cf?")
            keep.append(op)
            use(op.args)
            continue
        elif (EXIT in flags or BAIL in flags) and not op.safe:
            if exit_live is not None and (n == "brcond" or n == "goto_tb"):
                reads = exit_live(op.aux[1], ccop[i])
            else:
                reads = exit_reads(ccop[i], record)
            if END in flags:
                live = set(reads)
            else:
                live |= reads
        if mutate:
            op.live = frozenset(live)
        if not (OPCODES[n].pure and op.out is not None) or op.out.id in strong:
            if n == "and" and arith_mask is not None \
                    and any(type(a) is int and not a & arith_mask for a in op.args):
                # getcc fl & c: only fl's other bits are read
                use([a for a in op.args if not (isinstance(a, Temp) and a.op is not None
                                                 and a.op.name == "getcc")])
            else:
                use(op.args)
        keep.append(op)
    keep.reverse()
    return keep, frozenset(live)


def flag_liveness(block: IRBlock, exit_live=None) -> frozenset:
    """The lazy-state fields (and "cf", fl's CF bit) live at the block's entry."""
    return _liveness(block.ops, exit_live, False, block.target.flags)[1]


def dead_flags(block: IRBlock, exit_live=None) -> None:
    """Pass 3 (see the module docstring)."""
    block.ops, block.live_in = _liveness(block.ops, exit_live, True, block.target.flags)


#: the ops whose low k bits depend only on their operands' low k bits
_RING = frozenset(("add", "sub", "mul"))
#: an operand a stripped mask exposes stays this narrow (three digits of a Python int)
_STRIP_BITS = 90


def strip_masks(block: IRBlock) -> int:
    """In ``(x op y) & (2**k - 1)`` with ``op`` an add, sub or mul, an
    operand ``z & (2**j - 1)``, j >= k, is ``z`` (the low k bits of a sum,
    a difference or a product depend on only the operands' low k bits),
    and so through a nest of such ops -- where each op and mask taken out is
    read only there (its value changes, or it is gone).  The widths the
    builder gave the ops on the way are recomputed.  Returns how many masks
    went."""
    uses = {}
    for op in block.ops:
        for a in op.args:
            if isinstance(a, Temp):
                uses[a.id] = uses.get(a.id, 0) + 1
        if isinstance(op.keeps, Temp):
            uses[op.keeps.id] = uses.get(op.keeps.id, 0) + 1

    def single(v, names) -> bool:
        return isinstance(v, Temp) and v.op is not None and v.op.name in names \
            and uses.get(v.id, 0) == 1

    def strip(op, k: int) -> int:
        n = 0
        for i, a in enumerate(op.args):
            while single(a, ("and",)):
                inner, m = a.op.args
                j = is_mask(m)
                if j is None or j < k or not isinstance(inner, Temp) \
                        or inner.bits is None or inner.bits > _STRIP_BITS:
                    break
                a = op.args[i] = inner
                n += 1
            if single(a, _RING):
                n += strip(a.op, k)
        if n:
            op.out.bits = result_bits(op.name, *op.args)
        return n

    gone = 0
    for op in block.ops:
        if op.name == "and" and single(op.args[0], _RING):
            k = is_mask(op.args[1])
            if k is not None:
                gone += strip(op.args[0].op, k)
    return gone


def _same(a, b) -> bool:
    return a is b if isinstance(a, Temp) or isinstance(b, Temp) else a == b


def _sense(s, x):
    """True when the conditions ``s`` and ``x`` are the same comparison,
    False when ``s`` is ``x``'s negation, None when neither is known."""
    if s is x:
        return True
    so, xo = s.op if isinstance(s, Temp) else None, x.op if isinstance(x, Temp) else None
    if so is None or xo is None or so.name not in COMPARISONS or xo.name not in COMPARISONS \
            or not all(_same(a, b) for a, b in zip(so.args, xo.args)):
        return None
    if so.name == xo.name:
        return True
    return False if COMPARISONS[so.name] == xo.name else None


def sink_selects(block: IRBlock) -> int:
    """``setr r, select(c, a, b)`` followed by ``brcond x``, x being c or
    its negation, where the branch's side gets the register's own value
    (b is a ``getr r`` of the same width, the register not written since):
    the write moves to just after the branch, of the other side's value --
    provided nothing between reads the register or can leave the block
    (only pure ops, other register writes and flag records).  A32's
    conditional return ``MOVLO r1, r0; BXLO lr`` then moves r1 on the
    return path alone.  Returns how many writes moved."""
    ops = block.ops
    where = {id(op): k for k, op in enumerate(ops)}
    moves = {}              # index of a brcond -> the setr ops moved after it
    gone = set()
    for j, br in enumerate(ops):
        if br.name != "brcond" or not isinstance(br.args[0], Temp):
            continue
        x = br.args[0]
        read, blocked, moved = set(), set(), []
        for i in range(j - 1, -1, -1):
            op = ops[i]
            d = OPCODES[op.name]
            if op.name == "getr":
                read.add(op.aux[0])
                continue
            if op.name != "setr":
                if d.pure or MARKER in d.flags or CC in d.flags:
                    continue
                break
            r = op.aux[0]
            v = op.args[0]
            sel = v.op if isinstance(v, Temp) and v.op is not None and v.op.name == "select" else None
            sense = None if sel is None or r in read or r in blocked else _sense(sel.args[0], x)
            if sense is not None:
                own, other = (sel.args[1], sel.args[2]) if sense else (sel.args[2], sel.args[1])
                g = own.op if isinstance(own, Temp) else None
                if g is not None and g.name == "getr" and tuple(g.aux) == tuple(op.aux) \
                        and not any(o.name == "setr" and o.aux[0] == r
                                    for o in ops[where[id(g)] + 1:i]):
                    moved.append((op, other))
                    gone.add(i)
                    blocked.add(r)
                    continue
            blocked.add(r)
        if moved:
            moves[j] = moved
    if not moves:
        return 0
    out = []
    for k, op in enumerate(ops):
        if k in gone:
            continue
        out.append(op)
        for w, other in reversed(moves.get(k, ())):
            w.args = [other]
            out.append(w)
    block.ops = out
    return len(gone)


def dce(block: IRBlock) -> None:
    """Remove pure ops whose results nobody uses."""
    used = set()
    keep = []
    for op in reversed(block.ops):
        d = OPCODES[op.name]
        if d.pure and op.out is not None and op.out.id not in used:
            continue
        for a in op.args:
            if isinstance(a, Temp):
                used.add(a.id)
        if isinstance(op.keeps, Temp):
            used.add(op.keeps.id)
        keep.append(op)
    keep.reverse()
    block.ops = keep


def region_liveness(blocks: dict, dispatch) -> dict:
    """Flag liveness over a region's blocks (ip -> IRBlock): a direct jump to a
    block inlined at that jump reads what that block reads first (its
    live-in, to the least fixed point around the loops, each block's
    backward pass run again whenever the live-in of a block it jumps to
    changes); a jump to a dispatch
    point may stop there for the budget, so it reads everything, as every
    other exit.  Drops what is then dead (records, CF folds, and the pure
    code only they used), until nothing more goes.  Returns ip -> live-in
    (a section's live-in is all a jump into it stores: the budget exit on
    the way stores the rest, :meth:`emu.ir.codegen.RegionCodegen.transition`)."""
    inlined = {ip for ip in blocks if ip not in dispatch}
    record = next(iter(blocks.values())).target.flags
    # the blocks whose live-in each block's own depends on (its direct jumps
    # to inlined blocks): a worklist revisits only those a change reaches
    preds = {ip: set() for ip in blocks}
    for ip, blk in blocks.items():
        for op in blk.ops:
            if (op.name == "brcond" or op.name == "goto_tb") and op.aux[1] in inlined:
                preds[op.aux[1]].add(ip)
    while True:
        live_in = {ip: frozenset() for ip in blocks}

        def exit_live(t, ccop):
            if t in inlined:
                return live_in[t]
            return exit_reads(ccop, record)
        # backward: the last blocks first, so most are settled at one visit
        work = list(blocks)
        queued = set(work)
        while work:
            ip = work.pop()
            queued.discard(ip)
            li = _liveness(blocks[ip].ops, exit_live, False, record)[1]
            if li != live_in[ip]:
                live_in[ip] = li
                for q in preds[ip]:
                    if q not in queued:
                        queued.add(q)
                        work.append(q)

        def reads():
            return sum(op.name == "getcc" for blk in blocks.values() for op in blk.ops)
        before = reads()
        for blk in blocks.values():
            dead_flags(blk, exit_live)
            dce(blk)
        # dropping a record can leave the reads of its operands dead: go again
        if reads() == before:
            return live_in


def dead_regs(block: IRBlock) -> None:
    """Drop register writes a later write of at least the same width
    overwrites before anything reads the register or the block can leave
    (every exit writes the registers back): ``xor bl, bl; mov bl, [si];
    mov bx, 8`` keeps only the last."""
    cover = {}          # register -> widest write after this point, nothing read between
    keep = []
    for op in reversed(block.ops):
        n = op.name
        if n == "setr":
            r, size = op.aux
            c = cover.get(r)
            if c is not None and c >= size:
                continue
            cover[r] = max(c or 0, 8 if size >= 4 else size)
        elif n == "getr":
            cover.pop(op.aux[0], None)
        elif not op.safe and (EXIT in OPCODES[n].flags or BAIL in OPCODES[n].flags):
            cover.clear()
        keep.append(op)
    keep.reverse()
    block.ops = keep


def constant_fl_bits(blocks, fl: int) -> int:
    """Region pass: fl's bits outside the target's arithmetic flags that
    every ``setfl`` of the region's ``blocks`` leaves as they were or sets
    to the value they have in ``fl`` (now, when the region is translated)
    stay that value all through the region: an arithmetic-only write
    (``Op.keeps``; ``foldcf`` changes only CF) keeps them all, a write of
    constants (x86: CLD, STD, CLI, STI) keeps those it sets to what they
    already are (:func:`_fl_write`).  Each ``getcc fl & c`` reading only
    such bits then becomes the constant ``fl & c`` (x86: DF picks a string
    instruction's step; the step folds), and the bits read this way are
    returned: the region's entry guard checks they are still ``fl``'s (0:
    none read, no check)."""
    blocks = list(blocks)
    if not blocks:
        return 0
    flags = blocks[0].target.flags
    arith = flags.arith_mask
    if not arith:
        return 0
    fixed = ~arith & _FL_ALL
    for blk in blocks:
        for op in blk.ops:
            if op.name == "setfl" and op.keeps is None:
                prev, known, val = _fl_write(op.args[0], flags, 0)
                fixed &= prev | (known & ~(val ^ fl))
    if not fixed:
        return 0
    used = 0
    for blk in blocks:
        found = False
        for op in blk.ops:
            if op.name != "and":
                continue
            x, c = op.args
            if isinstance(x, Temp) and x.op is not None and x.op.name == "getcc" \
                    and x.op.aux[0] == "fl" and type(c) is int and c >= 0 and not c & ~fixed:
                op.name, op.args = "mov", [fl & c]
                used |= c
                found = True
        if found:
            propagate(blk)
            dce(blk)
    return used


#: the flag word's bits :func:`_fl_write` follows
_FL_ALL = (1 << 64) - 1


def _fl_write(v, flags, depth: int) -> tuple:
    """What a value written to fl is, bit by bit, in terms of fl at its
    block's start: (the bits that are fl's own there, the bits that are
    constants, those constants).  Followed through constants, ``and``,
    ``or``, ``select`` and the target's flags-word helper
    (``FlagRecord.flags_call``, which leaves fl's bits outside the
    arithmetic ones as they are); anything else is unknown."""
    if type(v) is int:
        return 0, _FL_ALL, v & _FL_ALL
    op = v.op if isinstance(v, Temp) else None
    if op is None or depth > 24:
        return 0, 0, 0
    n, args = op.name, op.args
    if n == "getcc":
        return (_FL_ALL, 0, 0) if op.aux[0] == "fl" else (0, 0, 0)
    if n == "mov" and len(args) == 1:
        return _fl_write(args[0], flags, depth + 1)
    if n == "call" and op.aux[0] == flags.flags_call and flags.flags_call is not None:
        prev, known, val = _fl_write(args[-1], flags, depth + 1)
        keep = ~flags.arith_mask & _FL_ALL
        return prev & keep, known & keep, val & keep
    if n in ("and", "or") and len(args) == 2:
        p1, k1, v1 = _fl_write(args[0], flags, depth + 1)
        p2, k2, v2 = _fl_write(args[1], flags, depth + 1)
        ones1, zeros1, ones2, zeros2 = k1 & v1, k1 & ~v1, k2 & v2, k2 & ~v2
        if n == "and":
            ones, zeros = ones1 & ones2, zeros1 | zeros2
            prev = (p1 & ones2) | (p2 & ones1) | (p1 & p2)
        else:
            ones, zeros = ones1 | ones2, zeros1 & zeros2
            prev = (p1 & zeros2) | (p2 & zeros1) | (p1 & p2)
        known = ones | zeros
        return prev & ~known, known, ones
    if n == "select" and len(args) == 3:
        p1, k1, v1 = _fl_write(args[1], flags, depth + 1)
        p2, k2, v2 = _fl_write(args[2], flags, depth + 1)
        known = k1 & k2 & ~(v1 ^ v2)
        return p1 & p2, known, v1 & known
    return 0, 0, 0


def reuse_loads(block: IRBlock) -> None:
    """A load of what a load or a store before it in the block read or
    wrote (the same size from the same space at the same offset: one
    constant, or one temporary), with no other store and no call that may
    write memory or change a mapping between, is that load's value, or the
    value stored (when it fits the size: the bytes read back): the second
    load goes.  Exact: the first access did not bail, and a store's checks
    of an address (its limits, the end of RAM, a writable segment or page)
    cover a load's of it; nothing between wrote RAM (x86's ``mov ax, [x]``
    ... ``mov ax, [x]``, ``inc dword [x]`` then ``cmp dword [x], n``).  A
    conditional access (an input saying whether it is made) is neither
    reused nor forwarded.  The access that stands for the ones dropped is
    marked ``shared``: it must reach RAM or bail, never a device -- a
    device register may read differently each time (a receive FIFO pops,
    a status changes) and need not read back what was written to it."""
    rep, seen, src, out = {}, {}, {}, []
    for op in block.ops:
        if rep:
            op.args = [rep.get(a.id, a) if isinstance(a, Temp) else a for a in op.args]
            if isinstance(op.keeps, Temp):
                op.keeps = rep.get(op.keeps.id, op.keeps)
        n = op.name
        if n == "ld" and len(op.args) == 1:
            key = _access_key(op)
            prev = seen.get(key)
            if prev is not None:
                rep[op.out.id] = prev
                src[key].shared = True
                continue
            seen[key], src[key] = op.out, op
        elif n in ("st", "call_bail", "call_helper"):
            seen.clear()
            src.clear()
            if n == "st" and len(op.args) == 2 and _fits(op.args[1], 8 * op.aux[1]):
                key = _access_key(op)
                seen[key], src[key] = op.args[1], op
        out.append(op)
    block.ops = out


def _access_key(op) -> tuple:
    """What says two ``ld``/``st`` ops access the same bytes: their space
    and size, and their offset (one constant, or one temporary)."""
    a = op.args[0]
    return tuple(op.aux), ("t", a.id) if isinstance(a, Temp) else ("c", a)


def _fits(v, bits: int) -> bool:
    """Whether the value ``v`` (a Temp or a constant) is known to be a
    non-negative number of at most ``bits`` bits: what a load of them
    reads back."""
    if isinstance(v, Temp):
        return v.bits is not None and v.bits <= bits
    return type(v) is int and 0 <= v < 1 << bits


def optimize(block: IRBlock) -> IRBlock:
    propagate(block)
    reuse_loads(block)
    dead_regs(block)
    dce(block)
    if strip_masks(block) + sink_selects(block):
        dce(block)
    dead_flags(block)
    dce(block)
    return block
