"""IR containers: temporaries, operations, a block, and the text dump.

A ``Temp`` is what semantics see in place of an int while they are being
translated: Python's arithmetic, bitwise and comparison operators on it
*emit* IR (through the builder that made it) and return a new ``Temp`` -- or
a plain int when the operation folds to a constant.  A Temp has no truth
value: ``if temp:`` in a semantic function is a translation-time branch on a
run-time value, and raises :class:`RuntimeBranch` with a clear message (the
translator then runs that instruction as a helper).
"""

from __future__ import annotations

from .opcodes import OPCODES


class NotInlinable(Exception):
    """This instruction cannot be translated inline; call it as a helper."""


class RuntimeBranch(NotInlinable, TypeError):
    """A semantic function branched in Python on a run-time (IR) value."""


class Temp:
    """An SSA temporary.  ``bits``: an upper bound on the bit length of its
    (non-negative) value, or None when unknown / possibly negative."""

    __slots__ = ("b", "id", "bits", "op")
    __hash__ = None      # a Temp is not a dictionary key: MASK[temp] is an error

    def __init__(self, builder, tid: int, bits):
        self.b = builder
        self.id = tid
        self.bits = bits
        self.op = None       # the defining Op

    def __repr__(self):
        return f"t{self.id}"

    def __bool__(self):
        raise RuntimeBranch(f"translation-time branch on the run-time value {self!r}: "
                            "use ops.select/ops.branch, or register the semantics with helper=True")

    def __index__(self):
        raise RuntimeBranch(f"run-time value {self!r} used as a translation-time integer")

    __int__ = __index__

    # arithmetic --------------------------------------------------------------
    def __add__(self, o): return self.b.op2("add", self, o)
    def __radd__(self, o): return self.b.op2("add", o, self)
    def __sub__(self, o): return self.b.op2("sub", self, o)
    def __rsub__(self, o): return self.b.op2("sub", o, self)
    def __mul__(self, o): return self.b.op2("mul", self, o)
    def __rmul__(self, o): return self.b.op2("mul", o, self)
    def __floordiv__(self, o): return self.b.op2("div", self, o)
    def __rfloordiv__(self, o): return self.b.op2("div", o, self)
    def __mod__(self, o): return self.b.op2("mod", self, o)
    def __rmod__(self, o): return self.b.op2("mod", o, self)
    def __and__(self, o): return self.b.op2("and", self, o)
    def __rand__(self, o): return self.b.op2("and", o, self)
    def __or__(self, o): return self.b.op2("or", self, o)
    def __ror__(self, o): return self.b.op2("or", o, self)
    def __xor__(self, o): return self.b.op2("xor", self, o)
    def __rxor__(self, o): return self.b.op2("xor", o, self)
    def __lshift__(self, o): return self.b.op2("shl", self, o)
    def __rlshift__(self, o): return self.b.op2("shl", o, self)
    def __rshift__(self, o): return self.b.op2("shr", self, o)
    def __rrshift__(self, o): return self.b.op2("shr", o, self)
    def __invert__(self): return self.b.op1("not", self)
    def __neg__(self): return self.b.op1("neg", self)
    def __pos__(self): return self

    def bit_length(self):
        """As ``int.bit_length`` (of a non-negative value): BSF and BSR's bit index."""
        return self.b.op1("bitlen", self)

    # comparisons produce IR booleans ------------------------------------------
    def __eq__(self, o): return self.b.op2("eq", self, o)
    def __ne__(self, o): return self.b.op2("ne", self, o)
    def __lt__(self, o): return self.b.op2("lt", self, o)
    def __le__(self, o): return self.b.op2("le", self, o)
    def __gt__(self, o): return self.b.op2("gt", self, o)
    def __ge__(self, o): return self.b.op2("ge", self, o)


class Op:
    """One IR operation: ``name out, args..., aux...``."""

    __slots__ = ("name", "out", "args", "aux", "live", "safe", "keeps", "shared")

    def __init__(self, name, out, args, aux=()):
        self.name = name
        self.out = out
        self.args = list(args)
        self.aux = tuple(aux)
        self.live = None     # optimiser annotation: cc fields live after this op
        self.safe = False    # a load known not to bail (checked once, at the code's entry)
        # an access whose value stands for later loads of the same bytes
        # (emu.ir.optimize.reuse_loads): RAM or a bail, never a device
        self.shared = False
        # setfl: a value equal to the one written in every bit but the
        # arithmetic flags (its source), or None; see emu.ir.optimize
        self.keeps = None

    @property
    def d(self):
        return OPCODES[self.name]

    def __repr__(self):
        return format_op(self)


def fmt_val(v) -> str:
    if isinstance(v, Temp):
        return repr(v)
    if isinstance(v, bool):
        return f"${int(v)}"
    return f"${v:#x}" if isinstance(v, int) and (v > 9 or v < -9) else f"${v}"


def format_op(op: Op, target=None) -> str:
    """One op as text; ``target`` (an :class:`emu.ir.frontend.IRTarget`)
    names registers and address spaces, else they are numbered."""
    n = op.name
    reg = target.reg_name if target is not None else (lambda r: f"r{r}")
    space = target.space_name if target is not None else (lambda s: f"s{s}")
    a = ", ".join(fmt_val(x) for x in op.args)
    out = f"{op.out!r} = " if op.out is not None else ""
    if n == "insn_start":
        return f" ---- insn {op.aux[0]} ip 0x{op.aux[1]:x}"
    if n == "getr":
        return f" {out}getr {reg(op.aux[0])}, {op.aux[1]}"
    if n == "setr":
        return f" setr {reg(op.aux[0])}, {op.aux[1]}, {a}"
    if n in ("ld", "st"):
        return f" {out}{n}{op.aux[1]} {space(op.aux[0])}:[{a}]"
    if n == "getseg":
        return f" {out}getseg {space(op.aux[0])}"
    if n == "getcc":
        return f" {out}getcc {op.aux[0]}"
    if n in ("brcond", "goto_tb"):
        pre = f" brcond {a} ->" if n == "brcond" else " goto_tb"
        return f"{pre} slot {op.aux[0]} ip 0x{op.aux[1]:x}"
    if n == "call" or n == "call_bail":
        return f" {out}{n} {op.aux[0]}({a})"
    if n == "call_helper":
        return f" call_helper insn {op.aux[0]} ({op.aux[1]})"
    bits = f"  ; u{op.out.bits}" if op.out is not None and op.out.bits is not None else ""
    return f" {out}{n} {a}{bits}"


class IRBlock:
    """The IR of one translation block; ``target`` (the
    :class:`emu.ir.frontend.IRTarget` of the front end that fills it in)
    says what its registers, flag record and memory accesses are."""

    def __init__(self, pc: int, ip: int, target=None):
        self.pc = pc
        self.ip = ip
        self.target = target
        self.ops: list[Op] = []
        self.insns = []
        self.loop = False        # a direct exit targets this block's own start

    def copy(self) -> "IRBlock":
        """A copy whose ops and temporaries are its own (the passes that
        follow a build -- a region's, code generation's numbering -- change
        them in place), sharing the decoded instructions."""
        new = IRBlock(self.pc, self.ip, self.target)
        new.__dict__.update((k, v) for k, v in self.__dict__.items() if k not in ("ops", "insns"))
        new.insns = list(self.insns)
        temps = {}

        def mapped(v):
            return temps.get(id(v), v) if isinstance(v, Temp) else v

        for op in self.ops:
            out = op.out
            if out is not None:
                out = Temp(out.b, out.id, out.bits)
                temps[id(op.out)] = out
            c = Op(op.name, out, [mapped(a) for a in op.args], op.aux)
            if out is not None:
                out.op = c
            c.live, c.safe, c.shared, c.keeps = op.live, op.safe, op.shared, mapped(op.keeps)
            new.ops.append(c)
        return new

    def dump(self) -> str:
        return "\n".join(format_op(o, self.target) for o in self.ops) + "\n"
