"""IR -> Python source -> ``compile()`` -> a block function (the "host code").

The generated function ``tb(left)`` runs one translation block and returns
``(retired << EXIT_SHIFT) | exit_index``: how many guest instructions it retired and
which of the block's exits it left by (``TbExit`` records: direct successor
slot, indirect, helper call, or bail to the interpreter).

What makes it fast (QEMU's register allocator and liveness, in Python terms):

* **guest registers live in locals** (``r0`` ... ``r15``) for the whole
  block and are written back only where the block leaves.  A register the
  block touches only 16 bits (or 8) wide is kept as its low 16 bits
  ("narrow"), so ``add ax, cx`` is ``r0 = (r0 + r1) & 65535``; in a region,
  one touched at most 32 bits wide is its low 32 bits, which its entry
  guard checks it is (a 32-bit write zero-extends), so ``add eax, ecx`` is
  ``r0 = (r0 + r1) & 4294967295``;
* **expressions, not statements**: a pure temporary used once is inlined
  into its user; register reads are duplicated freely; a temporary whose
  first use is a register write is simply renamed to that register;
* **flag records are sunk into the exits**: ``setcc`` emits no code -- the
  record's fields are kept as expressions and written to the CPU state only
  in the exit stubs that can see them; when a register they read is
  overwritten while they are still live, they read a copy of its old value
  instead.  A field the recorded operation never reads (``a`` and ``b`` of
  a LOGIC, INC or DEC record) is not written at all;
* **a block that jumps to its own start loops inside the function** while
  the instruction budget allows (``left``), so a tight guest loop never
  returns to the dispatcher;
* **a register write masked to its width is a compare** when one wrap at
  most takes the value out of it (:meth:`PyCodegen.assign`).

Hot code is compiled as a *region* instead (:class:`RegionCodegen`): the
blocks of a loop nest in one function, each path through it straight-line
code, the flag state flowing along it as expressions.

RAM is read and written by indexing the guest's mmap (bytes), through
typed views of it (aligned words: ``W2[addr >> 1]``, one code-map check
for a store) and with ``struct.unpack_from``/``pack_into`` (other words,
after the full checks; :meth:`PyCodegen.ram_access`).  A memory access that cannot
take the fast path (not plain RAM, an address-translation miss, a write into
a granule holding translated code) *bails*: the stub writes back the state
as it was before that instruction and the engine lets the interpreter run it
(so MMIO, faults, page walks and self-modifying code follow the
interpreter's own slow paths exactly).

Generic and target parts: this module knows no architecture.  The block's
:class:`emu.ir.frontend.IRTarget` provides the register globals' program
counter field, the lazy flag record (its state attributes, which fields each
record kind reads, the carry as an expression), the pure helpers, and the
memory-access hooks (:class:`emu.ir.frontend.MemoryAccess`: the bindings and
the checks of a ``ld``/``st``, and a region's entry guard for the address
spaces whose accesses go unchecked, ``fast_segs``).
"""

from __future__ import annotations

import keyword
import re
import struct
import sys
from contextlib import contextmanager

from ..memory import GRANULE_SHIFT
from .builder import clear_under
from .ir import IRBlock, Temp
from .loop_range import version_loop
from .opcodes import BAIL as BAIL_FLAG, CC_FIELDS, END, EXIT, OPCODES
from .optimize import ARITH_BITS

GOTO, INDIRECT, HELPER, BAIL, GUARD, SYNC = "goto", "indirect", "helper", "bail", "guard", "sync"
EXIT_SHIFT = 16                 # a block function returns (retired << EXIT_SHIFT) | exit index
EXIT_MASK = (1 << EXIT_SHIFT) - 1
_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: 0xFFFFFFFFFFFFFFFF}
_S = {n: struct.Struct(f) for n, f in ((1, "<B"), (2, "<H"), (4, "<I"), (8, "<Q"))}
PACKERS = {f"U{n}": s.unpack_from for n, s in _S.items()}
PACKERS.update({f"P{n}": s.pack_into for n, s in _S.items()})

WORD_VIEWS = sys.byteorder == "little"      # see word_views


def word_views(buf) -> dict:
    """RAM (a buffer of a whole number of pages) as arrays of 16-, 32- and
    64-bit words, ``W2``, ``W4`` and ``W8``, for aligned accesses: index
    ``addr >> 1`` (``>> 2``, ``>> 3``).  Little-endian guests on a
    little-endian host only: elsewhere generated code would need byte
    swaps, and the views are not made (:meth:`PyCodegen.ram_access` then
    uses ``struct`` alone)."""
    if not WORD_VIEWS:
        return {}
    mv = memoryview(buf)
    return {f"W{n}": mv.cast(c) for n, c in ((2, "H"), (4, "I"), (8, "Q"))}


class CodeFreeWindow:
    """A block of RAM that holds no translated code, for a region's stack
    stores: an aligned power of two, 2**k bytes (64 to ``SPAN``), around an
    address, as ``(base, m1, m2, m4, m8, lo, hi)``.  A store of ``size``
    bytes at ``p`` lies in it, aligned, exactly when ``(p ^ base) & m<size>``
    is 0 (``m<size>``: ``-2**k | size - 1``) -- one test in place of RAM's
    end, the alignment and the code-map look-up; the masks are negative
    numbers of small magnitude, one-digit Python ints whatever the address.
    ``lo`` and ``hi`` (1 and 0 for none) bound the bytes with no code
    around it, up to ``SPAN`` either way, the aligned block among them, for
    a run of stores tested at once (:meth:`PyCodegen.run_store`).

    Code is marked in RAM's code map only between runs of translated code,
    so the window a region takes at its entry (:meth:`current`: the last one
    found, while its granules still hold no code) holds for the whole run;
    a store outside it, once made the checked way, finds the window around
    its own address (:meth:`around`) for the stores after it.  One per
    engine (it reads its RAM's code map): no state shared between
    machines."""

    SPAN = 1 << 16
    NONE = (-1, -1, -1, -1, -1, 1, 0)   # (p ^ -1) & -1 == ~p: never 0; 1 <= p <= 0: never

    def __init__(self, code_map, ram_size: int):
        self.cp = code_map
        self.granules = ram_size >> GRANULE_SHIFT
        self.last = self.NONE
        self.span = (0, 0)              # the last window's granules

    def current(self) -> tuple:
        """The last window found, if no code came into it since."""
        g0, g1 = self.span
        return self.last if g0 < g1 and self.cp.find(b"\1", g0, g1) < 0 else self.NONE

    def around(self, p: int) -> tuple:
        """The largest window holding the physical address ``p`` (NONE when
        p's own granule holds code or is not RAM)."""
        g = p >> GRANULE_SHIFT
        if not 0 <= g < self.granules:
            return self.NONE
        reach = self.SPAN >> GRANULE_SHIFT
        start, stop = max(g - reach, 0), min(g + reach, self.granules)
        lo = self.cp.rfind(b"\1", start, g + 1)
        if lo == g:
            return self.NONE
        hi = self.cp.find(b"\1", g, stop)
        # the nearest bytes the window must not hold, below and above p
        below = ((lo + 1) << GRANULE_SHIFT) - 1 if lo >= 0 else (start << GRANULE_SHIFT) - 1
        above = (hi if hi >= 0 else stop) << GRANULE_SHIFT
        k = min((p ^ above).bit_length(), self.SPAN.bit_length())
        if below >= 0:
            k = min(k, (p ^ below).bit_length())
        k -= 1
        m = -(1 << k)
        base = p >> k << k
        # the bounds: all the bytes between those two (the aligned block among them)
        self.last = (base, m, m | 1, m | 3, m | 7, below + 1, above)
        self.span = ((below + 1) >> GRANULE_SHIFT, above >> GRANULE_SHIFT)
        return self.last


class TbExit:
    """One way out of a block: ``kind`` (goto/indirect/helper/bail), the
    direct-jump ``slot`` and ``target`` IP, the instruction index ``insn``;
    ``fails``: how many times the dispatcher has left by it (a bail's count);
    ``spec``: the bail is a speculation's test failing (a run of accesses
    tested at once), which a translation without it need not make."""

    __slots__ = ("kind", "slot", "target", "insn", "seen", "fails", "spec")

    def __init__(self, kind, slot, target, insn):
        self.kind = kind
        self.slot = slot
        self.target = target
        self.insn = insn
        self.seen = None        # indirect: ip -> the block it led to (the jump cache)
        self.fails = 0          # bail: times taken (the dispatcher counts them)
        self.spec = False       # bail: a speculation failed (PyCodegen.bail_if's ``spec``)

    def __repr__(self):
        return f"TbExit({self.kind}, slot={self.slot}, target={self.target}, insn={self.insn})"


_COLD_OPS = frozenset(("setcc", "setccop", "setfl", "foldcf", "exit_tb", "exit_sync"))   # their values: at exits
_REG_LOCAL = re.compile(r"r\d+$")
_NAMES = re.compile(r"[A-Za-z_]\w*")
_NONZERO = re.compile(r"(\w+) != 0$")     # an integer local's test: its truth
# the correction of a register write by one wrap (:func:`_wrap_lines`), and
# an unsigned test of a local against a number (:meth:`PyCodegen._fold_wrap`)
_WRAP_LINE = re.compile(r"if (\w+) (< 0: \1 \+|> (\d+): \1 -)= (\d+)")
_BELOW = re.compile(r"(\w+) < (\d+)")
PEEL_MAX_OPS = 150          # a self-looping section up to this size may be peeled
# an expression of this many operators is worth computing once (a flag field
# read twice) or not at all (a carried one, FlagRecord.carried, whose
# expression reads at most CARRY_MAX_LOCALS locals)
COSTLY_OPS = 6
CARRY_MAX_LOCALS = 3
_OPERATORS = re.compile(r"<<|>>|[<>=!]=|[-+*&|^<>]")
_CARRIED = "#carried"       # a read of a carried field: expanded once the templates are known
REPEEL = -1                 # pc after a path back a peeled loop's entry state does not hold
RANGE_PASSES = 256          # passes of a counted loop one range test covers (RegionCodegen._range_plan)


def _narrowing(args) -> bool:
    """``getr rN, size`` (a wide register) ``& c`` with c inside the size's mask."""
    x, c = args
    return (isinstance(x, Temp) and type(c) is int and x.op is not None and x.op.name == "getr"
            and x.op.aux[1] >= 4 and 0 <= c <= _MASK[x.op.aux[1]])


def _fits32(v) -> bool:
    """Is the value known to be a 32-bit one (never negative)?"""
    return v.bits is not None and v.bits <= 32 if isinstance(v, Temp) else 0 <= v <= _MASK[4]


def _value_range(v, depth: int = 8, upper=None):
    """(lo, hi): bounds of the IR value ``v`` at run time, from its constants,
    register and memory widths, the widths the builder tracks and the
    arithmetic over them -- or None.  ``upper``: id(Temp) -> the bounds a
    test the code made already (and bails on) puts on that value (a run of
    loads' or stores' one test, :meth:`PyCodegen.run_load`,
    :meth:`PyCodegen.run_store`)."""
    if not isinstance(v, Temp):
        return (int(v), int(v))
    op = v.op
    rng = None
    if op is not None and depth > 0:
        n = op.name
        if n in ("getr", "ld"):
            rng = (0, _MASK[op.aux[1]])
        elif n in ("add", "sub"):
            a, b = (_value_range(x, depth - 1, upper) for x in op.args)
            if a is not None and b is not None:
                rng = (a[0] + b[0], a[1] + b[1]) if n == "add" else (a[0] - b[1], a[1] - b[0])
        elif n == "and" and type(op.args[1]) is int and op.args[1] >= 0:
            # a mask over a value within it leaves the value as it is
            m = op.args[1]
            a = _value_range(op.args[0], depth - 1, upper)
            rng = a if a is not None and a[0] >= 0 and a[1] <= m and not m & (m + 1) else (0, m)
    if upper is not None and id(v) in upper:
        low, top = upper[id(v)]
        rng = (low, top) if rng is None else (max(rng[0], low), min(rng[1], top))
    if v.bits is not None:
        top = (1 << v.bits) - 1
        rng = (0, top) if rng is None else (max(rng[0], 0), min(rng[1], top))
    return rng


def _wrap_lines(loc: str, text: str, m: int, rng) -> list | None:
    """The statements that set ``loc`` to ``text & m`` (m = 2**k - 1, the
    text being what the mask applies to) without the mask, when the
    unmasked value's range ``rng`` is within one wrap of [0, m]: a compare
    and a rarely taken correction (a specialised compare of small ints,
    where ``& m`` is a generic call that allocates a new int for m of 2**30
    and more) -- or None: the mask is needed."""
    if rng is None:
        return None
    lo, hi = rng
    if 0 <= lo and hi <= m:
        return [f"{loc} = {text}"]
    if 0 <= lo and hi <= 2 * m + 1:
        return [f"{loc} = {text}", f"if {loc} > {m}: {loc} -= {m + 1}"]
    if -(m + 1) <= lo and hi <= m:
        return [f"{loc} = {text}", f"if {loc} < 0: {loc} += {m + 1}"]
    return None


def _narrow32(ops) -> set:
    """The registers ``ops`` read at most 32 bits wide and write only with
    32-bit values: while their values fit 32 bits when the code starts (a
    region's guard checks it), they always do, and a 32-bit read of one
    needs no mask."""
    seen, wide = set(), set()
    for op in ops:
        if op.name == "getr" or op.name == "setr":
            r, size = op.aux
            seen.add(r)
            if size > 4 and (op.name == "getr" or not _fits32(op.args[0])):
                wide.add(r)
    return seen - wide


#: the largest step (plus one) between the accesses of a run: a bigger
#: constant is a displacement the other way modulo the address's wrap
#: (x86's ``[bp-4]`` is ``add bp, 0xfffc`` then a mask), not a run's offset
_RUN_STEP = 1 << 15


def _access_runs(chain, space, access: str, step: str, links=None) -> list:
    """The runs of word accesses (``access``: "ld" or "st") through address
    space ``space`` along ``chain`` -- the op lists of blocks run one after
    the other (a block and the blocks its unconditional jumps continue in:
    x86's CALL and the callee's PUSHes) --, each at a constant offset from
    the first one's address, that offset reached by ``step`` ("add" or
    "sub") of constants from that address and masks of low bits (of at
    least 16), and from one block to the next through a register written
    with it and read at the same size (SP), with no ``call_bail`` between
    them (its helper may rebind the space; a ``call``'s is pure -- x86's
    INC/DEC carry between a PUSH and CALL's push): lists of the first
    access followed by ``(access, offset, wrap)`` for the others --
    ``wrap`` the smallest mask + 1 on the way (or None).  ``links``, when
    given, gets ``id(temp) -> [(first access, offset)]`` for the register
    reads holding an address at an offset from a first access."""
    regs = {}           # register -> (size, its value's entry in ``at``)
    runs = {}
    sign = 1 if step == "add" else -1
    for ops in chain:
        at = {}         # temp id -> (first access, offset from its address, wrap)
        for op in ops:
            if op.name == "call_bail":
                at.clear()
                regs.clear()
            elif op.name == "setr":
                v = op.args[0]
                src = at.get(v.id) if _fits(v, op.aux[1]) else None
                regs.pop(op.aux[0], None)
                if src is not None:
                    regs[op.aux[0]] = (op.aux[1], src)
            elif op.name == "getr" and regs.get(op.aux[0], (None,))[0] == op.aux[1]:
                at[op.out.id] = src = regs[op.aux[0]][1]
                if links is not None:
                    links.setdefault(id(op.out), []).append(src[:2])
            else:
                _access_step(op, at, runs, space, access, step, sign)
    return list(runs.values())


def _fits(v, size: int) -> bool:
    """Whether the value ``v`` is known to fit ``size`` bytes (its ``bits``):
    a register written with it at that size reads it back unchanged."""
    return isinstance(v, Temp) and v.bits is not None and v.bits <= 8 * size


def _access_step(op, at: dict, runs: dict, space, access: str, step: str, sign: int) -> None:
    """One op of :func:`_access_runs`'s walk: an access joins the run of
    the address it is at an offset from (or starts one), an address
    computation carries the offset to its result."""
    n = op.name
    a = op.args[0] if op.args else None
    if not isinstance(a, Temp):
        return
    if n == access and op.aux[0] == space and op.aux[1] > 1 and len(op.args) == (1 if n == "ld" else 2):
        first = at.get(a.id)        # (not a predicated one: it may be skipped)
        if first is not None and first[0].aux == op.aux and first[1] % op.aux[1] == 0:
            runs.setdefault(id(first[0]), [first[0]]).append((op, first[1], first[2]))
        else:
            at[a.id] = (op, 0, None)
        return
    if a.id not in at or op.out is None:
        return
    c = op.args[1] if len(op.args) > 1 else None
    if type(c) is not int:
        return
    first, off, wrap = at[a.id]
    if n == step and 0 < c < _RUN_STEP:
        at[op.out.id] = (first, off + sign * c, wrap)
    elif n == "and" and c >= 0xFFFF and not c & (c + 1):
        at[op.out.id] = (first, off, c + 1 if wrap is None else min(wrap, c + 1))


def load_runs(chain, space, links=None) -> dict:
    """Runs of word loads along ``chain`` (op lists of blocks run one after
    the other) through address space ``space`` (:func:`_access_runs`), each at a constant offset at or above the first
    one's address, reached by adding (x86's POP, POP, RET, or LEAVE then
    RET, read upwards from SP): ``id(load op) -> (first load of its run,
    offset, span, wrap)`` for the loads of runs of two or more -- ``span``
    the bytes from the first address to the end of the last load, ``wrap``
    the smallest mask + 1 on the way (or None).  While the first address
    plus ``span`` stays at or below ``wrap``, every load of the run is at
    the first address plus its offset (:meth:`PyCodegen.run_load` tests
    that once)."""
    out = {}
    for first, *rest in _access_runs(chain, space, "ld", "add", links):
        size = first.aux[1]
        span = max(off for _, off, _ in rest) + size
        wraps = [w for _, _, w in rest if w is not None]
        wrap = min(wraps) if wraps else None
        out[id(first)] = (first, 0, span, wrap)
        for op, off, _ in rest:
            out[id(op)] = (first, off, span, wrap)
    return out


def rmw_loads(ops) -> set:
    """The loads of one block (by id) whose address a store of the block
    writes later -- the same space and size, at the same offset (one
    temporary, or one constant): a read-modify-write (x86's ``add [bx+si],
    ax``), whose physical address the load keeps in a local for the store
    (:meth:`PyCodegen.ram_access`)."""
    stored = {_access_key(op) for op in ops if op.name == "st"}
    return {id(op) for op in ops if op.name == "ld" and _access_key(op) in stored}


def _access_key(op) -> tuple:
    return tuple(op.aux), _shape(op.args[0], 6)


def _shape(v, depth: int):
    """What computes the value ``v``: a constant, or the tree of pure ops
    and register reads under it (an instruction computes its store's
    address again: the tree is the load's), to ``depth`` levels.  Only a
    hint: the store reuses the load's local when the text of its address
    is the same and the locals it reads are unchanged."""
    if not isinstance(v, Temp):
        return v
    op = v.op
    if op is None or depth == 0 or op.name in ("ld", "call", "call_bail"):
        return ("t", v.id)
    return (op.name, op.aux, tuple(_shape(a, depth - 1) for a in op.args))


def store_runs(chain, space, links=None) -> dict:
    """Runs of word stores along ``chain`` (op lists of blocks run one after
    the other) through address space ``space`` (:func:`_access_runs`), each
    at a constant offset below the first one's address, reached by subtracting (x86's PUSH, PUSH; PUSH, MOV BP,SP,
    PUSH; PUSH, CALL: written downwards from SP): ``id(store op) -> (first
    store of its run, offset, span, None)`` for the stores of runs of two
    or more -- ``offset`` at or below 0, ``span`` the bytes from the lowest
    address to the end of the first store.  While the first address is at
    least ``span - size`` above the bottom of its wrap, every store of the
    run is at the first address plus its offset (:meth:`PyCodegen.run_store`
    tests that once)."""
    out = {}
    for first, *rest in _access_runs(chain, space, "st", "sub", links):
        span = first.aux[1] - min(off for _, off, _ in rest)
        out[id(first)] = (first, 0, span, None)
        for op, off, _ in rest:
            out[id(op)] = (first, off, span, None)
    return out


def _access_params(ops) -> list:
    """The generated function's parameters binding what its loads and
    stores of words use: ``struct``'s ``U2``/``P2``... and RAM's word views
    ``W2``... (:meth:`PyCodegen.ram_access`)."""
    params = []
    for size in sorted({op.aux[1] for op in ops if op.name in ("ld", "st")} - {1}):
        if any(op.name == "ld" and op.aux[1] == size for op in ops):
            params.append(f"U{size}=U{size}")
        if any(op.name == "st" and op.aux[1] == size for op in ops):
            params.append(f"P{size}=P{size}")
        if WORD_VIEWS:
            params.append(f"W{size}=W{size}")
    return params


def _call_params(ops, params) -> list:
    """The generated function's parameters binding the helpers ``ops`` call
    (those not among ``params`` already): the pure ones by name, and ``OPS``
    (the engine's ops object) for ``call_bail``."""
    more = [f"{c}={c}" for c in sorted({op.aux[0] for op in ops if op.name == "call"})]
    if any(op.name == "call_bail" for op in ops):
        more.append("OPS=OPS")
    return [p for p in more if p not in params]


def _fl_entry(text: str, reads, rest=None) -> tuple:
    """What the code generator knows of fl when it is an expression (``text``,
    reading the locals ``reads``); ``rest``: (text, reads) of an expression
    equal to it outside the arithmetic flags -- a reader that cannot see
    them (the next flag record hides them) may take that one instead."""
    return ("expr", text, reads) if rest is None else ("expr", text, reads, None, rest)


def _fl_rest(k) -> tuple:
    """(text, reads) of fl outside the arithmetic flags, for the know entry
    ``k`` of kind "expr": its ``rest`` (:func:`_fl_entry`), or itself."""
    return k[4] if len(k) > 4 else (k[1], k[2])



def _unparen(s: str) -> str | None:
    """The expression ``s`` without its enclosing parentheses (a name or a
    number as it is) -- None when it is not one parenthesised whole."""
    if _atomic(s):
        return s
    if not s.startswith("("):
        return None
    depth = 0
    for i, ch in enumerate(s):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return s[1:-1] if i == len(s) - 1 else None
    return None


def _atomic(s: str) -> bool:
    return s.isidentifier() or s.isdigit()


def _code_bytes(p: str, size: int) -> str:
    """True when one of the ``size`` bytes at RAM offset ``p`` holds code
    (RAM's byte map ``CB``; ``CBF`` its find)."""
    return f"CB[{p}]" if size == 1 else f"CBF(b'\\1', {p}, {p} + {size}) >= 0"


def _literal(s: str):
    """The integer the source text ``s`` denotes when it is a bare literal
    (a number, perhaps negative and parenthesised) -- else None."""
    if s.startswith("(") and s.endswith(")"):
        s = s[1:-1]
    if not s.lstrip("-").isdigit():
        return None
    return int(s)


def _folded(name: str, args: list) -> str | None:
    """The text of the pure op ``name`` over the source texts ``args``
    folded to what it computes: over literals, its value (a lazy field
    known as a constant only here -- a CC operation of the block before --
    makes a flag computation's condition constant); a select on a literal
    condition, the operand it picks.  None: not foldable."""
    if name == "select":
        c = _literal(args[0])
        return None if c is None else args[1 if c else 2]
    vals = [_literal(a) for a in args]
    if not vals or None in vals:
        return None
    try:
        v = int(eval(OPCODES[name].py.format(*(f"({x})" for x in vals)), {}))   # literals only
    except (ArithmeticError, ValueError):     # (as the code would raise: left to it)
        return None
    return str(v) if v >= 0 else f"({v})"


def _paren(s: str) -> str:
    return s if _atomic(s) else f"({s})"


class PyCodegen:
    """Generates the Python source of one block."""

    def __init__(self, block: IRBlock, amask: int, ram_size: int, loop: bool, name: str = "tb",
                 mem=None, checked=None):
        self.b = block
        self.checked_ips = checked or {}    # IP -> how much speculation its accesses drop (_load_runs)
        self.unaligned = set()          # id(first access) of runs made unaligned (_load_runs)
        tgt = block.target
        self.mem = mem if mem is not None else tgt.memory     # the target's memory-access hooks
        self.flags = tgt.flags
        self.cc_names = tgt.flags.state_names
        self.pc = tgt.pc_field
        self.call_re = tgt.call_re
        self.amask = amask
        self.ram_size = ram_size
        self.loop = loop
        self.name = name
        self.lines = []
        self.ind = 1
        self.exits = []
        self.nlocal = 0
        self.insn_base = 0      # index of the block's first instruction in the TB's list
        self.fast_segs = {}     # segment -> a mode the target names, checked by the entry guard
        self.narrow32 = set()   # registers whose local holds 32 bits (a region's, guarded)
        self.spaces_written = set()     # the address spaces a region stores to
        self.extra_params = []          # parameters the memory hooks' prologue binds
        self.loops = False              # a region with a section that jumps back to itself
        self.repeats = False    # an instruction retires more than one (``retire``): left counts them
        self.value_locals = {}  # expression text -> the local :meth:`atomic` holds it in
        self.runs = {}          # id(load or store op) -> its run (load_runs, store_runs)
        self.run_names = {}     # id(first op of a run) -> its index's local (run_local)
        self.run_links = {}     # id(getr Temp) -> [(first op of a run, offset)] (_access_runs)
        self.run_bounds = {}    # id(first op of a run) -> (lo, hi, top): its address's bounds once tested
        self.rmw = set()        # id(load op) of a read-modify-write's load (rmw_loads)
        self.device_bails = set()       # locals of device accesses made bails (_tested)
        self.path = []          # the jumps this path went through: (id(op), taken, conditional)
        self.hoisted = None     # a region's values computed once at entry (text -> local)
        self.spaces_rebound = set()     # the address spaces a region's calls rebind
        self.upper = {}         # id(Temp) -> (lo, hi), tested on this path (run_load, run_store)
        self.ranged = frozenset()       # id(ld/st op) a loop's range test vouches for (_range_plan)
        self.range_tested = 0   # the loops given a range test (RegionCodegen._range_plan)
        self.speculating = False        # the bails made now test a speculation too (unwrapped)

    # -- analysis ------------------------------------------------------------------------
    def analyse(self):
        ops = self.b.ops
        self.main_uses = {}
        self.cold_uses = {}
        self.first_use = {}
        sizes = {}
        first = {}
        self.regs_written = set()
        self.cc_written = set()
        self.segs = set()
        self.n_insns = len(self.b.insns)
        # temporaries the main line needs: read by an op that is not a flag
        # record or an exit, directly or through pure ops; the others are
        # computed only where a flag record is stored (an exit), so a use by
        # a pure op whose result is not needed counts as a cold use
        needed = self.needed = set()
        for op in reversed(ops):
            if OPCODES[op.name].pure and op.out is not None:
                if op.out.id not in needed:
                    continue
            elif op.name in _COLD_OPS:
                continue
            needed.update(a.id for a in op.args if isinstance(a, Temp))
        for op in ops:
            n = op.name
            cold = n in _COLD_OPS or (op.out is not None and OPCODES[n].pure
                                      and op.out.id not in needed)
            args = op.args
            if n == "setfl" and op.keeps is not None:
                args = list(args) + [op.keeps]      # fl outside the arithmetic flags (gen_ops)
            if n == "setcc" and type(args[0]) is int and args[0] in self.flags.record_uses:
                # fields the recorded operation never reads are not kept (gen_ops)
                uses = self.flags.record_uses[args[0]]
                args = [a for f, a in zip(("op", "res", "a", "b", "size"), args) if f in uses]
            for a in args:
                if isinstance(a, Temp):
                    d = self.cold_uses if cold else self.main_uses
                    d[a.id] = d.get(a.id, 0) + 1
                    if a.id not in self.first_use and not cold:
                        self.first_use[a.id] = op
            if n == "getr" or n == "setr":
                r, size = op.aux
                sizes.setdefault(r, set()).add(size)
                first.setdefault(r, op)
                if n == "setr":
                    self.regs_written.add(r)
            elif n in ("ld", "st"):
                self.segs.add(op.aux[0])
            elif n == "setcc":
                self.cc_written.update(("op", "res", "a", "b", "size"))
            elif n == "setccop":
                self.cc_written.add("op")
            elif n in ("setfl", "foldcf"):
                self.cc_written.add("fl")
        self.sizes = sizes
        self.narrow = {r for r, ss in sizes.items() if max(ss) <= 2}
        self.regs = sorted(sizes)
        # registers whose first access is a write of all their width need no load
        self.write_first = {r for r, op in first.items() if op.name == "setr" and self._full_write(op)}
        self.repeats = any(op.name == "retire" for op in ops)
        self.early = self._early_writes(ops)
        self.runs = self._load_runs([ops])
        self.rmw = rmw_loads(ops)
        self.sink = self._sinkable(ops)

    def _load_runs(self, chain, links=None) -> dict:
        """The runs of word loads and of word stores along ``chain`` (op
        lists of blocks run one after the other) through the memory hooks'
        ``run_space`` (:func:`load_runs`, :func:`store_runs`), where RAM has
        word views; ``links``: see :func:`_access_runs`.  A run whose one
        test failed again and again at its first access's instruction
        (``checked_ips``) is made without its alignment (level 1: an odd
        stack pointer; the run's bytes are still tested once, and each
        access takes the word through ``struct``: :attr:`unaligned`), or not
        at all (level 2: its bounds failed too, SP next to a wrap; each
        access is checked)."""
        space = self.mem.run_space
        if space is None or not WORD_VIEWS:
            return {}
        runs = load_runs(chain, space, links) | store_runs(chain, space, links)
        if self.checked_ips and runs:
            ip, level = None, {}
            for ops in chain:
                for op in ops:
                    if op.name == "insn_start":
                        ip = op.aux[1]
                    elif id(op) in runs and runs[id(op)][0] is op and ip in self.checked_ips:
                        level[id(op)] = self.checked_ips[ip]
            self.unaligned.update(f for f, n in level.items() if n == 1)
            runs = {i: r for i, r in runs.items() if level.get(id(r[0]), 0) < 2}
        return runs

    def _sinkable(self, ops) -> set:
        """The ``setr`` ops (by id) whose write the main line need not make:
        the block writes at least as much of the register again before
        anything reads it or can leave the block but by a bail (x86: LODSB's
        AL before ``add al, [edi]``), so only those bails -- where the
        register's value is stored back -- see it (:meth:`gen_setr`)."""
        out = set()
        early = {id(op) for op in self.early.values()}
        for i, op in enumerate(ops):
            if op.name != "setr" or id(op) in early:
                continue
            r, size = op.aux
            bails = False
            for o in ops[i + 1:]:
                n = o.name
                if n == "setr" and o.aux[0] == r:
                    if bails and o.aux[1] >= size:
                        out.add(id(op))
                    break
                if n == "getr" and o.aux[0] == r:
                    break
                flags = OPCODES[n].flags
                if BAIL_FLAG in flags and EXIT not in flags and END not in flags:
                    bails = True
                elif not (OPCODES[n].pure or n in ("insn_start", "setr", "setcc", "setccop", "setfl",
                                                   "foldcf")):
                    break
        return out

    def _early_writes(self, ops) -> dict:
        """Temporaries to assign to their register's local where they are
        computed (temp id -> the register), not at the instruction's end:
        those a full-width ``setr`` writes that are used again (x86's LOOP
        branches on the count it writes), when only pure code that reads
        neither the register anew nor the flag record comes between --
        nothing can leave the block there, so the register's new value is
        seen by no one too early.  A loaded value goes straight into its
        register's local too (``r3 = W4[p >> 2]``, no copy), with writes of
        other registers also allowed between (a post-indexed load's base):
        the load's own bail comes before the assignment (:meth:`_load_to`)."""
        where = {}
        out = {}
        for i, op in enumerate(ops):
            if op.out is not None:
                where[op.out.id] = i
            if op.name != "setr" or not isinstance(op.args[0], Temp) or not self._full_write(op):
                continue
            t = op.args[0]
            j = where.get(t.id)
            r = op.aux[0]
            if j is None:
                continue
            load = ops[j].name == "ld"
            if not load and (self.main_uses.get(t.id, 0) < 2 or ops[j].name in ("getr", "getcc", "getseg")
                             or not OPCODES[ops[j].name].pure):
                continue
            if all(o.name == "insn_start" or (OPCODES[o.name].pure and o.name != "getcc"
                                               and not (o.name == "getr" and o.aux[0] == r))
                   or (load and o.name == "setr" and o.aux[0] != r)
                   for o in ops[j + 1:i]):
                out[t.id] = op
        return out

    # -- emission helpers --------------------------------------------------------------------
    def emit(self, line: str):
        self.lines.append("    " * self.ind + line)

    def new_local(self, prefix="x"):
        self.nlocal += 1
        return f"{prefix}{self.nlocal}"

    def val(self, v, main=True):
        """Source text of a value; consumes one use (main, or cold: a flag record
        or an exit) of a deferred temp."""
        if not isinstance(v, Temp):
            if isinstance(v, bool):
                return "True" if v else "False"
            return str(v) if v >= 0 else f"({v})"
        nm = self.names.get(v.id)
        if nm is not None:
            return nm
        e = self.deferred[v.id]
        e[2 if main else 3] -= 1
        return e[0]

    def reads_of(self, v):
        if isinstance(v, Temp) and v.id in self.deferred:
            return self.deferred[v.id][1]
        return frozenset()

    def write_local(self, loc: str, live=None, inverse=None):
        """About to assign local ``loc``: keep what still reads its old value
        valid -- a temporary the main line still uses is computed now; one
        only exits and flag records use, and a live flag expression, keep
        their text and read a copy of the old value instead (one store, and
        the work is done only where it is needed) -- or, ``inverse``, the
        old value computed from the new one where they are used (no store
        at all: :meth:`_inverse`)."""
        if self.checked:
            self.checked = {c: names for c, names in self.checked.items() if loc not in names}
        old = None
        pat = None
        if inverse is not None:
            old, pat = f"({inverse})", re.compile(rf"\b{loc}\b")
        for tid, e in list(self.deferred.items()):
            if loc in e[1] and (e[2] > 0 or e[3] > 0):
                if e[2] > 0:
                    nm = f"t{tid}"
                    self.emit(f"{nm} = {e[0]}")
                    del self.deferred[tid]
                    self.names[tid] = nm
                    continue
                if old is None:
                    old, pat = self._keep_old(loc)
                e[0] = pat.sub(old, e[0])
                if inverse is None:
                    e[1] = (e[1] - {loc}) | {old}
        for f, k in list(self.know.items()):
            if k[0] == "expr" and (loc in k[2] or loc in _fl_rest(k)[1]):
                if live is None or f in live:
                    if old is None:
                        old, pat = self._keep_old(loc)

                    def sub(text, reads):
                        if loc not in reads:
                            return text, reads
                        return pat.sub(old, text), reads if inverse is not None else (reads - {loc}) | {old}
                    self.know[f] = _fl_entry(*sub(k[1], k[2]), sub(*k[4]) if len(k) > 4 else None)
                else:
                    self.know[f] = ("dead",)

    def _keep_old(self, loc: str):
        old = self.new_local("o")
        self.emit(f"{old} = {loc}")
        return old, re.compile(rf"\b{loc}\b")

    def materialise(self, f):
        k = self.know[f]
        if k[0] != "expr":
            return
        loc = "cc_" + f
        self.know[f] = ("local",)       # its own old value is read by the assignment itself
        self.write_local(loc)
        self.emit(f"{loc} = {k[1]}")

    def cc_expr(self, f):
        k = self.know[f]
        if k[0] == "expr":
            return k[1], k[2]
        if k[0] == "local":
            return "cc_" + f, frozenset(("cc_" + f,))
        if k[0] == "dead":          # a field the record in force never reads: any value
            return "0", frozenset()
        return f"S.{self.cc_names[f]}", frozenset()

    def getr_expr(self, r, size):
        loc = f"r{r}"
        if r in self.narrow:
            return (loc if size == 2 else f"{loc} & 255"), frozenset((loc,))
        if size == 8 or (size == 4 and r in self.narrow32):
            return loc, frozenset((loc,))
        return f"{loc} & {_MASK[size]}", frozenset((loc,))

    def snapshot(self):
        return (dict(self.know), {k: list(v) for k, v in self.deferred.items()}, dict(self.names),
                set(self.written_so_far), dict(self.checked), dict(self.sunk))

    def restore(self, snap):
        self.know, self.deferred, self.names, self.written_so_far, self.checked, self.sunk = snap
        self.deferred = {k: list(v) for k, v in self.deferred.items()}
        self.checked = dict(self.checked)
        self.sunk = dict(self.sunk)

    # -- exits -------------------------------------------------------------------------------
    def retired(self, k):
        if self.loop or self.repeats:
            return f"((left0 - left + {k}) << {EXIT_SHIFT}) | {len(self.exits)}"
        return str((k << EXIT_SHIFT) | len(self.exits))

    def stub(self, kind, k, rip: str, slot=None, target=None):
        self.write_sunk()
        regs = self.regs_written if self.loop else self.written_so_far
        for r in sorted(regs):
            if r in self.narrow:
                self.emit(f"R[{r}] = R[{r}] & -65536 | r{r}")
            else:
                self.emit(f"R[{r}] = r{r}")
        targets, values = [], []
        for f in ("op", "res", "a", "b", "size", "fl"):
            kk = self.know[f]
            if kk[0] == "expr":
                targets.append(f"S.{self.cc_names[f]}")
                values.append(kk[1])
            elif kk[0] == "local":
                targets.append(f"S.{self.cc_names[f]}")
                values.append(f"cc_{f}")
        if any("S." in v for v in values) and len(values) > 1:
            # the values may read the entry record: evaluate them all before writing any
            self.emit(f"{', '.join(targets)} = {', '.join(values)}")
        else:
            for t, v in zip(targets, values):
                self.emit(f"{t} = {v}")
        self.emit(f"S.{self.pc} = {rip}")
        self.emit(f"return {self.retired(k)}")
        self.exits.append(TbExit(kind, slot, target, self.insn_base + k))

    def covered(self) -> int:
        """The instructions the budget (``left``) is known to cover from the
        block's start: the block's own (the dispatcher enters it only then,
        its loop goes round again only then)."""
        return self.n_insns

    def charge(self, text: str) -> None:
        """An instruction retired ``text`` instructions more than it counts
        for (a repeat: ``retire``)."""
        self.emit(f"left -= {text}")

    def back_edge(self, k_last):
        n = self.n_insns
        self.emit(f"left -= {n}")
        self.emit(f"if left < {n}:")
        self.ind += 1
        self.stub(GOTO, 0, str(self.b.ip), 0, self.b.ip)
        self.ind -= 1
        for f in sorted(self.live_top_local):
            self.materialise(f)
        self.emit("continue")

    # -- main ---------------------------------------------------------------------------------
    def generate(self) -> str:
        self.analyse()
        b = self.b
        self.know = {f: ("state",) for f in CC_FIELDS}
        self.deferred = {}      # temp id -> [expr, reads, remaining main uses, remaining cold uses]
        self.names = {}
        self.cc_val = {}        # getcc temp id -> the IR value of the record field it read
        self.written_so_far = set()
        self.checked = {}
        self.sunk = {}          # register -> the value of a write left to the bails (_sinkable)
        live_in = getattr(b, "live_in", frozenset(CC_FIELDS))
        self.live_top_local = (live_in & self.cc_written) if self.loop else set()
        params = ["left", "R=R", "S=S"] + self.mem.params(self.segs)
        params += _access_params(b.ops)
        params += _call_params(b.ops, params)
        header = f"def {self.name}({', '.join(params)}):"
        for r in self.regs:
            # (a loop writes back every register it writes at each exit)
            if r not in self.write_first or self.loop:
                self.emit(f"r{r} = R[{r}] & 65535" if r in self.narrow else f"r{r} = R[{r}]")
        self.mem.prologue(self, self.segs)
        for f in sorted(self.live_top_local):
            self.emit(f"cc_{f} = S.{self.cc_names[f]}")
            self.know[f] = ("local",)
        if self.loop or self.repeats:
            self.emit("left0 = left")
        if self.loop:
            self.emit("while True:")
            self.ind += 1
        self.gen_ops(b)
        return header + "\n" + self._source() + "\n"

    def goto(self, k, slot, target, chained=False):
        """A direct jump to ``target`` after instruction k of the current
        block (``chained``: the block's last op, an unconditional one)."""
        if self.loop and target == self.b.ip:
            self.back_edge(k)
        else:
            self.stub(GOTO, k + 1, str(target), slot, target)

    def gen_ops(self, b):
        k = 0
        ip = b.ip
        ended = False
        depth = len(self.path)
        # bounds tested in this copy of the block hold for its own ops only
        outer, self.upper = self.upper, {}
        self._linked_bounds(b.ops)
        for op in b.ops:
            n = op.name
            if n == "insn_start":
                k, ip = op.aux
                continue
            if OPCODES[n].pure:
                self.gen_pure(op)
            elif n == "setr":
                self.gen_setr(op)
            elif n == "setcc":
                uses = self.flags.record_uses.get(op.args[0]) if type(op.args[0]) is int else None
                for f, a in zip(("op", "res", "a", "b", "size"), op.args):
                    e = self.val(a, False)
                    # a field the recorded operation never looks at is left as
                    # it is: whatever it holds, the flags come out the same
                    self.know[f] = ("dead",) if uses is not None and f not in uses else \
                        ("expr", e, self.reads_of(a), a)
            elif n == "setccop":
                self.know["op"] = ("expr", self.val(op.args[0], False), self.reads_of(op.args[0]))
            elif n == "setfl":
                # an arithmetic-only write (op.keeps): outside those flags, fl
                # is still ``keeps`` -- all a reader that cannot see them needs
                rest = None
                if op.keeps is not None:
                    rest = (self.val(op.keeps, False), self.reads_of(op.keeps))
                self.know["fl"] = _fl_entry(self.val(op.args[0], False), self.reads_of(op.args[0]), rest)
            elif n == "foldcf":
                fe, fr = self.cc_expr("fl")
                rest = _fl_rest(self.know["fl"]) if self.know["fl"][0] == "expr" else (fe, fr)
                c = op.args[0]
                ce = self.val(c, False)
                keep = ~self.flags.cf_mask
                if ce == "0" and fe.endswith(f" & {keep}") and _atomic(fe[:-len(f" & {keep}")]):
                    e = fe          # CF already clear
                else:
                    e = f"{_paren(fe)} & {keep}" if ce == "0" else f"{_paren(fe)} & {keep} | {_paren(ce)}"
                self.know["fl"] = _fl_entry(e, fr | self.reads_of(c), rest)
            elif n == "ld" and len(op.args) > 1 and op.out.id not in self.early:
                self.access_if(op, op.args[1], k, ip)
            elif n == "ld":
                self.load_store(op, k, ip, True)
            elif n == "st" and len(op.args) > 2:
                self.access_if(op, op.args[2], k, ip)
            elif n == "st":
                self.load_store(op, k, ip, False)
            elif n == "bailif":
                self.bail_if(self.val(op.args[0]), k, ip)
            elif n == "call_bail":
                t = op.out
                self.mem.before_call(self, op, k, ip)
                self.emit(f"t{t.id} = OPS.{op.aux[0]}({', '.join(self.val(a) for a in op.args)})")
                self.names[t.id] = f"t{t.id}"
                self.bail_if(f"t{t.id} < 0", k, ip)
                self.mem.after_call(self, op, k, ip)
            elif n == "budget":
                t = op.out
                self.emit(f"t{t.id} = left - {self.covered()}")
                self.names[t.id] = f"t{t.id}"
            elif n == "retire":
                self.charge(self.val(op.args[0]))
            elif n == "brcond":
                slot, target = op.aux
                c = self.val(op.args[0])
                m = _NONZERO.match(c)
                self.emit(f"if {self._fold_wrap(m.group(1) if m else c)}:")
                self.ind += 1
                snap = self.snapshot()
                self.path.append((id(op), True, True))
                self.goto(k, slot, target)
                self.path[-1] = (id(op), False, True)   # on: not taken
                self.restore(snap)
                self.ind -= 1
            elif n == "goto_tb":
                slot, target = op.aux
                self.path.append((id(op), True, False))
                self.goto(k, slot, target, chained=True)
                ended = True
                break
            elif n == "exit_tb":
                self.stub(INDIRECT, k + 1, self.val(op.args[0], False))
                ended = True
                break
            elif n == "exit_sync":
                self.stub(SYNC, k + 1, self.val(op.args[0], False))
                ended = True
                break
            elif n == "call_helper":
                self.stub(HELPER, k, str(ip))
                ended = True
                break
            else:
                raise ValueError(f"codegen: no rule for IR op {n}")
        del self.path[depth:]
        self.upper = outer
        if not ended:
            raise ValueError("codegen: block does not end with an exit")

    def gen_pure(self, op):
        n = op.name
        t = op.out
        if n == "getr":
            e, reads = self.getr_expr(*op.aux)
            self.deferred[t.id] = [e, reads, self.main_uses.get(t.id, 0), self.cold_uses.get(t.id, 0)]
            return
        if n == "getcc":
            f = op.aux[0]
            k = self.know[f]
            if k[0] == "expr" and (("(" in k[1] and self.call_re.search(k[1])) or (
                    self.main_uses.get(t.id, 0) > 1 and len(_OPERATORS.findall(k[1])) >= COSTLY_OPS)):
                # a helper call, or an expression read twice or more (A32's
                # condition HI from the CPSR word of a CMP in the block before
                # reads two of its bits): compute it once, not at every use
                self.materialise(f)
            e, reads = self.cc_expr(f)
            self.deferred[t.id] = [e, reads, self.main_uses.get(t.id, 0), self.cold_uses.get(t.id, 0)]
            k = self.know[f]
            if len(k) > 3 and k[3] is not None:
                self.cc_val[t.id] = k[3]      # the IR value the record holds (see gen_pure)
            return
        if n == "getseg":
            # read where it stands: a call later on may remap the space
            # (MemoryAccess.after_call), and a text left to its uses -- a
            # flag record's, an exit's -- would read the new value
            if self.main_uses.get(t.id, 0) or self.cold_uses.get(t.id, 0):
                self.emit(f"t{t.id} = {self.mem.space_value(op.aux[0])}")
                self.names[t.id] = f"t{t.id}"
            return
        reads = frozenset().union(*(self.reads_of(a) for a in op.args)) if op.args else frozenset()
        main = t.id in self.needed      # (see analyse)
        call = False
        if n == "call":
            args = [self.val(a, main) for a in op.args]
            e = None
            fr = self.flags
            carry = op.aux[0] == fr.carry_call
            if carry and args[0] == str(fr.carry_low_bit):
                e = self._low_bit(op.args[2])     # CF of a shift: bit 0 of its packed flags
            if e is None and carry and args[0].isdigit():
                e = fr.carry_exprs.get(int(args[0]), f"{{fl}} & {fr.cf_mask}")
                e = e.format(**{k: _paren(v) for k, v in zip(("res", "a", "b", "fl"), args[1:])})
            if e is None:
                e = f"{op.aux[0]}({', '.join(args)})"
                call = True
        elif n == "and" and _narrowing(op.args):
            # (r & 0xffffffff) & c with c inside the mask: r & c -- while the
            # register's local still holds what the getr read
            x, c = op.args
            v = self.val(x, main)
            r, size = x.op.aux
            e = f"r{r} & {c}" if v == self.getr_expr(r, size)[0] else f"{_paren(v)} & {c}"
        elif n == "and" and self._mask_keeps(op):
            e = self.val(op.args[0], main)
        else:
            args = [self.val(a, main) for a in op.args]
            e = _folded(n, args)
            if e is None:
                e = OPCODES[n].py.format(*(_paren(a) for a in args))
        nm = self.main_uses.get(t.id, 0)
        w = self.early.get(t.id)
        if w is not None:
            # computed into its register's local at once (see _early_writes)
            loc = f"r{w.aux[0]}"
            self.sunk.pop(w.aux[0], None)
            self.write_local(loc, w.live)
            self.assign(loc, e, t)
            self.written_so_far.add(w.aux[0])
            self.deferred[t.id] = [loc, frozenset((loc,)), nm, self.cold_uses.get(t.id, 0)]
            return
        fu = self.first_use.get(t.id)
        rename = fu is not None and fu.name == "setr" and self._full_write(fu)
        if call and nm + self.cold_uses.get(t.id, 0) > 1:
            rename = False
            nm = 2
        if nm <= 1 or rename:
            self.deferred[t.id] = [e, reads, nm, self.cold_uses.get(t.id, 0)]
        else:
            self.assign(f"t{t.id}", e, t, wide_only=True)
            self.names[t.id] = f"t{t.id}"

    def _mask_keeps(self, op) -> bool:
        """Is ``op`` (an ``and``) a mask of low bits over a value within
        them, on this path (:func:`_value_range`, with the bounds tested
        here: RET imm16 after a run of POPs)?"""
        m = op.args[1]
        if type(m) is not int or m <= 0 or m & (m + 1):
            return False
        rng = _value_range(op.args[0], upper=self.upper)
        return rng is not None and rng[0] >= 0 and rng[1] <= m

    def _low_bit(self, a):
        """Source text of a 0/1 value equal to bit 0 of the record field read by
        getcc ``a``, found in the IR that made the record (through ``x | y``
        where y has no bit 0) and still held in a local -- or None."""
        v = self.cc_val.get(a.id) if isinstance(a, Temp) else None
        while isinstance(v, Temp):
            if v.bits == 1:
                if v.id in self.names:
                    return self.names[v.id]
                e = self.deferred.get(v.id)
                if e is not None and (e[2] > 0 or e[3] > 0):
                    return e[0]
            op = v.op
            if op is None or op.name != "or":
                return None
            x, y = op.args
            v = x if clear_under(y, 1) else y if clear_under(x, 1) else None
        return None

    def _full_write(self, op):
        r, size = op.aux
        return size == 2 if r in self.narrow else size >= 4

    def gen_setr(self, op):
        r, size = op.aux
        v = op.args[0]
        loc = f"r{r}"
        if isinstance(v, Temp) and self.early.get(v.id) is op:
            self.val(v)                 # the local already holds it
            return
        self.sunk.pop(r, None)          # written again: the bails after this see this write
        if id(op) in self.sink and self._sink(op, loc):
            return
        rhs = self.val(v)
        if r in self.narrow:
            if size != 2:
                rhs = f"{loc} & 65280 | {_paren(rhs)}"
        elif size < 4:
            rhs = f"{loc} & {~_MASK[size]} | {_paren(rhs)}"
        renamed = None
        if isinstance(v, Temp) and self._full_write(op) and v.id in self.deferred:
            renamed = self.deferred.pop(v.id)     # it is about to live in the register's local
        self.write_local(loc, op.live, self._inverse(op, loc))
        self.assign(loc, rhs, v, self._full_write(op))
        self.written_so_far.add(r)
        if renamed is not None:
            self.deferred[v.id] = [loc, frozenset((loc,)), renamed[2], renamed[3]]

    def assign(self, loc: str, text: str, v, whole: bool = True, wide_only: bool = False) -> None:
        """``loc = text``, the source text of the value ``v``; ``whole``: the
        assignment is all of a register write (not a merge into part of
        ``loc``) -- a mask of the low bits over arithmetic that can leave
        them by at most one wrap then becomes a compare (:func:`_wrap_lines`);
        ``wide_only``: only a mask of 30 bits or more, a generic operation
        (a temporary's: a 16-bit mask of a small int costs less than the
        compare)."""
        lines = None
        if whole and isinstance(v, Temp) and v.op is not None and v.op.name == "and":
            m = v.op.args[1]
            if type(m) is int and m > 0 and m & (m + 1) == 0 and text.endswith(f" & {m}") \
                    and (m >> 30 or not wide_only):
                inner = _unparen(text[:-len(f" & {m}")])
                if inner is not None:
                    x = v.op.args[0]
                    rng = _value_range(x, upper=self.upper)
                    c = x.op.args[1] if isinstance(x, Temp) and x.op is not None and x.op.name == "add" else None
                    if type(c) is int and m // 2 < c <= m and rng is not None and inner.endswith(f" + {c}"):
                        # x + c with c a negative number modulo m + 1 (DEC,
                        # LEA [reg-k], [EBP-4]): x - k, in small ints, corrected
                        # below zero
                        k = m + 1 - c
                        inner = f"{inner[:-len(f' + {c}')]} - {k}"
                        rng = (rng[0] - m - 1, rng[1] - m - 1)
                    lines = _wrap_lines(loc, inner, m, rng)
        for line in lines or [f"{loc} = {text}"]:
            self.emit(line)

    def _peek(self, v):
        """Source text of a value, without consuming a use (None: gone)."""
        if not isinstance(v, Temp):
            return None
        nm = self.names.get(v.id)
        if nm is not None:
            return nm
        e = self.deferred.get(v.id)
        return e[0] if e is not None else None

    def _inverse(self, op, loc: str):
        """When the register write ``op`` sets ``loc`` to ``(loc + c) & m``
        (m: all the local holds; INC, DEC, ADD/SUB of a constant, PUSH, POP),
        the old value from the new one as source text, else None."""
        v = op.args[0]
        if not isinstance(v, Temp) or v.op is None or v.op.name != "and" or not self._full_write(op):
            return None
        r = op.aux[0]
        x, m = v.op.args
        if type(m) is not int or m != (65535 if r in self.narrow else _MASK[4] if r in self.narrow32
                                       else _MASK[8]):
            return None
        if not isinstance(x, Temp) or x.op is None or x.op.name not in ("add", "sub"):
            return None
        g, c = x.op.args
        if x.op.name == "add" and type(g) is int:
            g, c = c, g
        if type(c) is not int or not isinstance(g, Temp) or g.op is None or g.op.name != "getr" \
                or g.op.aux[0] != r or self._peek(g) != loc:
            return None
        k = c if x.op.name == "add" else -c
        return f"({loc} - {k}) & {m}" if k >= 0 else f"({loc} + {-k}) & {m}"

    def _sink(self, op, loc: str) -> bool:
        """Keep the write ``op`` (one of ``sink``) for the bails before the
        next write of its register, when its value reads nothing but the
        register's local and temporaries already named (which no write
        before then changes); False: write it now."""
        r, size = op.aux
        v = op.args[0]
        if isinstance(v, Temp):
            if v.id in self.names:
                text = self.names[v.id]
            elif v.id in self.deferred and self.deferred[v.id][2] == 1:
                text = self.deferred[v.id][0]
            else:
                return False
        else:
            text = self.val(v)
        if not all(n == loc or (n in self.names.values() and not _REG_LOCAL.match(n))
                   for n in _NAMES.findall(text)):
            return False
        text = self.val(v) if isinstance(v, Temp) else text
        if r in self.narrow:
            if size != 2:
                text = f"{loc} & 65280 | {_paren(text)}"
        elif size < 4:
            text = f"{loc} & {~_MASK[size]} | {_paren(text)}"
        self.sunk[r] = text
        self.written_so_far.add(r)
        return True

    def write_sunk(self) -> None:
        """At a bail: make the register writes the main line left out."""
        for r, text in sorted(self.sunk.items()):
            self.write_local(f"r{r}")
            self.emit(f"r{r} = {text}")

    def _fold_wrap(self, cond: str) -> str:
        """The condition of a conditional jump, ``cond``, with the wrap of
        the register write just before it (:func:`_wrap_lines`) folded in,
        when the jump tests that register: one compare a pass where there
        were two, the correction made in the condition when it is due.

        * ``x = x - 1``, ``if x < 0: x += N`` (DEC, SUB of 1, LOOP's count)
          then ``if x:`` -- ``if x > 0 or x and (x := x + N):`` (a count
          that went below zero is corrected there, and is nonzero unless it
          was -N);
        * ``x = x + 1``, ``if x > M: x -= N`` (INC, ADD) then ``if x < K:``,
          K a number up to N (CMP with JB) -- ``if x < K or x > M and
          (x := x - N) < K:`` (a value above M is not below K)."""
        if len(self.lines) < 2:
            return cond
        pre = "    " * self.ind
        m = _WRAP_LINE.fullmatch(self.lines[-1][len(pre):])
        if m is None or not self.lines[-1].startswith(pre) \
                or not self.lines[-2].startswith(f"{pre}{m.group(1)} = "):
            return cond
        x, top, n = m.group(1), m.group(3), m.group(4)
        below = _BELOW.fullmatch(cond)
        if top is None and cond == x:
            new = f"{x} > 0 or {x} and ({x} := {x} + {n})"
        elif top is not None and below and below.group(1) == x and int(below.group(2)) <= int(top) + 1:
            new = f"{cond} or {x} > {top} and ({x} := {x} - {n}) < {below.group(2)}"
        else:
            return cond
        del self.lines[-1]
        return new

    def load_store(self, op, k: int, ip, load: bool) -> None:
        """The ``ld`` or ``st`` ``op``: the target's checked way
        (``MemoryAccess.load_store``), or plain RAM with no test when the
        range test at the top of the loop being generated vouches for it
        (:meth:`RegionCodegen._range_plan`: every address it makes in the
        passes that test covers lies in RAM, aligned, and a store's in no
        byte of code)."""
        if id(op) not in self.ranged:
            return self.mem.load_store(self, op, k, ip, load)
        space, size = op.aux
        p = text = f"{_paren(self.val(op.args[0]))} - {self.mem.flat_base(space)}"
        loc = self.held(text)
        if loc is not None:
            p = loc
        elif load and id(op) in self.rmw and op.out.id not in self.early:
            # a read-modify-write: the store indexes RAM with the load's local
            p = self.atomic(text, "p")
        if size == 1 or not WORD_VIEWS:
            return self.access(op, load, size, p)
        word = f"W{size}[({p}) >> {size.bit_length() - 1}]"
        if load:
            self.emit(f"{self._load_to(op.out)} = {word}")
            self._loaded(op.out)
        else:
            self.emit(f"{word} = {self.val(op.args[1])}")

    def access_if(self, op, cond, k: int, ip) -> None:
        """A predicated access (``ld`` or ``st`` with a condition ``cond``:
        an A32 LDRcc, STRcc): made only if the condition holds -- its checks
        and bails too -- and the block goes on either way; a load skipped
        reads 0 (what it loads is only ever selected by the same
        condition).  What the access's code computes or checks inside is
        forgotten after it (the path that skipped it has not)."""
        c = self.val(cond)
        m = _NONZERO.match(c)
        load = op.name == "ld"
        if load:
            self.emit(f"t{op.out.id} = 0")
        self.emit(f"if {m.group(1) if m else c}:")
        self.ind += 1
        snap = self.snapshot()
        self.load_store(op, k, ip, load)
        self.restore(snap)
        self.ind -= 1
        if load:
            self._loaded(op.out)

    def bail_if(self, cond: str, k: int, ip, spec: bool = False) -> None:
        """``if cond:`` leave the block at instruction ``k`` (IP ``ip``)
        before it did anything, for the interpreter to run it.  ``spec``:
        ``cond`` tests a speculation (:attr:`TbExit.spec`)."""
        self.emit(f"if {cond}:")
        self.ind += 1
        snap = self.snapshot()
        self.stub(BAIL, k, str(ip))
        self.exits[-1].spec = spec or self.speculating
        self.restore(snap)
        self.ind -= 1

    def _source(self) -> str:
        """The function's body: its lines, each device access that a later
        access counted on lying in RAM (:meth:`_tested`) made a bail."""
        text = "\n".join(self.lines)
        if self.device_bails:
            names = "|".join(sorted(self.device_bails))
            text = re.sub(rf"\b({names}) = MQ[RW]\[.*", r"\1 = -1", text)
        return text

    def _tested(self, cond: str) -> bool:
        """True when this path found ``cond`` false already, since the
        locals it reads last changed: tested on its own, or as the
        outside-RAM test of a device access (:meth:`_device_access`) -- that
        access then bails instead of going to the device, so that past it
        the address lies in RAM (a load and a store of one address test it
        once, and only the rare device access pays)."""
        if cond in self.checked:
            return True
        sites = [key for key in self.checked if key[:2] == ("dev", cond)]
        for key in sites:
            self.device_bails.add(key[2])
            self.checked[cond] = self.checked[key]
        return bool(sites)

    def bail_unless_checked(self, conds, k: int, ip) -> None:
        """:meth:`bail_if` on the conditions ``conds`` (any true: bail) that
        this path has not tested already since the locals they read last
        changed (a load and a store of one address check it once); those
        assigning nothing are remembered."""
        todo = [c for c in conds if not self._tested(c)]
        if todo:
            self.bail_if(" or ".join(todo), k, ip)
        for c in todo:
            if ":=" not in c:
                self.checked[c] = frozenset(_NAMES.findall(c))

    def load_byte_or_bail(self, op, addr: str, k: int, ip, implied: str) -> None:
        """A byte load of RAM at the physical address ``addr``, known to be
        non-negative, that bails (as :meth:`bail_if` on ``implied``) when
        ``addr`` is past the end of RAM: the index raises, so the load costs
        no test; ``implied`` holds afterwards."""
        t = op.out
        dest = self._load_to(t)
        self.emit("try:")
        self.emit(f"    {dest} = MM[{addr}]")
        self.emit("except IndexError:")
        self.ind += 1
        snap = self.snapshot()
        self.stub(BAIL, k, str(ip))
        self.exits[-1].spec = self.speculating
        self.restore(snap)
        self.ind -= 1
        self._loaded(t)
        self.checked[implied] = frozenset(_NAMES.findall(implied))

    def unwrapped(self, v, text: str, top: int, ip) -> str | None:
        """``text`` (the source of ``v``, from :meth:`val`) without its
        mask, for an address that the caller tests against ``top`` (an
        end of RAM up to 2**k) and bails on past it, when ``v`` is
        ``x & m`` (m = 2**k - 1) with x in [0, 2m + 1] and its least value
        below ``top``: a sum that wrapped is above m, so the same test
        catches it -- one compare an access instead of two.  A speculation
        (the interpreter then makes the access, wrapped): a sum that
        wraps at instruction ``ip`` again and again (a negative number
        in a register, ``[eax + ecx]``) is translated again with the mask
        (:meth:`speculative`'s bails, ``checked_ips``).  None: keep it."""
        if not isinstance(v, Temp) or v.op is None or v.op.name != "and" or self.checked_ips.get(ip):
            return None
        m = v.op.args[1]
        if type(m) is not int or m <= 0 or m & (m + 1) or top > m + 1 or not text.endswith(f" & {m}"):
            return None
        inner = _unparen(text[:-len(f" & {m}")])
        rng = _value_range(v.op.args[0], upper=self.upper)
        if inner is None or rng is None or rng[0] < 0 or rng[0] >= top or rng[1] > 2 * m + 1:
            return None
        return inner

    @contextmanager
    def speculative(self, on: bool = True):
        """While on, the bails made are a speculation's (:meth:`unwrapped`)."""
        before, self.speculating = self.speculating, on
        try:
            yield
        finally:
            self.speculating = before

    def atomic(self, text: str, prefix: str, v=None) -> str:
        """``text``, or a local holding it when it is not a name or a number:
        the one this path assigned it to already, while the locals it reads
        are unchanged (the address of a read-modify-write's load and store,
        x86's ``inc dword [ebx + eax*4]``), else a new one.  ``v``: the IR
        value ``text`` computes, when it is one (a wide mask then becomes a
        compare: :meth:`assign`)."""
        if _atomic(text):
            return text
        loc = self.held(text)
        if loc is not None:
            return loc
        loc = self.holder(text, prefix)
        self.assign(loc, text, v, wide_only=True)
        self.hold(text, loc)
        return loc

    def held(self, text: str):
        """The local this path assigned ``text`` to, while the locals
        ``text`` reads are unchanged; else None."""
        loc = self.value_locals.get(text)
        return loc if loc is not None and ("=", text) in self.checked else None

    def holder(self, text: str, prefix: str) -> str:
        """The local to assign ``text`` to now (the caller emits the
        assignment, then calls :meth:`hold`): the one used for it before,
        its old value stale from here on, or a new one."""
        loc = self.value_locals.get(text)
        if loc is None:
            return self.value_locals.setdefault(text, self.new_local(prefix))
        self.write_local(loc)       # what read its old value on this path is stale
        return loc

    def hold(self, text: str, loc: str, tested=()) -> None:
        """Remember that this path assigned ``text`` to ``loc`` (from
        :meth:`holder`) and found the conditions ``tested`` false."""
        self.checked[("=", text)] = frozenset(_NAMES.findall(text))
        for c in tested:
            self.checked[c] = frozenset(_NAMES.findall(c))

    @staticmethod
    def paren(text: str) -> str:
        return _paren(text)

    @staticmethod
    def code_checks(addr: str, size: int, p=None) -> list:
        """Conditions true when a store of ``size`` bytes at the physical
        address ``addr`` (then held in ``p``, if it is an assignment) writes
        a byte of translated code: it touches a granule holding code (RAM's
        code map, ``CP``, tested inline) and RAM's bytes say it is code
        (``CB``, asked only then: a variable next to its loop stays fast)."""
        p = p or addr
        touched = f"CP[{addr} >> {GRANULE_SHIFT}]"
        if size > 1:
            touched = f"({touched} or CP[({p} + {size - 1}) >> {GRANULE_SHIFT}])"
        return [f"({touched} and {_code_bytes(p, size)})"]

    def _load_to(self, t) -> str:
        """The local load ``t`` is assigned to, called after its checks and
        before it: its register's local when the load is an early write
        (:meth:`_early_writes`; what still reads the old value is kept
        valid first), else ``t<id>``."""
        w = self.early.get(t.id)
        if w is None:
            return f"t{t.id}"
        # (no ``live``: the load's own bails come after this, and they write
        # the flags the setr's liveness may count dead -- flags set again
        # later, that read the register's old value)
        self.write_local(f"r{w.aux[0]}")
        return f"r{w.aux[0]}"

    def _loaded(self, t) -> None:
        """Load ``t`` is now in its local (:meth:`_load_to`), its bails
        generated.  When its first use writes all of a register, the value
        then lives in the register's local (:meth:`gen_setr` renames it, as
        it does a pure value's), so what else reads it -- a comparison's
        flags -- names the register, and a loop's flags over registers
        alone stay unevaluated on its passes
        (:meth:`RegionCodegen.peel_state`)."""
        w = self.early.get(t.id)
        if w is not None:
            r = w.aux[0]
            self.sunk.pop(r, None)
            self.written_so_far.add(r)
            self.deferred[t.id] = [f"r{r}", frozenset((f"r{r}",)), self.main_uses.get(t.id, 0),
                                   self.cold_uses.get(t.id, 0)]
            return
        nm = f"t{t.id}"
        fu = self.first_use.get(t.id)
        if fu is not None and fu.name == "setr" and self._full_write(fu):
            self.deferred[t.id] = [nm, frozenset((nm,)), self.main_uses.get(t.id, 0),
                                   self.cold_uses.get(t.id, 0)]
        else:
            self.names[t.id] = nm

    def access(self, op, load: bool, size: int, addr: str, value=None, dest=None) -> None:
        """The RAM access itself, at the physical address ``addr`` (a store
        writes ``value``, the text of its value, or op's own; a load assigns
        ``dest``, or the local :meth:`_load_to` gives)."""
        if load:
            t = op.out
            if dest is None:
                dest = self._load_to(t)
            self.emit(f"{dest} = MM[{addr}]" if size == 1 else f"{dest} = U{size}(MM, {addr})[0]")
            self._loaded(t)
            return
        if value is None:
            value = self.val(op.args[1])
        if size == 1:
            self.emit(f"MM[{addr}] = {value}")
        else:
            self.emit(f"P{size}(MM, {addr}, {value})")

    def ram_access(self, op, load: bool, size: int, addr: str, conds: list, k: int, ip,
                   misaligned_only=(), window=None, check_code=True, aligned=None,
                   code_free=False, invariant=False, device=None) -> None:
        """A checked RAM access of instruction k (at ``ip``): bail if one of
        ``conds`` holds -- the target's checks of the address (its limits,
        the end of RAM) -- or a store writes a granule holding translated
        code (``check_code``: false when the region's guard found none where
        the access can reach); else access RAM at the physical address
        ``addr`` (a name, or an expression over what ``conds`` computed).
        A condition this path tested already, since the locals it reads last
        changed, is not tested again (:meth:`bail_unless_checked`).

        A word with checks to make goes through RAM's typed views
        (:func:`word_views`: ``W2``, ``W4``, ``W8``) when it is aligned -- its
        alignment tested with the checks, and it then lies in one code-map
        granule, so a store tests one -- and through ``struct`` after the
        same checks, in full, when it is not.  ``misaligned_only``: more
        checks, that can hold only when the word is not aligned (a 16-bit
        segment's limit 0xFFFF, its base a multiple of 8): made there alone.
        ``window``: a mask whose bits set in the address send a word to
        that checked way -- its alignment bits, and also every bit at and
        above an end of RAM that is a power of two, so one test covers the
        alignment and ``misaligned_only``'s ``addr > end - size`` (once
        those are tested on this path, the alignment bits alone).
        ``aligned``: the word's alignment when the target knows it from the
        address's form (a constant offset from a base that is a multiple of
        8): True goes to the view with no test, False to ``struct``.
        ``code_free``: a store the region's code-free window may take
        (:meth:`_code_free_store`).  ``invariant``: the address is the same
        all through a run of the region (constants and names its prologue
        binds that nothing in it binds again): with no checks to make, and
        a byte or a word known aligned or not, it is computed once at the
        region's entry, and so is a store's code test
        (:meth:`_invariant_access`).  ``device``: ``(cond, addr)``, ``cond``
        one of ``conds`` (or ``misaligned_only``) true exactly when the
        access lies outside RAM: there it is offered to the machine's
        device bus at the guest address ``addr`` instead of bailing (not
        for an access ``shared`` by later loads, :func:`reuse_loads`)
        (:meth:`_device_access`); a third item, when given, is ``cond`` as a
        later access of the same address tests it (``cond`` assigning the
        address's local)."""
        value = None if load else self.val(op.args[1])
        if op.shared:
            # later loads of these bytes were dropped for this access's value
            # (reuse_loads): a device need not give it again, so outside
            # RAM the access bails and the interpreter makes each one
            device = None
        if invariant and self.hoisted is not None and not conds and not misaligned_only \
                and (size == 1 or aligned is not None):
            return self._invariant_access(op, load, size, addr, k, ip, value, check_code, aligned)
        conds = [c for c in conds if not self._tested(c)]
        misaligned_only = [c for c in misaligned_only if not self._tested(c)]
        # a read-modify-write: the load keeps the physical address in a local
        # the store reads (while the locals it is computed from are unchanged)
        keep = None
        if not _atomic(addr):
            loc = self.held(addr)
            if loc is not None:
                addr = loc
            elif load and id(op) in self.rmw and op.out.id not in self.early:
                # (an early write's register may be one the address reads)
                keep = (addr, self.holder(addr, "p"))
        if keep is not None and (size == 1 or not WORD_VIEWS or aligned is not None
                                 or not conds and not misaligned_only):
            # these ways compute the address once, where the load reads it
            addr = f"({keep[1]} := {addr})"
        self._access_ways(op, load, size, addr, conds, k, ip, misaligned_only, window, check_code,
                          aligned, code_free, value, keep, device)
        if keep is not None:
            self.hold(*keep)

    def _access_ways(self, op, load, size, addr, conds, k, ip, misaligned_only, window, check_code,
                     aligned, code_free, value, keep, device) -> None:
        """:meth:`ram_access`'s ways, once its conditions are filtered:
        ``keep``, when not None, (address text, local) the general way
        assigns the address to; ``device`` as :meth:`ram_access` has it."""
        if code_free and not load and check_code and aligned is None:
            return self._code_free_store(op, size, addr, conds + misaligned_only, k, ip, value)
        if size > 1 and WORD_VIEWS and aligned:
            # known aligned: misaligned_only cannot hold, one code granule
            p = addr
            if not load and check_code:
                if not _atomic(addr):
                    p = self.new_local("p")
                    addr = f"({p} := {addr})"
                conds = conds + [f"(CP[{addr} >> {GRANULE_SHIFT}] and {_code_bytes(p, size)})"]
            self.bail_unless_checked(conds, k, ip)
            word = f"W{size}[{_paren(p)} >> {size.bit_length() - 1}]"
            self.emit(f"{self._load_to(op.out)} = {word}" if load else f"{word} = {value}")
            if load:
                self._loaded(op.out)
            return
        if size == 1 or not WORD_VIEWS or (load and not conds and not misaligned_only) or aligned is False:
            conds = conds + list(misaligned_only)
            p = addr
            if not load and check_code:
                if not _atomic(addr):
                    p = self.new_local("p")
                    addr = f"({p} := {addr})"
                conds = conds + self.code_checks(addr, size, p)
            if device is not None and device[0] in conds:
                return self._device_access(op, load, size, p, value, None, conds, k, ip, device)
            self.bail_unless_checked(conds, k, ip)
            self.access(op, load, size, p, value)
            return
        p = addr if _atomic(addr) else keep[1] if keep is not None else self.new_local("p")
        assert size <= 1 << GRANULE_SHIFT
        mask = size - 1 if window is None or not misaligned_only else window
        fast = conds + [f"{p} & {mask}" if p is addr else f"({p} := {addr}) & {mask}"]
        if not load and check_code:
            fast.append(f"CP[{p} >> {GRANULE_SHIFT}]")
        dest = self._load_to(op.out) if load else None
        self.emit(f"if {' or '.join(fast)}:")
        self.ind += 1
        slow = conds + list(misaligned_only) + (self.code_checks(p, size) if not load and check_code else [])
        if device is not None and device[0] in slow:
            self._device_access(op, load, size, p, value, dest, slow, k, ip, device, record=False)
        else:
            if slow:
                self.bail_if(" or ".join(slow), k, ip)
            self.access(op, load, size, p, value, dest)
        self.ind -= 1
        self.emit("else:")
        self.ind += 1
        word = f"W{size}[{p} >> {size.bit_length() - 1}]"
        if load:
            self.emit(f"{dest} = {word}")
        else:
            self.emit(f"{word} = {value}")
        self.ind -= 1
        for c in conds + misaligned_only:       # false on both ways on
            if ":=" not in c and (device is None or c != device[0]):
                self.checked[c] = frozenset(_NAMES.findall(c))

    def _device_access(self, op, load: bool, size: int, p: str, value, dest, conds: list, k: int,
                       ip, device, record: bool = True) -> None:
        """The checked access of :meth:`ram_access` whose ``conds`` hold
        ``device[0]``, true when the access lies outside RAM: there it is
        offered to the device bus -- ``MQR[addr](size, 0)`` (a load) or
        ``MQW[addr](size, value)`` (a store), the tables bound by the
        target's memory hooks (the machine's quiet MMIO: counted as an
        exit, served by the device now), returning the value
        read (0 for a write) or -1 (not taken: the block bails and the
        interpreter makes the exit); elsewhere the other conditions bail
        and RAM is accessed at ``p``.  The device's condition is never
        remembered as tested (the device path goes on past it); the others
        are, when ``record`` (:meth:`bail_unless_checked`).  The path past
        it remembers that a later test of the same condition may count on
        it being false, by making this device access a bail (:meth:`_tested`)."""
        cond, addr = device[:2]
        rest = [c for c in conds if c != cond]
        if load and dest is None:
            dest = self._load_to(op.out)
        m = self.new_local("m")
        self.emit(f"if {cond}:")
        self.ind += 1
        self.emit(f"{m} = MQR[{addr}]({size}, 0)" if load else f"{m} = MQW[{addr}]({size}, {value})")
        self.bail_if(f"{m} < 0", k, ip)
        if load:
            self.emit(f"{dest} = {m}")
        self.ind -= 1
        self.emit("else:")
        self.ind += 1
        if rest:
            if record:
                self.bail_unless_checked(rest, k, ip)
            else:
                self.bail_if(" or ".join(rest), k, ip)
        self.access(op, load, size, p, value, dest)
        self.ind -= 1
        again = device[2] if len(device) > 2 else cond
        if ":=" not in again:
            self.checked[("dev", again, m)] = frozenset(_NAMES.findall(again))

    def _linked_bounds(self, ops) -> None:
        """The bounds of the register reads among ``ops`` that hold an
        address at an offset from a run's first access tested earlier on
        this path (``run_links``: SP after a CALL, read by the callee's
        PUSHes): the run's test bounds that address, and the offset
        carries the bounds while they stay within the run's wrap."""
        for op in ops:
            if op.name != "getr":
                continue
            for first, off in self.run_links.get(id(op.out), ()):
                run = self.runs.get(id(first))
                bounds = self.run_bounds.get(id(first))
                if run is None or run[1] != 0 or bounds is None:
                    continue
                lo, hi, top = bounds
                if 0 <= lo + off and hi + off < top:
                    self.upper[id(op.out)] = (lo + off, hi + off)

    def run_local(self, first, prefix: str) -> str:
        """The local holding the word index of the run whose first access is
        ``first``: the same name wherever its blocks are inlined, another
        for every run (a run may span blocks, whose temporaries' numbers
        repeat)."""
        name = self.run_names.get(id(first))
        if name is None:
            name = self.run_names[id(first)] = f"{prefix}{len(self.run_names)}"
        return name

    def run_load(self, op, k: int, ip, run, addr: str, conds: list, upper=None) -> None:
        """A word load of a run (:func:`load_runs`; ``run`` its entry) through
        RAM's views.  The run's first load tests, once for the whole run,
        that its physical address ``addr`` is aligned and ``conds`` (the
        target's: every byte of the run's span within its limits and RAM,
        and below the run's wrap) -- else it bails, at its instruction --
        and keeps the address's word index; every other load of the run
        reads at its offset from that index with no test
        (:meth:`_run_word`).  ``upper``: the bound ``conds`` put on the
        first load's address (the offsets above it, SP after each POP, then
        need no wrap).  A run made :attr:`unaligned` tests ``conds`` alone,
        keeps the address, and reads each word through ``struct``."""
        first, off, span, _wrap = run
        if off:
            return self._run_word(op, run, True)
        size = op.aux[1]
        unaligned = id(first) in self.unaligned
        p = addr
        if not _atomic(addr):
            p = self.new_local("p")
            if unaligned:
                self.emit(f"{p} = {addr}")
            addr = f"({p} := {addr})"
        if not unaligned:
            self.bail_if(" or ".join([f"{addr} & {size - 1}"] + conds), k, ip, True)
        elif conds:
            self.bail_if(" or ".join(conds), k, ip, True)
        self._run_word(op, run, True, p, None if upper is None else (0, upper, upper + span))

    def run_store(self, op, k: int, ip, run, off, base, top: int) -> None:
        """A word store of a run (:func:`store_runs`; ``run`` its entry) in
        the region's code-free window (:meth:`window_prologue`).  The run's
        first store, at offset ``off`` (a name; its physical address
        ``base + off``, or ``off`` with ``base`` None: a flat space) tests once for the whole
        run that the offset is at least the run's depth below it (no offset
        of the run wraps under ``top``, the wrap of its masks) and that the
        run's bytes lie aligned in the window -- else it bails, at its
        instruction, and the interpreter makes it (a block at the next one
        tests its own run) -- and keeps the address's word index; every
        other store of the run writes at its offset from that index with no
        test (:meth:`_run_word`), and its offset needs no wrap correction.
        A run made :attr:`unaligned` tests the same but the alignment, keeps
        the address, and writes each word through ``struct``."""
        first, at, span, _wrap = run
        if at:
            return self._run_word(op, run, False)
        size = op.aux[1]
        value = self.val(op.args[1])
        depth = span - size
        p = off if base is None else self.new_local("p")
        test = [f"{p} & {size - 1}", f"{off} < {depth}", f"not WLO + {depth} <= {p} <= WHI - {size}"]
        if base is None:        # (WLO >= 0: an offset in the window is at least the depth)
            del test[1]
        unaligned = id(first) in self.unaligned
        if unaligned:
            del test[0]
            if p is not off:
                self.emit(f"{p} = {base} + {off}")
        fast = " or ".join(test)
        if p is not off and not unaligned:
            fast = f"({p} := {base} + {off}){fast[len(p):]}"
        # outside the window: the window around the run's first address
        # (where the run lies in it unless it reaches code), then bail
        self.emit(f"if {fast}:")
        self.ind += 1
        self.emit(f"{', '.join(self.WINDOW)} = SWA({p})")
        self.bail_if(" or ".join(test), k, ip, True)
        self.ind -= 1
        self._run_word(op, run, False, p, (depth, top - 1, top), value)

    def _run_word(self, op, run, load: bool, p=None, bounds=None, value=None) -> None:
        """The word access ``op`` of a run (``run`` its entry: loads go up
        from the first address, stores down), the direction as data.  The
        first (``p``: its physical address, tested by the caller; ``bounds``:
        (lo, hi, top), the offset's bounds that test put, within [0, top))
        keeps the address's word index in the run's local and remembers the
        bounds (``upper``, ``run_bounds``); every other one reads or writes
        at its offset from that index."""
        first, off = run[0], run[1]
        size, shift = op.aux[1], op.aux[1].bit_length() - 1
        ix = self.run_local(first, "ix" if load else "sx")
        unaligned = id(first) in self.unaligned
        if off == 0:
            if bounds is not None and isinstance(op.args[0], Temp):
                self.upper[id(op.args[0])] = bounds[:2]
                self.run_bounds[id(first)] = bounds
            self.emit(f"{ix} = {p}" if unaligned else f"{ix} = {p} >> {shift}")
            at = ix
        else:
            self.val(op.args[0])        # its address is read no more: one use fewer
            at = f"{ix} {'+' if off > 0 else '-'} {abs(off) if unaligned else abs(off) >> shift}"
        if load:
            word = f"U{size}(MM, {at})[0]" if unaligned else f"W{size}[{at}]"
            self.emit(f"{self._load_to(op.out)} = {word}")
            self._loaded(op.out)
        else:
            value = self.val(op.args[1]) if value is None else value
            self.emit(f"P{size}(MM, {at}, {value})" if unaligned else f"W{size}[{at}] = {value}")

    def _local_names(self) -> tuple:
        """The expressions the locals handed out so far hold (:meth:`atomic`'s
        and :meth:`hoist`'s), for :meth:`_give_back_names`."""
        return dict(self.value_locals), None if self.hoisted is None else dict(self.hoisted)

    def _give_back_names(self, names: tuple) -> None:
        """Code generated since :meth:`_local_names` returned ``names`` was
        dropped, and ``nlocal`` set back: forget the locals it named, which
        new_local hands out again."""
        self.value_locals = dict(names[0])
        self.hoisted = None if names[1] is None else dict(names[1])

    def hoist(self, text: str, prefix: str) -> str:
        """The local a region's prologue assigns ``text`` to (once per
        text, in the order first asked: a text may read the locals of the
        texts hoisted before it)."""
        loc = self.hoisted.get(text)
        if loc is None:
            loc = self.hoisted[text] = self.new_local(prefix)
        return loc

    def _invariant_access(self, op, load: bool, size: int, addr: str, k: int, ip, value,
                          check_code: bool, aligned: bool) -> None:
        """A byte, or a word known aligned or not, at an address that is the
        same all through a run of the region, needing no check but a store's
        code test: the address, its index into RAM's view (an aligned word)
        and that test are computed once, in the region's prologue
        (:meth:`hoist`), and the store tests a local (``if c1:`` bail).  Exact because RAM's code
        maps gain code only between runs of translated code -- decoding and
        translation mark it, never a region's own code -- so a test false at
        the entry stays false for the run; one true bails every time, as
        before (a store that drops code makes the test falsely true at
        worst: the interpreter then makes the store)."""
        h = self.hoist(addr, "h")
        if not load and check_code:
            # an aligned word lies in one granule
            test = f"CP[{h} >> {GRANULE_SHIFT}] and {_code_bytes(h, size)}" if aligned \
                else self.code_checks(h, size)[0]
            self.bail_unless_checked([self.hoist(test, "c")], k, ip)
        if size > 1 and not (WORD_VIEWS and aligned):
            return self.access(op, load, size, h, value)
        view = "MM" if size == 1 else f"W{size}"
        idx = h if size == 1 else self.hoist(f"{h} >> {size.bit_length() - 1}", "w")
        if load:
            self.emit(f"{self._load_to(op.out)} = {view}[{idx}]")
            self._loaded(op.out)
        else:
            self.emit(f"{view}[{idx}] = {value}")

    #: the locals a region's code-free window lives in (CodeFreeWindow's tuple)
    WINDOW = ("WB", "WM1", "WM2", "WM4", "WM8", "WLO", "WHI")

    def window_prologue(self) -> None:
        """Take the code-free window at the region's entry
        (:class:`CodeFreeWindow`, bound as ``SWG`` and ``SWA``)."""
        self.extra_params += ["SWG=SWG", "SWA=SWA"]
        self.emit(f"{', '.join(self.WINDOW)} = SWG()")

    def _code_free_store(self, op, size: int, addr: str, conds: list, k: int, ip, value: str) -> None:
        """A store at the physical address ``addr`` that, when it lies
        aligned in the region's code-free window (:meth:`window_prologue`),
        needs none of ``conds`` (the caller vouches for that: the window is
        RAM, and an aligned word there is within the segment) nor a code
        check: one test.  Elsewhere it is made the checked way -- a word
        whose bytes lie in the window's bounds (misaligned: an odd stack)
        needing no code check there -- and then the window moves to its
        address."""
        p = addr if _atomic(addr) else self.new_local("p")
        first = p if p is addr else f"({p} := {addr})"
        self.emit(f"if ({first} ^ WB) & WM{size}:")
        self.ind += 1
        code = self.code_checks(p, size)
        if size > 1:
            code = [f"(not WLO <= {p} <= WHI - {size} and {code[0]})"] + code[1:]
        self.bail_if(" or ".join(conds + code), k, ip)
        self.access(op, False, size, p, value)
        self.emit(f"if ({p} ^ WB) & WM1: {', '.join(self.WINDOW)} = SWA({p})")
        self.ind -= 1
        self.emit("else:")
        if size == 1:
            self.emit(f"    MM[{p}] = {value}")
        elif WORD_VIEWS:
            self.emit(f"    W{size}[{p} >> {size.bit_length() - 1}] = {value}")
        else:
            self.emit(f"    P{size}(MM, {p}, {value})")
        for c in conds:         # false on both ways on
            if ":=" not in c:
                self.checked[c] = frozenset(_NAMES.findall(c))


def _sccs(nodes, succ):
    """Strongly connected components of the graph ``succ`` restricted to ``nodes``
    (Tarjan's algorithm, iteratively); each as a set."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter([t for t in succ[root] if t in nodes]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter([t for t in succ[w] if t in nodes])))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    out.append(comp)
    return out


def region_edges(blocks, returns=()) -> dict:
    """ip -> the direct jump targets of that block that are blocks of the region
    (one entry per jump: a block reached by two jumps is inlined twice),
    and for a block that leaves by an indirect jump, the region's return
    sites (``returns``: a RET there continues in the region)."""
    sites = [r for r in sorted(returns) if r in blocks]
    return {ip: [o.aux[1] for o in blk.ops if o.name in ("brcond", "goto_tb") and o.aux[1] in blocks]
            + (sites if blk.ops and blk.ops[-1].name == "exit_tb" else [])
            for ip, blk in blocks.items()}


def plan_region(blocks: dict, head: int, growth: float = 1.6, returns=()) -> set:
    """Choose the region's dispatch points: the blocks that get a section of
    their own (``if pc == ip:``) and an entry.  Every other block is inlined
    at each jump to it (tail duplication), so a path through the region is
    straight-line code and the lazy flag state flows along it as
    expressions.  The head is one; then, while the other blocks still form a
    cycle, the block of each cycle with the most traffic inside it (in-cycle
    predecessors x successors) becomes one; then, while inlining would grow
    the code past ``growth`` times its size, the most copied block does.
    (``returns``: the region's return sites, successors of its RETs.)"""
    succ = region_edges(blocks, returns)
    preds = {ip: [] for ip in blocks}
    for u, ts in succ.items():
        for t in ts:
            preds[t].append(u)
    # the head, and blocks no jump of the region reaches (``entries``, the
    # blocks other code enters the region at, get sections of their own
    # too, but jumps inside the region inline them: RegionCodegen)
    dispatch = {head} | {ip for ip in blocks if not preds[ip]}
    while True:
        rest = [ip for ip in blocks if ip not in dispatch]
        rs = set(rest)
        cyclic = [c for c in _sccs(rs, succ) if len(c) > 1 or any(t in c for t in succ[next(iter(c))])]
        if not cyclic:
            break
        for c in cyclic:
            dispatch.add(max(sorted(c), key=lambda v: sum(p in c for p in preds[v]) *
                             sum(t in c for t in succ[v])))
    size = {ip: len(b.ops) for ip, b in blocks.items()}
    total = sum(size.values())
    while True:
        copies = {}

        def ncopies(v):
            c = copies.get(v)
            if c is None:
                c = copies[v] = sum(1 if u in dispatch else ncopies(u) for u in preds[v])
            return c
        cost = sum(size[d] for d in dispatch) + sum(ncopies(v) * size[v] for v in blocks if v not in dispatch)
        if cost <= growth * total:
            break
        worst = max((v for v in blocks if v not in dispatch and copies[v] > 1),
                    key=lambda v: (copies[v] - 1) * size[v], default=None)
        if worst is None:
            break
        dispatch.add(worst)
    return dispatch


_EXIT_INDEX = re.compile(r"\be = \d+")


def _leave(path):
    """How a path leaves the loop closed by the path back ``path`` (a
    codegen path: (jump, taken, conditional) per jump): its last
    conditional jump, the other way -- or None (no conditional jump)."""
    for j, taken, cond in reversed(path):
        if cond:
            return (j, not taken, True)
    return None


class RegionCodegen(PyCodegen):
    """Several blocks of one page (a loop nest) compiled into ONE function.

    ``region(left, pc=ENTRY)`` runs while True over *sections*, one per
    dispatch point (:func:`plan_region`) and one per other entry (a block
    other code enters the region at: ``entries``, a section the region's
    own jumps never go to): ``if pc == <ip>:`` and the code of
    that block, with every other block of the region inlined where it is
    jumped to (QEMU's TBs are straight lines; a region is a tree of them).
    Guest registers stay in locals across the whole region (one read and
    written at most 32 bits wide holds just those, checked by the entry
    guard, so reading it needs no mask: :func:`_narrow32`); the lazy flag
    record lives in the locals ``cc_op`` ... ``cc_fl``, but along a path it
    is only a set of expressions: a jump to another section stores just the
    fields that section reads before overwriting them (its ``live_in``,
    computed over the region by :func:`emu.ir.optimize.region_liveness`),
    charges the path's instructions to ``left``, and continues -- no return
    to the dispatcher, no write-back.  A section that can jump to itself
    runs as an inner loop -- counted by ``for left in range(...)`` when
    its jump back is a conditional one (:meth:`_loop`), else ``while
    True`` -- peeled once when that lets the loop start with the previous
    iteration's flag record as expressions (:meth:`peel_state`).  An
    indirect jump to one of the region's return sites (``returns``)
    continues there too, after comparing the address: a return site is a
    block the RET jumps to like any other (:func:`region_edges`), inlined
    or a section as :func:`plan_region` decides.  Any other indirect jump
    whose target is one of the region's sections (a call through a
    register, a jump table) continues at that section after one look-up
    of the address (:meth:`indirect_section`).

    Budget: a section is entered only while ``left`` covers its longest
    path (``max_path``), so nothing inside a section checks the budget;
    otherwise the region leaves towards that section and the dispatcher
    lets the interpreter retire the remainder.  Every exit sets ``e`` (the
    exit index: ``RK[e]`` the instructions it retired since the last charge,
    ``RIP[e]`` its static next IP, ``CCG[e]`` which stores of lazy fields it
    still owes) and breaks to the one shared write-back at the end.
    """

    def __init__(self, blocks, head: int, dispatch, live_in, amask: int, ram_size: int,
                 name: str = "region", fast_segs=None, mem=None, returns=(), wide_guard=True,
                 fl_bits=(0, 0), entries=(), calls=frozenset(), checked=None):
        first = blocks[head]
        self.calls = calls      # the names of the instructions that are calls
        super().__init__(first, amask, ram_size, False, name, mem, checked)
        self.wide_guard = wide_guard
        self.returns = {r for r in returns if r in blocks}
        self.fast_segs = dict(fast_segs or {})
        self.fl_bits = fl_bits          # (mask, value): fl's bits the code took as constants
        self.blocks = blocks
        self.head = head
        self.dispatch = dispatch
        # every place the dispatcher may enter: a dispatch point or an entry
        # (a section only the dispatcher goes to: jumps here inline its block)
        self.sections = set(dispatch) | (set(entries) & set(blocks))
        self.live_in = live_in
        self.rk = []
        self.rips = []
        self.ccg = []           # per exit: its group of lazy-field stores (0: none)
        self.cc_groups = {}     # the stores' text -> group number
        self.succ = region_edges(blocks, self.returns)
        self.max_path = {}
        for d in self.sections:
            self.max_path[d] = self._longest(d, True)
        self.self_loop = {d: self._reaches(d, d) for d in self.sections}
        self.counted = None     # the counted loop being generated (see _loop)
        self.repeeled = False   # a path back of the peeled loop peels it again (transition)
        self.loops = any(self.self_loop.values())
        self.carried = self.flags.carried           # see carry
        self.carry_templates = {}                   # template text -> its number
        self.reads_first = {d: self._reads_first(blocks[d].ops) for d in self.sections}

    def _longest(self, ip, top):
        if not top and ip in self.dispatch:
            return 0
        return len(self.blocks[ip].insns) + max((self._longest(t, False) for t in self.succ[ip]),
                                                default=0)

    def _reaches(self, src, d):
        seen = set()
        todo = [src]
        while todo:
            v = todo.pop()
            for t in self.succ[v]:
                if t == d:
                    return True
                if t not in self.dispatch and t not in seen:
                    seen.add(t)
                    todo.append(t)
        return False

    # -- a carried flag field (FlagRecord.carried) ---------------------------------------------
    def _reads_first(self, ops) -> bool:
        """The block ``ops`` reads the carried field before it sets it (a
        condition on flags set before it): a jump to its section stores the
        field's value, which the block would compute at once anyway."""
        for op in ops:
            if op.name == "getcc" and op.aux[0] == self.carried:
                return True
            if op.name in ("setfl", "setcc"):
                return False
        return False

    def carry(self, f: str, text: str):
        """A jump to another section carries field ``f``, the expression
        ``text``, as its operands: the field's local is set to minus the
        number of the expression's template (its text over ``ca0``,
        ``ca1``... in place of the locals it reads), and those locals are
        copied into ``ca<n>`` -- a few stores instead of the expression.  The
        field is computed from them only where it is read (:meth:`uncarry`,
        and the write-back at the exits).  (targets, values) of the stores,
        or None: not a carried field, not worth it (few operations) or not
        possible (a call, an attribute, too many locals)."""
        if f != self.carried or "." in text or self.call_re.search(text):
            return None
        names = list(dict.fromkeys(n for n in _NAMES.findall(text) if not keyword.iskeyword(n)))
        if len(names) > CARRY_MAX_LOCALS or len(_OPERATORS.findall(text)) < COSTLY_OPS:
            return None
        slot = {n: f"ca{i}" for i, n in enumerate(names)}
        template = _NAMES.sub(lambda m: slot.get(m.group(0), m.group(0)), text)
        t = self.carry_templates.setdefault(template, len(self.carry_templates) + 1)
        return ["cc_" + f, *slot.values()], [f"-{t}", *names]

    def uncarry(self, f: str) -> None:
        """Field ``f`` is read on a path that entered its section with it
        perhaps carried: compute it from its operands if it is (a mark,
        expanded once every template is known: :meth:`_expand_carried`)."""
        self.emit(_CARRIED)
        self.know[f] = ("local",)

    def cc_expr(self, f):
        if self.know[f][0] == "carried":
            self.uncarry(f)
        return super().cc_expr(f)

    def _expand_carried(self) -> None:
        """Each mark of :meth:`uncarry` becomes the computation of the
        carried field from its template (none: the field was never carried)."""
        loc = f"cc_{self.carried}"
        templates = list(self.carry_templates.items())
        out = []
        for line in self.lines:
            if line.strip() != _CARRIED:
                out.append(line)
                continue
            pre = line[:len(line) - len(line.lstrip())]
            if len(templates) == 1:
                out.append(f"{pre}if {loc} < 0: {loc} = {templates[0][0]}")
            elif templates:
                out.append(f"{pre}if {loc} < 0:")
                for i, (text, t) in enumerate(templates):
                    test = "else" if i == len(templates) - 1 else \
                        f"{'if' if i == 0 else 'elif'} {loc} == -{t}"
                    out.append(f"{pre}    {test}: {loc} = {text}")
        self.lines = out

    # -- exits ----------------------------------------------------------------------------------
    def _flush_cc(self, only=None, to=None):
        """Store expression-valued lazy fields into their locals (all, or those
        in ``only``: a live set -- where it holds none of fl's arithmetic
        flags, ``ARITH_BITS``, fl is stored as the cheaper expression equal
        to it outside them, if there is one: after INC/DEC's fold of the
        carry into the local, the local itself, which needs no store); a
        carried field as its operands (:meth:`carry`), unless the path goes
        to section ``to``, which reads it first thing."""
        targets, values = [], []
        arith = only is None or bool(only & ARITH_BITS)
        for f in ("op", "res", "a", "b", "size", "fl"):
            kk = self.know[f]
            if kk[0] == "expr" and (only is None or f in only or (f == "fl" and arith)):
                v = kk[1] if arith or f != "fl" else _fl_rest(kk)[0]
                c = self.carry(f, v) if v == kk[1] and not self.reads_first.get(to) else None
                if c is not None:
                    targets += c[0]
                    values += c[1]
                    self.know[f] = ("carried",)
                    continue
                if v != "cc_" + f:
                    targets.append("cc_" + f)
                    values.append(v)
                self.know[f] = ("local",)
        if targets:
            self.emit(f"{', '.join(targets)} = {', '.join(values)}")

    def _exit(self, kind, retired, rip, slot=None, target=None, insn=None):
        self.write_sunk()
        idx = len(self.exits)
        if kind is GOTO:
            slot = idx
        static = rip.isdigit()
        if not static:
            self.emit(f"rip = {rip}")
        # the lazy fields still held as expressions are stored by the shared
        # write-back (nothing runs between the break and it, so the locals the
        # expressions read are as here); exits storing the same share the code
        targets, values = [], []
        for f in ("op", "res", "a", "b", "size", "fl"):
            kk = self.know[f]
            if kk[0] == "expr":
                if kk[1] != "cc_" + f:
                    targets.append("cc_" + f)
                    values.append(kk[1])
                self.know[f] = ("local",)
        group = 0
        if targets:
            group = self.cc_groups.setdefault(f"{', '.join(targets)} = {', '.join(values)}",
                                              len(self.cc_groups) + 1)
        self.emit(f"e = {idx}; break")
        self.exits.append(TbExit(kind, slot, target, insn))
        self.rk.append(retired)
        self.rips.append(int(rip) if static else -1)
        self.ccg.append(group)

    def stub(self, kind, k, rip: str, slot=None, target=None):
        if kind is INDIRECT:
            # an indirect jump (RET) to a return site of the region stays in it
            x = rip
            if not _atomic(rip):
                x = self.new_local("j")
                self.emit(f"{x} = {rip}")
            for d in sorted(self.returns):
                self.emit(f"if {x} == {d}:")
                self.ind += 1
                snap = self.snapshot()
                self.path.append((id(self), True, False))
                self.goto(k - 1, None, d)       # its section, or its code inlined here
                self.path.pop()
                self.restore(snap)
                self.ind -= 1
            self.indirect_section(x, self.P + k, k)
            rip = x
        self._exit(kind, self.P + k, rip, slot, target, self.insn_base + k)

    def covered(self) -> int:
        """A section is entered only while ``left`` covers its longest path."""
        return self.max_path[self.section]

    def charge(self, text: str) -> None:
        """As in a block; a path back through such an instruction is not
        counted by ``range`` (:meth:`_loop`: the next pass would take
        ``left`` from the range again, losing the charge) -- the paths that
        leave the counted loop (around an enclosing loop: a REP in the
        outer loop's body) keep it, as they charge and test the budget
        themselves."""
        if self.counted is not None:
            self.counted["charged"].append(tuple(self.path))
        self.emit(f"left -= {text}")

    def indirect_section(self, x: str, p: int, k: int) -> None:
        """An indirect jump (a call through a register, a jump table, a RET
        to a caller the region does not inline) to any section of the
        region continues there, as a direct jump to it would
        (:meth:`transition`), after one look-up of the address in ``MP``
        (section -> the budget it needs): the region is left only for code
        outside it.  Its section's live-in is known only at run time, so
        every lazy field is stored.  (A peeled loop's first pass jumps to
        its own section only with its loop's entry state: not from here.)"""
        self.uses_mp = True
        cond = f"{x} in MP"
        if self.mode == "once":
            cond = f"{x} != {self.section} and {cond}"
        self.emit(f"if {cond}:")
        self.ind += 1
        self.emit(f"left -= {p}")
        self.emit(f"if left < MP[{x}]:")
        self.ind += 1
        snap = self.snapshot()
        self._exit(INDIRECT, 0, x, None, None, self.insn_base + k)
        self.restore(snap)
        self.ind -= 1
        snap = self.snapshot()
        self._flush_cc()
        self.emit(f"pc = {x}; continue" if self.mode == "plain" else f"pc = {x}; break")
        self.restore(snap)
        self.ind -= 1

    def goto(self, k, slot, target, chained=False):
        p = self.P + k + 1
        if target not in self.blocks:
            self._exit(GOTO, p, str(target), None, target, self.insn_base + k)
        elif target in self.dispatch:
            self.transition(target, p, k)
        else:
            saved = (self.b, self.P, self.insn_base, self.runs, self.run_links)
            self.b = self.blocks[target]
            self.P = p
            self.insn_base = self.base_of[target]
            if not chained:     # (else the chain's runs, from where it started, go on)
                self.runs, self.run_links = self.chain_runs(target)
            self.gen_ops(self.b)
            self.b, self.P, self.insn_base, self.runs, self.run_links = saved

    def chain(self, ip) -> list:
        """The blocks run one after the other from block ``ip`` on: it, and
        on from the block its last op jumps to unconditionally where that
        one is inlined (not a section: x86's CALL and the callee's first
        block) -- the ops where the same code always follows."""
        out = [ip]
        while True:
            last = self.blocks[out[-1]].ops[-1]
            target = last.aux[1] if last.name == "goto_tb" else None
            if target not in self.blocks or target in self.dispatch or target in out:
                return out
            out.append(target)

    def chain_runs(self, ip) -> tuple:
        """The runs of stack accesses (:meth:`_load_runs`) along the chain
        from block ``ip`` (:meth:`chain`): those of its blocks as the code
        is generated from ``ip`` on -- a CALL's push and the callee's
        PUSHes one run, tested once -- and the register reads linked to
        them (``run_links``)."""
        found = self.chained_runs.get(ip)
        if found is None:
            links = {}
            runs = self._load_runs([self.blocks[b].ops for b in self.chain(ip)], links)
            found = self.chained_runs[ip] = (runs, links)
        return found

    def transition(self, d, p, k):
        """Continue in section ``d`` after ``p`` instructions of this path."""
        live = self.live_in[d]
        again = d == self.section
        repeel = False
        if again and self.spec is not None:
            if self.mode == "probe":
                self.probe_sites.append((p, dict(self.know)))
            if all(self.know[f][:3] == v[:3] for f, v in self.spec.items()):
                # the peeled loop starts with these fields as expressions: nothing to
                # store (fl's arithmetic flags included: the expression is all of fl)
                live = live - set(self.spec) - (ARITH_BITS if "fl" in self.spec else frozenset())
            else:
                # a path back that leaves other expressions (around an enclosing
                # loop): everything stored, and the loop peeled again
                repeel = self.mode != "probe"
        if again and self.counted is not None and self.mode != "once" \
                and not repeel and self._counted_back_edge(d, p, k, live):
            return
        if (repeel or not again) and self.counted is not None:
            # out to another section, which may come back: the count restarts
            # then, so only once a trip if the path left through the counted
            # jump not taken (:meth:`_loop`)
            self.counted["away"].append(tuple(self.path))
        # the budget exit first: it stores the exact state from the expressions,
        # and the path on stores only what section d reads (its live-in)
        self.emit(f"left -= {p}")
        self.emit(f"if left < {self.max_path[d]}:")
        self.ind += 1
        snap = self.snapshot()
        self._exit(GOTO, 0, str(d), None, d, self.insn_base + k)
        self.restore(snap)
        self.ind -= 1
        self._flush_cc(live, d)
        if repeel:
            self.repeeled = True
            self.emit(f"pc = {REPEEL}; break")
        elif again and self.counted is not None and self.mode != "once":
            self.emit(f"pc = {d}; break")        # the count starts again (_loop)
        elif again:
            self.emit("break" if self.mode == "once" else "continue")
        elif self.mode == "plain":
            self.emit(f"pc = {d}; continue")
        else:
            self.emit(f"pc = {d}; break")

    def _counted_back_edge(self, d, p, k, live) -> bool:
        """A jump back to the top of the loop :meth:`_loop` counts.  While
        surveying the loop (its first generation, into nothing), every path
        back is recorded: its instructions, whether its exact flag state is
        still known once it has stored the fields the loop reads
        (:meth:`_flush_exact`), the budget exit made from that state, and
        how a path leaves it (its last conditional jump, the other way).
        Then (``c["want"]``: the paths :meth:`_loop` chose) a chosen path
        stores those fields and continues -- no budget charge or test: the
        loop's ``range`` holds it; the first one's budget exit is kept for
        the loop's ``else:`` (nothing runs between the jump and it).  False:
        any other path (the caller makes it as any jump to a section, then
        restarts the count)."""
        c = self.counted
        here = tuple(self.path)
        if c["want"] is not None and here not in c["want"]:
            return False
        snap = self.snapshot()
        n = len(self.lines)
        exact = self._flush_exact(live, n, d)
        if exact is None:
            # (not to be counted: its exit could not be made exact; it may
            # still be a path around an enclosing loop)
            del self.lines[n:]
            self.restore(snap)
            c["edges"].append({"path": here, "p": p, "exit": None, "leave": None, "closes": False})
            return False
        # the budget exit from the exact state, generated apart: the loop's
        # else: once chosen, and what tells paths back apart while surveying
        lines, ind = self.lines, self.ind
        self.lines, self.ind = [], c["ind"] + 2
        stored = self.snapshot()
        self.restore(exact)
        self._exit(GOTO, 0, str(d), None, d, self.insn_base + k)
        self.restore(stored)
        exit_lines, self.lines, self.ind = self.lines, lines, ind
        if c["want"] is None:
            # surveying: remember the path back, and generate it unchanged
            group = self.ccg.pop()
            self.exits.pop(), self.rk.pop(), self.rips.pop()
            del self.lines[n:]
            self.restore(snap)
            stores = group and next(t for t, g in self.cc_groups.items() if g == group)
            same = (stores, tuple(_EXIT_INDEX.sub("e = #", ln) for ln in exit_lines))
            charged = any(here[:len(at)] == at for at in c["charged"])
            c["edges"].append({"path": here, "p": p, "exit": same, "leave": _leave(here),
                               "closes": self._closes_loop(here) and not charged})
            return False
        if c["exit"] is None:
            c["exit"] = exit_lines
        else:                   # the same exit as the first chosen path's: one is kept
            self.exits.pop(), self.rk.pop(), self.rips.pop(), self.ccg.pop()
        self.emit("continue")
        return True

    def _closes_loop(self, path) -> bool:
        """Does the jump ending ``path`` close a loop -- a conditional jump, or
        a direct jump that is not a call (a loop closed by a CALL or a RET
        is a recursion, entered and left every few passes)?"""
        if not path:
            return False
        if path[-1][2]:
            return True
        last = self.b.insns[-1] if self.b.insns else None
        return path[-1][0] != id(self) and getattr(last, "name", None) not in self.calls

    def _choose_counted(self, edges, away):
        """The paths back :meth:`_loop` counts, from its survey (``edges``:
        per path back, None or its record; ``away``: the paths out to other
        sections) -- or None.  The shortest paths back (p instructions,
        the range's step) whose budget exits are the same are counted when
        every other path back, and every path out, left one of them through
        its last conditional jump (:func:`_leave`): around an enclosing loop,
        which restarts the count once a trip.  (Paths back of two lengths
        that alternate -- the two arms of an if -- would restart it every few
        passes: not counted.)"""
        for p in sorted({e["p"] for e in edges if e["closes"]}):
            group = [e for e in edges if e["p"] == p and e["closes"]]
            if len({e["exit"] for e in group}) != 1:
                continue
            leaves = {e["leave"] for e in group} - {None}
            rest = [e["path"] for e in edges if e not in group] + away
            if all(any(x in path for x in leaves) for path in rest):
                return p, {e["path"] for e in group}
        return None

    def _flush_exact(self, live, n: int, to=None):
        """Store the lazy fields ``live`` holds (:meth:`_flush_cc`; the path's
        code so far ends at line ``n``) and return a snapshot whose lazy
        state is exact over the locals as they are then -- the one before,
        when nothing was stored; the one after, when fl was stored whole
        (not just outside the arithmetic flags) and no field left as an
        expression reads a local the store changed -- or None."""
        before = self.snapshot()
        know = before[0]
        self._flush_cc(live, to)
        if len(self.lines) == n:
            return before
        fl = know["fl"]
        if fl[0] == "expr" and "fl" in live and not (live & ARITH_BITS) and _fl_rest(fl)[0] != fl[1]:
            return None
        stored = {"cc_" + f for f, k in know.items()
                  if k[0] == "expr" and self.know[f][0] in ("local", "carried")}
        if any(k[0] == "expr" and stored & set(k[2]) for k in self.know.values()):
            return None
        return self.snapshot()

    def _loop(self, d, mode, spec, plain=False) -> bool:
        """Section ``d``, which jumps back to itself, as a loop: counted when
        it can be -- ``for left in range(left, M - 1, -p)``, M its budget
        (``max_path``) and p the instructions of its counted paths back
        (:meth:`_choose_counted`: the shortest paths back whose budget exits
        are the same, each closed by a conditional jump, a fall-through or a
        JMP), so the budget of every pass those ways is the loop's own step,
        no test of it in the body, and the ``else:`` is the budget exit
        those jumps would have made (the same instruction, the same state);
        another path back -- only one around an enclosing loop, leaving a
        counted path through its last conditional jump: anything else (the
        other arm of an if, a second call of a recursion, a jump out to
        another section before the counted jump, which comes back from
        there) would restart the count every few passes -- charges and
        tests the budget as any jump to a section does and starts the count
        again (the ``while True`` around it) -- else as ``while True``, or
        (``plain``: the region's only section) as the body of the region's
        own loop.  The loop is generated once to survey its paths back
        (:meth:`_counted_back_edge`), then for good.  True: counted."""
        top = self.ind
        at, n, groups, nlocal = len(self.lines), len(self.exits), dict(self.cc_groups), self.nlocal
        # the locals an attempt names go with its lines: a local :meth:`atomic`
        # kept for an expression, or :meth:`hoist` for the prologue, must not
        # be handed out again for another one
        names = self._local_names()
        chosen = None
        for survey in (True, False):
            c = self.counted = {"want": None, "exit": None, "ind": top, "edges": [], "away": [],
                                "charged": []}
            if not survey:
                c["want"] = chosen[1]
            plan = None if survey else self._range_plan(d, chosen)
            self.emit("while True:")
            if plan is not None:
                self.emit(f"    {plan[0]} = {plan[1]}")
            hdr = len(self.lines)
            self.emit("")           # the loop's header, once its step is known
            self.ind += 2
            if plan is not None:
                # the passes the range test covers make those accesses with no test
                self.emit(f"if {plan[0]}:")
                self.ind += 1
                self.ranged = plan[2]
                self._body(d, mode, spec)
                self.ranged = frozenset()
                self.ind -= 1
                self.emit("else:")
                self.ind += 1
            self._body(d, mode, spec)
            self.ind = top
            self.counted = None
            if survey:
                chosen = self._choose_counted(c["edges"], c["away"])
                del self.lines[at:], self.exits[n:], self.rk[n:], self.rips[n:], self.ccg[n:]
                self.cc_groups, self.nlocal = dict(groups), nlocal
                self._give_back_names(names)
                if chosen is None:
                    break
            elif c["exit"] is not None:
                stop = self.max_path[d] - 1
                if plan is not None:
                    stop = f"max({stop}, left - {RANGE_PASSES * chosen[0]})"
                head = f"for left in range(left, {stop}, -{chosen[0]}):"
                self.lines[hdr] = "    " * (top + 1) + head
                self.ind = top + 1
                self.emit("else:")
                self.emit(f"    left -= {chosen[0]}")
                if plan is not None:
                    # the passes the test covered are done, not the budget: test again
                    self.emit(f"    if left >= {self.max_path[d]}: continue")
                    self.range_tested += 1
                self.lines.extend(c["exit"])
                self.emit(f"if e >= 0 or pc != {d}: break")
                self.ind = top
                # one range test per loop: a loop _range_plan vouched for is not versioned again
                fast = (None if plan is not None
                        else version_loop(self.lines[at:], top, self.max_path[d], chosen[0], d))
                if fast is not None:
                    self.lines[at:] = fast
                return True
        del self.lines[at:], self.exits[n:], self.rk[n:], self.rips[n:], self.ccg[n:]
        self.cc_groups, self.nlocal = groups, nlocal
        self._give_back_names(names)
        if plain:
            self._body(d, "plain", spec)
            return False
        self.emit("while True:")
        self.ind += 1
        self._body(d, mode, spec)
        self.ind = top
        return False

    def _range_plan(self, d, chosen):
        """The range test of the counted loop at section ``d`` (``chosen``:
        its step and its paths back, :meth:`_choose_counted`), or None: the
        accesses of its pass -- section ``d``'s own block up to its jump
        back, the one path back -- through a flat space of the target
        (``MemoryAccess.flat_base``) whose addresses step by the same amount
        every pass.  A register the pass writes once as itself plus a
        constant or a register it does not write (a post-indexed base, a
        pointer or an index the loop adds a stride to) is an induction
        register; an address that is a constant plus induction and
        unwritten registers (and constants) is then ``a0 + i * s`` in pass
        i.  Returns (the test's local, its text, the accesses' op ids): at
        the top of the loop, before the next :data:`RANGE_PASSES` passes,
        it tests that the first and the last address of each lie in RAM
        (so do all between), a word's aligned, a store's bytes hold no
        translated code (``CBF``; RAM's code maps gain code only between
        runs of translated code), and an induction register masked to its
        width does not wrap on the way; then those passes make these
        accesses as plain RAM (:meth:`load_store`), else each its checked
        way (MMIO, unmapped memory, alignment and self-modifying code take
        the exact path)."""
        p, paths = chosen
        ops = self.blocks[d].ops
        index = {id(op): i for i, op in enumerate(ops)}
        if len(paths) != 1:
            return None
        path = next(iter(paths))
        if not path or any(x[0] not in index for x in path):
            return None
        end = index[path[-1][0]]
        runs = self.chain_runs(d)[0]
        first_set, sets = {}, {}
        for i, op in enumerate(ops[:end]):
            if op.name == "call_bail":
                return None
            if op.name == "setr":
                r = op.aux[0]
                sets[r] = None if r in sets else op
                first_set.setdefault(r, i)

        def lin(v, depth=8):
            """v as (constant, {register: coefficient}) over the pass's entry values, or None."""
            if type(v) is int:
                return v, {}
            if not isinstance(v, Temp) or v.op is None or depth == 0:
                return None
            op = v.op
            if op.name == "getr":
                r = op.aux[0]
                i = index.get(id(op))
                if i is None or first_set.get(r, i + 1) < i or self.getr_expr(r, op.aux[1])[0] != f"r{r}":
                    return None
                return 0, {r: 1}
            if op.name not in ("add", "sub"):
                return None
            a, b = lin(op.args[0], depth - 1), lin(op.args[1], depth - 1)
            if a is None or b is None:
                return None
            sign = 1 if op.name == "add" else -1
            coef = dict(a[1])
            for r, k in b[1].items():
                coef[r] = coef.get(r, 0) + sign * k
            return a[0] + sign * b[0], {r: k for r, k in coef.items() if k}

        steps = {}          # induction register -> (its step (constant, {unwritten register: k}), wrap mask)
        for r, op in sets.items():
            if op is None:
                continue
            v, mask = op.args[0], None
            if isinstance(v, Temp) and v.op is not None and v.op.name == "and" \
                    and type(v.op.args[1]) is int and v.op.args[1] > 0 and not v.op.args[1] & (v.op.args[1] + 1):
                v, mask = v.op.args[0], v.op.args[1]
            f = lin(v)
            if f is None or f[1].get(r) != 1:
                continue
            rest = {q: k for q, k in f[1].items() if q != r}
            if any(q in sets for q in rest):
                continue
            steps[r] = ((f[0], rest), mask)

        def text(c, coef):
            """The text of constant ``c`` plus the registers of ``coef`` times their coefficients."""
            parts = []
            for r, k in sorted(coef.items()):
                term = f"r{r}" if abs(k) == 1 else f"{abs(k)} * r{r}"
                parts.append((term if k > 0 else f"-{term}") if not parts
                             else f"{'+' if k > 0 else '-'} {term}")
            if not parts:
                return str(c)
            if c:
                parts.append(f"{'+' if c > 0 else '-'} {abs(c)}")
            return " ".join(parts)

        n = RANGE_PASSES - 1
        tests, ranged, wraps, done = [], set(), set(), {}
        for op in ops[:end]:
            if op.name not in ("ld", "st") or id(op) in runs:
                continue
            space, size = op.aux
            base = self.mem.flat_base(space)
            f = lin(op.args[0])
            if base is None or f is None or size not in (1, 2, 4, 8) or size > 1 << GRANULE_SHIFT:
                continue
            if any(r in sets and r not in steps for r in f[1]):
                continue
            sc, scoef = 0, {}       # the address's step: sum of coefficient * the register's step
            for r, k in f[1].items():
                if r in steps:
                    (c0, rest), _ = steps[r]
                    sc += k * c0
                    for q, kq in rest.items():
                        scoef[q] = scoef.get(q, 0) + k * kq
            scoef = {q: k for q, k in scoef.items() if k}
            if size > 1 and not scoef and sc % size:
                continue
            step = text(sc, scoef)
            key = (text(*f), step, size, base)
            if key in done:         # (LDRB and STRB of one address: tested once, a store's way)
                x, y = done[key]
                t = []
            else:
                x, y = done[key] = self.new_local("x"), self.new_local("x")
                lo, hi = base, base + self.ram_size - size
                t = [f"{lo} <= ({x} := {key[0]}) <= {hi}", f"{lo} <= ({y} := {x} + {n} * ({step})) <= {hi}"]
            if size > 1 and t:
                t.append(f"not ({x} | {_paren(step)}) & {size - 1}" if scoef else f"not {x} & {size - 1}")
            if op.name == "st" and (key, "st") not in done:
                done[(key, "st")] = True
                if not scoef and sc >= 0:
                    a, b = x, y
                elif not scoef:
                    a, b = y, x
                else:
                    a, b = f"min({x}, {y})", f"max({x}, {y})"
                t.append(f"CBF(b'\\1', {a} - {base}, {b} - {base} + {size}) < 0")
            tests += t
            ranged.add(id(op))
            wraps |= {r for r in f[1] if r in steps and steps[r][1] is not None}
        if not ranged:
            return None
        for r in sorted(wraps):
            (c0, rest), mask = steps[r]
            tests.append(f"0 <= r{r} + {n} * ({text(c0, rest)}) <= {mask}")
        return self.new_local("f"), " and ".join(tests), frozenset(ranged)

    def _body(self, d, mode, spec):
        """The code of section ``d``: its block, with the tree of inlined blocks."""
        self.mode, self.spec = mode, spec
        self.b = self.blocks[d]
        self.P = 0
        self.insn_base = self.base_of[d]
        entry = spec if mode in ("spec", "probe") else None
        self.runs, self.run_links = self.chain_runs(d)
        self.know = {f: (entry or {}).get(f, ("carried",) if f == self.carried else ("local",))
                     for f in CC_FIELDS}
        self.deferred, self.names, self.cc_val = {}, {}, {}
        self.checked = {}
        self.sunk = {}
        self.gen_ops(self.b)

    def _probe(self, d, spec):
        """Generate section ``d`` looping on itself with ``spec`` as its entry
        state, into nothing: the lazy-state knowledge at each jump back to it."""
        lines, ind, n, groups = self.lines, self.ind, len(self.exits), dict(self.cc_groups)
        self.lines, self.probe_sites = [], []
        self._body(d, "probe", spec)
        self.lines, self.ind, self.cc_groups = lines, ind, groups
        del self.exits[n:], self.rk[n:], self.rips[n:], self.ccg[n:]
        return self.probe_sites

    def _tree_ops(self, ip, top=True):
        if not top and ip in self.dispatch:
            return 0
        return len(self.blocks[ip].ops) + sum(self._tree_ops(t, False) for t in self.succ[ip])

    def peel_state(self, d) -> dict:
        """Loop peeling for a section that jumps back to itself: when every such
        jump leaves some lazy fields as the same expressions over guest
        registers (a CMP at the bottom of the loop), the section is generated
        twice -- once from the stored state, then as a loop that starts with
        those expressions -- so the loop never stores them.  A field's
        expression over its own local (x86: INC/DEC keeping a CF that is
        already known, ``cc_fl & -2``) qualifies too when the loop, entered
        with it, ends every pass with it again.  Returns the fields and their
        expressions ({}: not worth it or not possible)."""
        # only a loop that can leave before its first flag record (a load or a
        # store that may bail) reads the record of the previous iteration; a
        # CF fold reads fl's
        ops = self.blocks[d].ops
        reads_first = False
        for op in ops:
            if op.name in ("setcc", "setccop", "setfl", "foldcf"):
                break
            if op.name in ("ld", "st", "call_bail") and not op.safe:
                reads_first = True
                break
        folds = any(op.name == "foldcf" for op in ops)
        if not (reads_first or folds) or self._tree_ops(d) > PEEL_MAX_OPS:
            return {}
        sites = self._probe(d, {})
        # the shortest paths back are the inner loop's: their expressions (a
        # path back that leaves others stores them, and peels again)
        inner = min((p for p, _ in sites), default=None)
        sites = [x for p, x in sites if p == inner]
        spec, own = {}, {}
        for f in CC_FIELDS:
            v = sites[0][f] if sites else None
            if v is None or v[0] != "expr" or not all(x[f][:3] == v[:3] for x in sites):
                continue
            names = _NAMES.findall(v[1])
            # an expression over registers alone was built on the path from the
            # registers, never from the entry state: the same in the loop
            if reads_first and all(_REG_LOCAL.match(r) for r in names):
                spec[f] = v
            elif all(_REG_LOCAL.match(r) or r == "cc_" + f for r in names):
                own[f] = v
        while own:
            # built on the field's own value: check the loop keeps it
            again = [x for p, x in self._probe(d, dict(spec, **own)) if p == inner]
            keep = {f: v for f, v in own.items() if again and all(x[f][:3] == v[:3] for x in again)}
            if keep == own:
                spec.update(own)
                break
            own = keep
        return spec

    # -- main ---------------------------------------------------------------------------------
    def generate(self) -> str:
        blocks = self.blocks
        order = list(blocks)
        # temporaries are numbered per block: give them region-wide numbers, as
        # a path through the region holds several blocks' locals at once
        tid = 0
        for ip in order:
            for op in blocks[ip].ops:
                if op.out is not None:
                    op.out.id = tid
                    tid += 1
        self.base_of, n = {}, 0
        self.main_uses, self.cold_uses, self.first_use = {}, {}, {}
        sizes, regs_written, segs, cc_written, needed = {}, set(), set(), set(), set()
        for ip in order:
            blk = blocks[ip]
            self.b = blk
            saved = (self.main_uses, self.cold_uses, self.first_use)
            self.analyse()
            for mine, acc in zip((self.main_uses, self.cold_uses, self.first_use), saved):
                acc.update(mine)
            self.main_uses, self.cold_uses, self.first_use = saved
            needed |= self.needed
            for r, ss in self.sizes.items():
                sizes.setdefault(r, set()).update(ss)
            regs_written |= self.regs_written
            segs |= self.segs
            cc_written |= self.cc_written
            self.base_of[ip] = n
            n += len(blk.insns)
        self.needed = needed
        self.narrow = {r for r, ss in sizes.items() if max(ss) <= 2}
        self.regs = sorted(sizes)
        self.early = {}         # (full-width writes: by the region's narrow registers)
        self.runs = {}
        self.chained_runs = {}  # block ip -> the runs along its chain (chain_runs)
        self.rmw = set()
        self.sink = set()
        for ip in order:
            self.early.update(self._early_writes(blocks[ip].ops))
            self.rmw |= rmw_loads(blocks[ip].ops)
            self.sink |= self._sinkable(blocks[ip].ops)
        ops = [op for blk in blocks.values() for op in blk.ops]
        if self.wide_guard:
            self.narrow32 = _narrow32(ops) - self.narrow
        params = ["left", f"pc={self.head}", "R=R", "S=S"] + self.mem.params(segs)
        params += _access_params(ops)
        params += _call_params(ops, params)
        params += ["RK=RK", "RIP=RIP", "CCG=CCG"]
        self.uses_mp = False
        for r in self.regs:
            self.emit(f"r{r} = R[{r}] & 65535" if r in self.narrow else f"r{r} = R[{r}]")
        self.fast_segs = {sg: m for sg, m in self.fast_segs.items() if sg in segs}
        self.spaces_written = {op.aux[0] for op in ops if op.name == "st"}
        self.spaces_rebound = self.mem.spaces_changed(ops)
        self.mem.prologue(self, segs)
        # the guard: the segments are still what the fast accesses assume, the
        # 32-bit registers hold no more than 32 bits, and the flag bits read as
        # constants (optimize.constant_fl_bits) are as they were then
        fails = self.mem.guard(self, self.fast_segs) if self.fast_segs else []
        if self.fl_bits[0]:
            fails.append(f"S.{self.cc_names['fl']} & {self.fl_bits[0]} != {self.fl_bits[1]}")
        if self.narrow32:
            fails.append(f"({' | '.join(f'r{r}' for r in sorted(self.narrow32))}) > {_MASK[4]}")
        if fails:
            self.emit(f"if {' or '.join(fails)}:")
            self.emit(f"    return {len(self.exits)}")
            self.exits.append(TbExit(GUARD, None, None, self.base_of[self.head]))
            self.rk.append(0)
            self.rips.append(self.head)
            self.ccg.append(0)
        # values that hold for a whole run of a region that loops: computed
        # here, after the guard vouched for the segments they read
        hoist_at = len(self.lines)
        self.hoisted = {} if self.loops else None
        fields = self.flags.fields
        self.emit(f"{', '.join('cc_' + f for f in fields)} = "
                  f"{', '.join('S.' + self.cc_names[f] for f in fields)}")
        self.emit("left0 = left; e = -1; rip = 0")
        self.emit("while True:")
        self.ind += 1
        # sections that loop on themselves first: they are the inner loops
        # (then the dispatch points, then the sections only the dispatcher enters)
        secs = sorted(self.sections, key=lambda d: (not self.self_loop[d], d != self.head,
                                                     d not in self.dispatch, d))
        single = len(secs) == 1
        self.written_so_far = regs_written
        for i, d in enumerate(secs):
            self.section = d
            last = i == len(secs) - 1
            spec = self.peel_state(d) if self.self_loop[d] else {}
            top = self.ind
            if not last:
                self.emit(f"if pc == {d}:")
                self.ind += 1
            if spec:
                self.repeeled = False
                self.emit("while True:")
                self.ind += 1
                self._body(d, "once", spec)
                self.ind -= 1
                self.emit("if e >= 0: break")
                self.emit(f"if pc == {d}:")
                self.ind += 1
                self._loop(d, "spec", spec)
                self.emit("if e >= 0: break")
                self.ind -= 1
                if self.repeeled:
                    self.emit(f"if pc == {REPEEL}: pc = {d}")
                if not last:
                    self.emit("continue")
            elif self.self_loop[d]:
                if self._loop(d, "loop", None, plain=single) or not single:
                    self.emit("if e >= 0: break")
                if not last:
                    self.emit("continue")
            else:
                self._body(d, "plain", None)
            self.ind = top
        self.ind = 1
        if self.hoisted:
            self.lines[hoist_at:hoist_at] = [f"    {loc} = {text}" for text, loc in self.hoisted.items()]
        if self.cc_groups:
            self.emit("g = CCG[e]")
            for i, (text, g) in enumerate(self.cc_groups.items()):
                self.emit(f"{'if' if i == 0 else 'elif'} g == {g}: {text}")
        if self.carried in cc_written:
            self.emit(_CARRIED)
        for r in sorted(regs_written):
            self.emit(f"R[{r}] = R[{r}] & -65536 | r{r}" if r in self.narrow else f"R[{r}] = r{r}")
        for f in fields:
            if f in cc_written:
                self.emit(f"S.{self.cc_names[f]} = cc_{f}")
        self.emit(f"S.{self.pc} = rip if RIP[e] < 0 else RIP[e]")
        self.emit(f"return ((left0 - left + RK[e]) << {EXIT_SHIFT}) | e")
        self._expand_carried()
        if self.uses_mp:
            params.append("MP=MP")
        header = f"def {self.name}({', '.join(params + self.extra_params)}):"
        return header + "\n" + self._source() + "\n"


def generate_region(blocks, head: int, dispatch, live_in, amask: int, ram_size: int,
                    name: str = "region", fast_segs=None, mem=None, returns=(), wide_guard=True,
                    fl_bits=(0, 0), entries=(), calls=frozenset(), checked=None):
    """Python source of a region function over ``blocks`` (ip -> optimised
    IRBlock), its exits, and the names its code needs bound: ``RK`` and
    ``RIP`` (per exit: instructions retired since the last charge to
    ``left``, and the next IP when it is static) and ``max_path`` (per
    dispatch point: the most instructions one pass through its section can
    retire, the budget it needs to be entered), and ``RT``: how many of
    its loops got a range test (:meth:`RegionCodegen._range_plan`).
    ``wide_guard``: keep the
    registers the region reads and writes at most 32 bits wide as their low
    32 bits (:func:`_narrow32`), the entry guard checking they are no wider;
    ``fl_bits``: (mask, value) of fl's bits the code took as constants
    (:func:`emu.ir.optimize.constant_fl_bits`), the guard checking them;
    ``calls``: the names of the instructions that are calls (a loop they
    close is a recursion: not counted); ``checked``: IP -> how much less
    speculation the accesses of the instruction there make (1: a run of
    them unaligned, 2: none; :meth:`PyCodegen._load_runs`)."""
    g = RegionCodegen(blocks, head, dispatch, live_in, amask, ram_size, name, fast_segs, mem, returns,
                      wide_guard, fl_bits, entries, calls, checked)
    src = g.generate()
    return src, g.exits, {"RK": tuple(g.rk), "RIP": tuple(g.rips), "CCG": tuple(g.ccg),
                          "MP": dict(g.max_path), "RT": g.range_tested}, g.max_path


def generate(block: IRBlock, amask: int, ram_size: int, loop: bool, name: str = "tb",
             mem=None, checked=None):
    """Python source of the block function, and its exits (``checked`` as
    :func:`generate_region` has it)."""
    g = PyCodegen(block, amask, ram_size, loop, name, mem, checked)
    src = g.generate()
    return src, g.exits
