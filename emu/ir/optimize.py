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
   so liveness tracks it as a field of its own, ``cf``.  Like QEMU's dead ``cc_src``, the internal
   ``fl`` may then differ from the interpreter's; the architectural RFLAGS
   never does.  Readers are ``getcc`` and every place the block can leave --
   side exits, helper calls, and memory accesses that may bail -- since the
   live lazy state is written back there, so an exception or a helper sees
   exact flags;
4. **dead code**: pure ops whose results are unused are removed.

Each op is annotated with ``live``: the lazy-record fields live after it
(code generation uses it to avoid materialising dead flag values).

For a region (several blocks compiled into one function, see
:class:`emu.ir.codegen.RegionCodegen`), :func:`region_liveness` runs pass 3
with what each jump really reads: a block inlined at the jump reads what it
reads first (to a fixed point around the loops, from per-block gen/kill
summaries); anything else may stop there and reads everything.
"""

from __future__ import annotations

from .builder import fold
from .ir import IRBlock, Temp
from .opcodes import BAIL, CC_FIELDS, END, EXIT, OPCODES

# liveness sets hold the lazy-record fields and "cf": the CF bit of fl, which
# is all that foldcf writes and all that a record of CF_HIDDEN hides
ALL = frozenset(CC_FIELDS) | {"cf"}
ALL_NOCF = frozenset(CC_FIELDS)
RECORD = frozenset(("op", "res", "a", "b", "size"))


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
            elif op.name in ("not", "neg") and not isinstance(op.args[0], Temp):
                v = ~op.args[0] if op.name == "not" else -op.args[0]
            elif op.name == "call" and not any(isinstance(a, Temp) for a in op.args):
                v = calls[op.aux[0]][0](*op.args)
            if v is not None:
                rep[op.out.id] = v
                continue
        out.append(op)
    block.ops = out


def _cc_op_at(ops) -> list:
    """The constant cc_op in force after each op (None: unknown)."""
    cur = None
    res = []
    for op in ops:
        if op.name == "setcc" or op.name == "setccop":
            v = op.args[0]
            cur = v if isinstance(v, int) else None
        res.append(cur)
    return res


def exit_reads(ccop, hidden) -> frozenset:
    """What a way out of the block reads of the lazy state: the whole record,
    and fl's CF bit unless the record in force hides it (``hidden``: the
    target's ``FlagRecord.cf_hidden``)."""
    return ALL_NOCF if ccop in hidden else ALL


def _liveness(ops, exit_live, mutate, hidden):
    """One backward pass over ``ops`` (pass 3 in the module docstring).  ``exit_live(target_ip, cc_op)``, when given, says what a
    direct jump to ``target_ip`` reads (a region's successor block); every
    other exit reads :func:`exit_reads`.  Returns (kept ops, live at entry)."""
    ccop = _cc_op_at(ops)
    live = set()
    keep = []
    for i in range(len(ops) - 1, -1, -1):
        op = ops[i]
        n = op.name
        flags = OPCODES[n].flags
        if n == "getcc":
            f = op.aux[0]
            live.add(f)
            if f == "fl":
                live.add("cf")
        elif n == "setcc":
            if not live & RECORD:
                continue
            op.live = frozenset(live)
            live -= RECORD
            keep.append(op)
            continue
        elif n == "setccop":
            if "op" not in live:
                continue
            op.live = frozenset(live)
            live.discard("op")
            keep.append(op)
            continue
        elif n == "setfl":
            if "fl" not in live and "cf" not in live:
                continue
            op.live = frozenset(live)
            live.discard("fl")
            live.discard("cf")
            keep.append(op)
            continue
        elif n == "foldcf":
            # fl = fl & ~CF | c: only the CF bit changes
            if "cf" not in live:
                continue
            op.live = frozenset(live)
            live.discard("cf")
            keep.append(op)
            continue
        elif (EXIT in flags or BAIL in flags) and not op.safe:
            if exit_live is not None and (n == "brcond" or n == "goto_tb"):
                reads = exit_live(op.aux[1], ccop[i])
            else:
                reads = exit_reads(ccop[i], hidden)
            if END in flags:
                live = set(reads)
            else:
                live |= reads
        if mutate:
            op.live = frozenset(live)
        keep.append(op)
    keep.reverse()
    return keep, frozenset(live)


def flag_liveness(block: IRBlock, exit_live=None) -> frozenset:
    """The lazy-state fields (and "cf", fl's CF bit) live at the block's entry."""
    return _liveness(block.ops, exit_live, False, block.target.flags.cf_hidden)[1]


def dead_flags(block: IRBlock, exit_live=None) -> None:
    """Pass 3 (see the module docstring)."""
    block.ops, block.live_in = _liveness(block.ops, exit_live, True, block.target.flags.cf_hidden)


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
        keep.append(op)
    keep.reverse()
    block.ops = keep


def _summary(ops, inlined, hidden):
    """Liveness at a block's entry as a function of its inlined successors':
    (what it reads whatever follows, [(successor ip, fields written before
    the jump to it)]).  Liveness is gen/kill, so live-in = base | the union
    of (live-in of each such successor - what was written before jumping)."""
    kill = set()
    base = set()
    jumps = []
    ccop = None
    for op in ops:
        n = op.name
        if n == "getcc":
            f = op.aux[0]
            if f not in kill:
                base.add(f)
            if f == "fl" and "cf" not in kill:
                base.add("cf")
        elif n == "setcc":
            kill |= RECORD
            v = op.args[0]
            ccop = v if isinstance(v, int) else None
        elif n == "setccop":
            kill.add("op")
            v = op.args[0]
            ccop = v if isinstance(v, int) else None
        elif n == "setfl":
            kill.add("fl")
            kill.add("cf")
        elif n == "foldcf":
            kill.add("cf")
        else:
            flags = OPCODES[n].flags
            if (EXIT in flags or BAIL in flags) and not op.safe:
                if (n == "brcond" or n == "goto_tb") and op.aux[1] in inlined:
                    jumps.append((op.aux[1], frozenset(kill)))
                else:
                    base |= exit_reads(ccop, hidden) - kill
    return frozenset(base), jumps


def region_liveness(blocks: dict, dispatch) -> dict:
    """Flag liveness over a region's blocks (ip -> IRBlock): a direct jump to a
    block inlined at that jump reads what that block reads first (its
    live-in, to a fixed point around the loops); a jump to a dispatch point
    may stop there for the budget, so it reads everything, as every other
    exit.  Drops what is then dead (records, CF folds, and the pure code
    only they used), until nothing more goes.  Returns ip -> live-in."""
    inlined = {ip for ip in blocks if ip not in dispatch}
    hidden = next(iter(blocks.values())).target.flags.cf_hidden
    while True:
        summ = {ip: _summary(blk.ops, inlined, hidden) for ip, blk in blocks.items()}
        users = {ip: [] for ip in blocks}
        for ip, (_, jumps) in summ.items():
            for t, _ in jumps:
                users[t].append(ip)
        live_in = {ip: summ[ip][0] for ip in blocks}
        work = [ip for ip in blocks if summ[ip][1]]
        while work:
            ip = work.pop()
            base, jumps = summ[ip]
            li = base.union(*(live_in[t] - k for t, k in jumps))
            if li != live_in[ip]:
                live_in[ip] = li
                work.extend(u for u in users[ip] if u not in work)

        def exit_live(t, ccop):
            if t in inlined:
                return live_in[t]
            return exit_reads(ccop, hidden)

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


def optimize(block: IRBlock) -> IRBlock:
    propagate(block)
    dead_regs(block)
    dce(block)
    dead_flags(block)
    dce(block)
    return block
