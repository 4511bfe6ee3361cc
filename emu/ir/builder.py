"""The generic IR builder: emitting IR, folded as it is emitted, and the translator loop.

:class:`IRBuilder` emits ops into an :class:`~emu.ir.ir.IRBlock`; trivial
cases fold while ops are emitted, as in QEMU's ``tcg_gen_*`` helpers:
constants fold, ``x + 0``, ``x & mask`` of a value already that narrow,
``select`` on a constant...  :class:`TranslatorOps` is QEMU's
``TranslatorOps`` loop over it: ``__init__`` (``init_disas_context``),
:meth:`~TranslatorOps.insn_start`, :meth:`~TranslatorOps.translate_insn` (run the
instruction's semantics on the builder; what cannot be inlined becomes a
``call_helper`` that ends the block) and :meth:`~TranslatorOps.end_block`
(``tb_stop``).

A target's front end (e.g. :mod:`emu.isa.x86.ir_front`) subclasses
:class:`TranslatorOps`: it provides the semantics' ``Ops`` interface over IR --
registers, the lazy flag record, memory, control transfers -- and the
instruction-boundary hooks (:meth:`~TranslatorOps.checkpoint`,
:meth:`~TranslatorOps.rollback`, :meth:`~TranslatorOps.commit`).  Nothing here
knows an architecture: pure helper calls are the target's
(``IRTarget.pure_calls``, :mod:`emu.ir.frontend`).
"""

from __future__ import annotations

from .ir import IRBlock, NotInlinable, Op, Temp
from .opcodes import COMPARISONS

_PYOP = {"add": int.__add__, "sub": int.__sub__, "mul": int.__mul__, "and": int.__and__,
         "or": int.__or__, "xor": int.__xor__, "shl": int.__lshift__, "shr": int.__rshift__,
         "eq": int.__eq__, "ne": int.__ne__, "lt": int.__lt__, "le": int.__le__,
         "gt": int.__gt__, "ge": int.__ge__,
         "div": lambda a, b: a // (b or 1), "mod": lambda a, b: a % (b or 1)}

_PYOP1 = {"not": int.__invert__, "neg": int.__neg__, "bitlen": int.bit_length}


def bits_of(v):
    if isinstance(v, Temp):
        return v.bits
    return v.bit_length() if v >= 0 else None


def is_mask(c) -> int | None:
    """k if c == 2**k - 1."""
    if isinstance(c, int) and c >= 0 and (c & (c + 1)) == 0:
        return c.bit_length()
    return None


def fold(name, a, b):
    """Fold ``a <name> b`` when it simplifies; return the value or None."""
    ca, cb = not isinstance(a, Temp), not isinstance(b, Temp)
    if ca and cb:
        return _PYOP[name](a, b)
    if name == "add":
        if cb and b == 0:
            return a
        if ca and a == 0:
            return b
    elif name == "sub":
        if cb and b == 0:
            return a
        if a is b:
            return 0
    elif name == "mul":
        if cb and b == 1:
            return a
        if ca and a == 1:
            return b
        if (cb and b == 0) or (ca and a == 0):
            return 0
    elif name == "and":
        if (cb and b == 0) or (ca and a == 0):
            return 0
        if a is b:
            return a
        if cb:
            k = is_mask(b)
            if k is not None and a.bits is not None and a.bits <= k:
                return a
        if ca:
            k = is_mask(a)
            if k is not None and b.bits is not None and b.bits <= k:
                return b
    elif name in ("or", "xor"):
        if cb and b == 0:
            return a
        if ca and a == 0:
            return b
        if a is b:
            return a if name == "or" else 0
    elif name in ("shl", "shr"):
        if cb and b == 0:
            return a
        if ca and a == 0:
            return 0
        if name == "shr" and cb and a.bits is not None and a.bits <= b:
            return 0
    elif name in ("div", "mod"):
        # a value narrower than a constant divisor: a // b is 0, a % b is a
        # (a rotate's count modulo its width, the count already masked)
        if cb and b > 0 and a.bits is not None and (1 << a.bits) <= b:
            return 0 if name == "div" else a
    elif name in ("eq", "le", "ge") and a is b:
        return True
    elif name in ("ne", "lt", "gt") and a is b:
        return False
    return None


def clear_under(v, m: int) -> bool:
    """v & m == 0 whatever v's run-time value (a constant, a left shift by at
    least m's width, or a mask with no bit of m)."""
    if not isinstance(v, Temp):
        return v & m == 0
    op = v.op
    if op is None or not isinstance(op.args[1] if len(op.args) > 1 else None, int):
        return False
    if op.name == "shl":
        return m < (1 << op.args[1])
    return op.name == "and" and op.args[1] & m == 0


def result_bits(name, a, b):
    ba, bb = bits_of(a), bits_of(b)
    if name in COMPARISONS:
        return 1
    if name == "add":
        return None if ba is None or bb is None else max(ba, bb) + 1
    if name == "mul":
        return None if ba is None or bb is None else ba + bb
    if name == "and":
        known = [x for x in (ba, bb) if x is not None]
        return min(known) if known else None
    if name in ("or", "xor"):
        return None if ba is None or bb is None else max(ba, bb)
    if name == "shl":
        return None if ba is None or not isinstance(b, int) else ba + b
    if name == "shr":
        return None if ba is None else (max(ba - b, 0) if isinstance(b, int) else ba)
    return None


class IRBuilder:
    """Emits IR into a block, folding as it goes.  ``target`` (an
    :class:`emu.ir.frontend.IRTarget`) becomes the block's; without it the
    block's own is used."""

    def __init__(self, block: IRBlock, target=None):
        if target is not None:
            block.target = target
        self.block = block
        self.target = block.target
        self.ntemps = 0

    def temp(self, bits=None) -> Temp:
        t = Temp(self, self.ntemps, bits)
        self.ntemps += 1
        return t

    def emit(self, name, args=(), aux=(), bits=None, out=True):
        op = Op(name, None, args, aux)
        if out:
            op.out = self.temp(bits)
            op.out.op = op
        self.block.ops.append(op)
        return op.out

    def op2(self, name, a, b):
        if isinstance(a, bool):
            a = int(a)
        if isinstance(b, bool):
            b = int(b)
        if not isinstance(a, (int, Temp)) or not isinstance(b, (int, Temp)):
            return NotImplemented
        v = fold(name, a, b)
        if v is not None:
            return v
        # (x & c1) & c2  ->  x & (c1 & c2)
        if name == "and" and isinstance(b, int) and isinstance(a, Temp) and a.op is not None \
                and a.op.name == "and" and isinstance(a.op.args[1], int) and b >= 0:
            return self.op2("and", a.op.args[0], a.op.args[1] & b)
        # (x | y) & c  ->  x & c  when y has no bit under c (a flag taken out of a
        # packed word: (cf | of << 1 | AF) & 1)
        if name == "and" and isinstance(b, int) and b >= 0 and isinstance(a, Temp) \
                and a.op is not None and a.op.name == "or":
            x, y = a.op.args
            if clear_under(y, b):
                return self.op2("and", x, b)
            if clear_under(x, b):
                return self.op2("and", y, b)
        if name == "shr" and isinstance(b, int) and b > 0 and isinstance(a, Temp) \
                and a.op is not None:
            v = self._shr_through(a.op, b)
            if v is not None:
                return v
        if name in ("add", "mul", "and", "or", "xor") and isinstance(a, int):
            a, b = b, a          # constants second, as TCG canonicalises
        return self.emit(name, (a, b), bits=result_bits(name, a, b))

    def _shr_through(self, op, k: int):
        """``op``'s result >> k, folded through the op when that simplifies
        (a bit taken out of a rotate's wide word: ``((x >> 1 | x << 16) &
        0x1ffff) >> 16`` is ``x & 1``), or None."""
        x, c = op.args if len(op.args) == 2 else (None, None)
        if op.name == "and" and isinstance(c, int) and c >= 0:
            # (x & m) >> k  ->  (x >> k) & (m >> k), when x >> k folds in turn;
            # else the masked value stays whole (it is often what a register
            # receives, and a flag over it reads the register's local)
            inner = x.op if isinstance(x, Temp) else None
            folded = None if inner is None else self._shr_through(inner, k)
            return None if folded is None else self.op2("and", folded, c >> k)
        if op.name == "or":
            # (x | y) >> k  ->  y >> k  when x < 2**k
            for u, v in ((x, c), (c, x)):
                bu = bits_of(u)
                if bu is not None and bu <= k:
                    return self.op2("shr", v, k)
        if op.name == "shl" and isinstance(c, int):
            # (x << j) >> k  ->  x << (j - k), or x >> (k - j)
            return self.op2("shl", x, c - k) if c >= k else self.op2("shr", x, k - c)
        return None

    def op1(self, name, a):
        if not isinstance(a, Temp):
            return _PYOP1[name](a)
        return self.emit(name, (a,), bits=7 if name == "bitlen" else None)

    def lnot(self, c):
        """The boolean negation of a condition."""
        if not isinstance(c, Temp):
            return not c
        if c.op is not None and c.op.name in COMPARISONS:
            return self.op2(COMPARISONS[c.op.name], *c.op.args)
        return self.op2("eq", c, 0)

    def select(self, c, a, b):
        if not isinstance(c, Temp):
            return a if c else b
        if a is b or (not isinstance(a, Temp) and not isinstance(b, Temp) and a == b):
            return a
        ba, bb = bits_of(a), bits_of(b)
        bits = None if ba is None or bb is None else max(ba, bb)
        return self.emit("select", (c, a, b), bits=bits)

    def call_pure(self, name, *args):
        fn, bits = self.target.pure_calls[name]
        if not any(isinstance(x, Temp) for x in args):
            return fn(*args)
        return self.emit("call", args, (name,), bits=bits)


class TranslatorOps(IRBuilder):
    """QEMU's ``TranslatorOps`` over IR: the per-instruction loop every front
    end shares.  The target's subclass runs the semantics (its ``Ops``
    interface over IR) and fills in the instruction-boundary hooks."""

    def __init__(self, block: IRBlock, target):
        super().__init__(block, target)
        self.k = -1
        self.insn = None
        self.ended = False            # the block ends after what was emitted
        self.fallback_reason = ""     # why the last instruction became a helper call

    # -- hooks a front end provides ------------------------------------------------------
    def checkpoint(self):
        """The builder's state, to :meth:`rollback` to if an instruction cannot be inlined."""
        raise NotImplementedError

    def rollback(self, cp) -> None:
        """Forget everything emitted since :meth:`checkpoint` returned ``cp``."""
        raise NotImplementedError

    def commit(self) -> None:
        """The instruction's semantics ran to their end: emit what it buffered
        (its register and flag writes) and its control transfer, if any."""
        raise NotImplementedError

    # -- the loop (generic) ----------------------------------------------------------------
    def insn_start(self, k: int, insn) -> None:
        """Guest instruction ``k`` begins (QEMU's ``insn_start``)."""
        self.k = k
        self.insn = insn
        self.emit("insn_start", aux=(k, insn.ip), out=False)

    def translate_insn(self, k: int, insn) -> bool:
        """Emit instruction k.  Returns True when it was inlined, False when it
        became a helper call (which ends the block)."""
        self.insn_start(k, insn)
        if not insn.helper and insn.handler is not None:
            cp = self.checkpoint()
            try:
                insn.handler(self, insn)
                self.commit()
                return True
            except NotInlinable as e:       # the semantics said so (RuntimeBranch too); a bug propagates
                self.rollback(cp)
                self.fallback_reason = f"{type(e).__name__}: {e}"
        self.emit("call_helper", aux=(k, insn.name), out=False)
        self.ended = True
        return False

    def end_block(self, next_ip: int) -> None:
        """The block stops here (page boundary, size limit, breakpoint):
        QEMU's ``tb_stop``."""
        self.emit("goto_tb", aux=(0, next_ip), out=False)
        self.ended = True


__all__ = ["IRBuilder", "TranslatorOps", "fold", "clear_under", "bits_of"]
