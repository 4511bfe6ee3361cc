"""The x86 translator front end: the x86 ``Ops`` interface, emitting IR instead of computing.

This is the target side of :mod:`emu.ir` (QEMU's ``target/i386/tcg/translate.c``
over ``tcg/``): :class:`X86IRBuilder` fills in the generic
:class:`emu.ir.builder.TranslatorOps` and implements every method of
:class:`emu.isa.x86.concrete.ConcreteOps` that inlinable semantics use, with
the *same meaning* (each method below mirrors its concrete twin line for
line), so translated code computes what the interpreter computes.  What the
IR needs to know of x86 -- register globals, the lazy flag record, pure
flag helpers, memory-access hooks -- is declared in
:mod:`emu.isa.x86.ir_globals` and :mod:`emu.isa.x86.ir_mem`;
:class:`X86Frontend` is what ``X86Target.ir_frontend`` hands the translator.

Two rules make state restoration trivial (QEMU's ``restore_state_to_opc``):

* **an instruction commits at its end**: register writes and the lazy flag
  record of instruction *k* are buffered (reads see them) and emitted as
  ``setr``/``setcc`` after its last operation, so at any memory access the
  block's locals still hold the state *before* instruction *k*; a memory
  access that cannot take the fast path leaves the block there and the
  interpreter runs instruction *k* (MMIO, segment-limit faults, writes into
  code pages -- the very slow paths ConcreteOps takes);
* **what cannot be inlined is a helper**: semantics registered with
  ``helper=True``, and any whose Python code branches on a run-time value or
  touches the CPU state directly (they raise :class:`NotInlinable`), become a
  ``call_helper`` that ends the block.

Port I/O (IN/OUT, SDM Vol. 2A "IN", Vol. 2B "OUT") is a ``call_bail`` of the
engine's ops: the access is served from the block when its device can take
it quietly (the machine's quiet servers,
:meth:`emu.machine.Machine._quiet_server`), and otherwise the block leaves
before it and the interpreter makes the real exit.

Segment loads: a load of ES, DS, FS or GS (MOV, POP, LES, LDS...) is a
``call_bail`` of the engine's ops -- in protected mode the descriptor's
checks, declined where they fault -- and the block goes on with that
segment's base (and limit) read again; a region leaves a flat segment it
reloads out of the ones its entry guard checks once, and leaves before a
load that breaks what the guard checked of another.

Real mode's far transfers (far CALL/JMP, RETF, INT n, IRET) are compiled
in: CS is loaded by a ``call_bail`` of ``ConcreteOps.load_cs_real`` and the
block ends with ``exit_sync`` (looked up again by CS base and IP); so does
an instruction that may set IF or TF (STI -- its interrupt shadow set by a
``call_bail`` -- and POPF), so that the dispatcher delivers what is now due
exactly where the interpreter would.  CLI is compiled in; in protected mode
CLI and STI check CPL <= IOPL by a ``call_bail`` (declined: the interpreter
raises #GP), and POPF takes the flags CPL and IOPL let it change from a
``call_bail`` of ``ConcreteOps.popf_mask`` (SDM Vol. 2B "POPF").

Deliberate limits: 64-bit stack operations, protected-mode far transfers,
INT n and IRET (descriptors, gates, privilege), loads of SS and CS
outside real-mode far transfers, INS/OUTS, HLT and raise_exc are not inlined (they are helpers anyway).
"""

from __future__ import annotations

from ...ir.builder import IRBuilder, TranslatorOps
from ...ir.frontend import TranslatorFrontend
from ...ir.ir import IRBlock, NotInlinable, Temp
from . import flags as F
from .insn import IMM, MEM, REG, SEG
from .ir_globals import X86_IR
from .ir_mem import FLAT, X86Memory, fast_segment, mark_safe_loads
from .state import CS, DS, SS
from .string_fast import MOVES, string_fast

MASK = F.MASK
CF_OF = F.CF | F.OF


class X86IRBuilder(TranslatorOps):
    """The x86 Ops interface over IR (see the module docstring)."""

    def __init__(self, block: IRBlock, model, ss32: bool, long64: bool, real: bool = False,
                 rep_inline: bool = False):
        super().__init__(block, X86_IR)
        self.model = model
        self.ss32 = ss32
        self.long64 = long64
        self.real = real          # real mode (CR0.PE clear): a segment load is base = sel * 16
        self.rep_inline = rep_inline    # REP string instructions run in the block (no paging)
        self.known = {}           # reg -> {size: value}: what the block knows of it now
        self.pend = {}            # reg -> largest size written by the current instruction
        self.cc = dict.fromkeys(("op", "res", "a", "b", "size", "fl"))   # None: the entry value
        self.cc_pend = set()
        self.fl_fold = None       # the c of foldcf, when fl changed only by flags_before_inc
        self.fl_keeps = None      # fl before the instruction's arithmetic-only set_flags (Op.keeps)
        self.fl_source = {}       # fl temp id -> the oldest fl it equals outside the arithmetic flags
        self.segs_used = set()
        self.jump_to = None       # int or Temp: where the current instruction jumps
        self.sync = False         # it ends the block with exit_sync (CS, IF or TF changed)
        self.sync_other = False   # ... for another reason than a flags write (no rose test)
        self.rose = None          # IF | TF bits its flags writes set that were clear, or None
        self.branch_cond = None   # (cond, target) of a conditional branch

    def op2(self, name, a, b):
        # rflags(record) & m with no arithmetic flag in m: those bits are fl's
        # (DF, IF, TF ...), the lazy record cannot change them -- no call
        if name == "and" and isinstance(b, int) and b >= 0 and not b & F.ARITH \
                and isinstance(a, Temp) and a.op is not None:
            if a.op.name == "call" and a.op.aux[0] == "rflags":
                return super().op2("and", a.op.args[5], b)
            if a.op.name == "or":       # (x | compute(record)) & m, see get_flags
                x, y = a.op.args
                for u, v in ((x, y), (y, x)):
                    if isinstance(v, Temp) and v.op is not None and v.op.name == "call" \
                            and v.op.aux[0] == "rflags" and v.op.args[5] == 0:
                        return super().op2("and", u, b)
        if name == "and" and isinstance(b, int) and b > 0 and not b & (b + 1) \
                and isinstance(a, Temp) and a.op is not None:
            low = self._low_bits(a, b)
            if low is not None:
                return self.op2("and", low, b)
        return super().op2(name, a, b)

    def _low_bits(self, t: Temp, mask: int):
        """A value with the same bits under ``mask`` (2**k - 1) as ``t`` and
        no sign extension to width k or more in it, or None when there is
        none to drop.  A sign extension ``(x ^ s) - s`` (s = 2**(j-1),
        j >= k: :func:`emu.isa.x86.semantics.muldiv._sext`, MOVSX) equals x
        mod 2**k, and the low k bits of a sum, difference or product depend
        only on the low k bits of its operands: IMUL's truncated product
        (SDM Vol. 2A "IMUL": the low half is the same signed or unsigned)
        needs no sign extension of its factors."""
        op = t.op
        if op is None or len(op.args) != 2:
            return None
        x, s = op.args
        if op.name == "sub" and isinstance(s, int) and s > 0 and not s & (s - 1) \
                and 2 * s > mask and isinstance(x, Temp) and x.op is not None \
                and x.op.name == "xor" and x.op.args[1] == s:
            return x.op.args[0]
        if op.name in ("add", "sub", "mul"):
            args = [self._low_bits(a, mask) if isinstance(a, Temp) else None for a in op.args]
            if any(n is not None for n in args):
                u, v = (o if n is None else n for n, o in zip(args, op.args))
                return self.op2(op.name, u, v)
        return None

    # -- instruction boundaries ------------------------------------------------------
    def checkpoint(self):
        return (len(self.block.ops), self.ntemps, {n: dict(d) for n, d in self.known.items()},
                dict(self.pend), dict(self.cc), set(self.cc_pend), self.fl_fold, self.fl_keeps,
                set(self.segs_used))

    def rollback(self, cp):
        n, nt, known, pend, cc, ccp, flf, flk, segs = cp
        del self.block.ops[n:]
        self.ntemps = nt
        self.known, self.pend, self.cc, self.cc_pend, self.fl_fold = known, pend, cc, ccp, flf
        self.fl_keeps = flk
        self.segs_used = segs
        self.jump_to = self.branch_cond = self.rose = None
        self.sync = self.sync_other = False

    def translate_insn(self, k: int, insn) -> bool:
        """A REP MOVS/STOS/LODS/CMPS/SCAS runs in the block without paging
        (:meth:`rep_string`); everything else as the generic builder does."""
        if self.rep_inline and insn.repeats and insn.name in REP_INLINE:
            self.insn_start(k, insn)
            self.rep_string(insn)
            self.commit()
            return True
        return super().translate_insn(k, insn)

    def rep_string(self, i) -> None:
        """A REP string instruction over plain RAM, all its iterations at once
        (SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ"): a ``call_bail`` of
        ConcreteOps' ``rep_move_translated`` or ``rep_compare_translated``
        (:mod:`emu.isa.x86.string_fast`) does the memory work -- or declines
        (not plain RAM, code written, the budget too small, CMPS/SCAS's count
        0) and the block leaves before the instruction, as a helper's would
        -- and returns what the block needs of it: the iterations beyond the
        first, which ``retire`` counts, and for CMPS/SCAS the elements the
        last comparison compared (the flags are their SUB's, as
        ``_cmps_element``'s), for LODS the last element.  rSI/rDI/rCX are
        computed here from the iterations run, as ``_repeat`` leaves them."""
        a, size, name = i.asize, i.size, i.name
        mask = MASK[a]
        cx = self.get_reg(RCX, a)
        si = self.get_reg(RSI, a) if name not in ("STOS", "SCAS") else 0
        di = self.get_reg(RDI, a) if name != "LODS" else 0
        ax = self.get_reg(RAX, size) if name in ("STOS", "SCAS") else 0
        df = self.get_df()
        args = (size, mask, DS if i.seg is None else i.seg, cx, si, di, ax, df, self.emit("budget"))
        if name in ("CMPS", "SCAS"):
            t = self.emit("call_bail", (int(name == "SCAS"), int(i.rep == 0xF3)) + args,
                          ("rep_compare_translated",))
            extra = self.op2("and", t, 0xFFFFFFFF)
            n = self.op2("add", extra, 1)
            va = self.op2("and", self.op2("shr", t, 32), MASK[size])
            vb = self.op2("and", self.op2("shr", t, 64), MASK[size])
            self.set_cc(F.CC_SUB, self.op2("and", self.op2("sub", va, vb), MASK[size]), va, vb, size)
            self.set_reg(RCX, a, self.op2("sub", cx, n))
        else:
            t = self.emit("call_bail", (MOVES.index(name),) + args, ("rep_move_translated",))
            extra = t
            if name == "LODS":
                extra = self.op2("and", t, 0xFFFFFFFF)
                self.set_reg(RAX, size, self.op2("shr", t, 32))
            n = cx
            self.set_reg(RCX, a, 0)
        span = self.op2("mul", n, size)
        step = self.select(df, self.op2("sub", 0, span), span)
        if name not in ("STOS", "SCAS"):
            self.set_reg(RSI, a, self.op2("and", self.op2("add", si, step), mask))
        if name != "LODS":
            self.set_reg(RDI, a, self.op2("and", self.op2("add", di, step), mask))
        self.emit("retire", (extra,), out=False)

    def insn_start(self, k: int, insn) -> None:
        self.jump_to = self.branch_cond = self.rose = None
        self.sync = self.sync_other = False
        super().insn_start(k, insn)

    def commit(self) -> None:
        """End of an instruction: emit its buffered register and flag writes,
        then its control transfer, if any."""
        for n, size in self.pend.items():
            self.emit("setr", (self.known[n][size],), (n, size), out=False)
        self.pend.clear()
        ccp = self.cc_pend
        if ccp:
            cc = self.cc
            if ccp & {"res", "a", "b", "size"}:
                self.emit("setcc", [cc[f] for f in ("op", "res", "a", "b", "size")], out=False)
            elif "op" in ccp:
                self.emit("setccop", (cc["op"],), out=False)
            if "fl" in ccp:
                if self.fl_fold is not None:
                    self.emit("foldcf", (self.fl_fold,), out=False)
                else:
                    self.emit("setfl", (cc["fl"],), out=False)
                    self.block.ops[-1].keeps = self.fl_keeps
                    if self.fl_keeps is not None and isinstance(cc["fl"], Temp):
                        self.fl_source[cc["fl"].id] = self.fl_keeps
            ccp.clear()
        self.fl_fold = None
        self.fl_keeps = None
        insn = self.insn
        if self.sync:
            # a far transfer, or IF or TF written: the dispatcher's full
            # look-up, which lets the interpreter deliver what is now due --
            # for a flags write (POPF) only when it set IF or TF: else no
            # interrupt became deliverable, and the block chains on
            if self.rose is not None and not self.sync_other and self.jump_to is None:
                self.emit("brcond", (self.op2("eq", self.rose, 0),), (0, insn.next_ip), out=False)
            self.emit("exit_sync", (insn.next_ip if self.jump_to is None else self.jump_to,), out=False)
            self.ended = True
        elif self.branch_cond is not None:
            c, target = self.branch_cond
            self.emit("brcond", (c,), (0, target), out=False)
            self.emit("goto_tb", aux=(1, insn.next_ip), out=False)
            self.ended = True
        elif self.jump_to is not None:
            t = self.jump_to
            if isinstance(t, Temp):
                self.emit("exit_tb", (t,), out=False)
            else:
                self.emit("goto_tb", aux=(0, t), out=False)
            self.ended = True

    # -- things inlined code must not do ---------------------------------------------
    @property
    def s(self):
        raise NotInlinable("reads the CPU state directly")

    def _no(self, what):
        raise NotInlinable(what)

    def raise_exc(self, vector, code=None, detail=""):
        self._no("raises an exception")

    def divide_error_if(self, cond, detail: str) -> None:
        """(ConcreteOps.divide_error_if) where #DE may be raised, the block
        leaves before the instruction (``bailif``) and the interpreter runs
        it and raises the fault; a division that faults always is a helper."""
        if isinstance(cond, Temp):
            self.emit("bailif", (cond,), out=False)
        elif cond:
            self._no(detail)

    def halt(self):
        self._no("HLT")

    # -- port I/O (mirror ConcreteOps.port_in/port_out) ----------------------------------
    def port_in(self, port, size):
        """IN: a ``call_bail`` of ``ConcreteOps.port_in_translated``
        (``port_in_real`` in real mode: no permission to check), served
        without leaving the block, or declined (then the block leaves before
        the instruction and the interpreter makes the exit)."""
        helper = "port_in_real" if self.real else "port_in_translated"
        return self.emit("call_bail", (port, size), (helper,), bits=8 * size)

    def port_out(self, port, size, v):
        """OUT: as :meth:`port_in`, with ``ConcreteOps.port_out_translated``
        (``port_out_real``)."""
        helper = "port_out_real" if self.real else "port_out_translated"
        self.emit("call_bail", (port, size, v), (helper,), bits=1)

    def far_jump(self, sel, ip):
        """(ConcreteOps.far_jump) in real mode: a ``call_bail`` of
        ``ConcreteOps.load_cs_real`` (CS = sel, base = sel * 16), and the
        block ends with ``exit_sync``: the next block is looked up by the
        whole key (CS base, IP, mode), never chained by IP alone.  In
        protected mode (descriptors) it is not inlined."""
        if not self.real:
            self._no("far jump in protected mode")
        self.emit("call_bail", (sel,), ("load_cs_real",), bits=1)
        self.jump_to = ip
        self.sync = self.sync_other = True

    def real_mode(self) -> bool:
        """(ConcreteOps.real_mode) what the block key says."""
        return self.real

    def check_iopl(self, what: str) -> None:
        """(ConcreteOps.check_iopl) nothing to check in real mode; else a
        ``call_bail`` of ``ConcreteOps.iopl_allows``: the interpreter runs
        the instruction (and raises #GP) when CPL > IOPL."""
        if not self.real:
            self.emit("call_bail", (), ("iopl_allows",), bits=1)

    def inhibit_irq_if(self, cond) -> None:
        """(ConcreteOps.inhibit_irq_if) a ``call_bail`` of it (which never
        declines); the block ends after the instruction (``exit_sync``), so
        the dispatcher lets the interpreter run the shadowed instruction."""
        if isinstance(cond, Temp) or cond:
            self.emit("call_bail", (cond,), ("inhibit_irq_if",), bits=1)
        self.sync = self.sync_other = True

    def popf_mask(self, mask: int):
        """(ConcreteOps.popf_mask) the mask itself in real mode (no CPL or
        IOPL there); in protected mode a ``call_bail`` of it (which never
        declines) that drops IOPL and IF by CPL and IOPL at run time --
        :meth:`set_flags` takes that mask as a value.  CPL, IOPL and VM
        are exact in the state there: only a far transfer, IRET or POPF
        changes them, and each ends the block."""
        if self.real:
            return mask
        return self.emit("call_bail", (mask,), ("popf_mask",), bits=32)

    def software_interrupt(self, vector: int, return_ip: int) -> None:
        """(ConcreteOps.software_interrupt) in real mode, the delivery of
        :func:`emu.isa.x86.interrupts.deliver` over IR: the vector from a
        ``call_bail`` of ``ConcreteOps.ivt_entry`` (first: declined, nothing
        was done), FLAGS, CS and IP pushed, IF, TF and AC cleared, then the
        far jump.  In protected mode (gates) it is not inlined."""
        if not self.real:
            self._no("interrupt in protected mode")
        entry = self.emit("call_bail", (vector,), ("ivt_entry",), bits=32)
        self.push(self.op2("and", self.get_flags(), 0xFFFF), 2)
        self.push(self.get_seg(CS), 2)
        self.push(return_ip & 0xFFFF, 2)
        self.set_flags(0, F.IF | F.TF | F.AC)
        self.far_jump(self.op2("shr", entry, 16), self.op2("and", entry, 0xFFFF))

    def load_seg(self, n, sel):
        """(ConcreteOps.load_seg) a load of ES, DS, FS or GS: in real mode a
        ``call_bail`` of ``ConcreteOps.load_seg_real`` (selector and base,
        SDM Vol. 3A §20.1.1), in 16- and 32-bit protected mode one of
        ``ConcreteOps.load_seg_prot`` (the descriptor's checks, §5.5-5.7;
        declined where it faults: the interpreter raises the exception);
        after it the block's bindings of that segment are read again
        (:meth:`X86Memory.after_call`) and the block goes on.  CS, SS (its
        interrupt shadow) and 64-bit mode are not inlined."""
        if n in (CS, SS) or self.long64:
            self._no("segment load")
        self.emit("call_bail", (n, sel), ("load_seg_real" if self.real else "load_seg_prot",), bits=1)

    def mode_changed(self):
        self._no("mode change")

    def read_lin(self, lin, size, fetch=False, direct=False):
        self._no("linear read")

    def write_lin(self, lin, size, v):
        self._no("linear write")

    def call(self, fn, insn):
        self._no("nested helper")

    def seg_base(self, n):
        self._no("segment base")

    # -- registers (mirror ConcreteOps.read/write/get_reg/set_reg) --------------------
    def get_reg(self, n: int, size: int):
        d = self.known.get(n)
        if d is not None:
            v = d.get(size)
            if v is not None:
                return v
            for big in (8, 4, 2):
                if big > size and big in d:
                    v = d[size] = self.op2("and", d[big], MASK[size])
                    return v
        else:
            d = self.known[n] = {}
        v = self.emit("getr", aux=(n, size), bits=8 * size)
        k = self.pend.get(n)
        if k is not None:        # merge this instruction's narrower pending write
            v = self.op2("or", self.op2("and", v, MASK[size] ^ MASK[k]), d[k])
        d[size] = v
        return v

    def set_reg(self, n: int, size: int, v) -> None:
        v = self.op2("and", v, MASK[size])
        if size >= 4:
            self.known[n] = {8: v, 4: v} if size == 4 else {8: v}
            self.pend[n] = 8
            return
        old = self.known.get(n) or {}
        new = {size: v}
        for big, ov in old.items():
            if big > size:
                new[big] = self.op2("or", self.op2("and", ov, MASK[big] ^ MASK[size]), v)
        self.known[n] = new
        cur = self.pend.get(n, 0)
        if cur < size:
            self.pend[n] = size
        elif cur not in new:       # a wider pending write of this insn stays the unit
            new[cur] = self.get_reg(n, cur)

    def read(self, o):
        k = o.kind
        if k == REG:
            if o.hi:
                return self.op2("and", self.op2("shr", self.get_reg(o.n, 2), 8), 0xFF)
            return self.get_reg(o.n, o.size)
        if k == IMM:
            return o.value
        if k == MEM:
            return self.load(o.seg, self.ea(o), o.size)
        if k == SEG:
            return self.get_seg(o.n)
        self._no(f"operand {o!r}")

    def write(self, o, v) -> None:
        k = o.kind
        if k == REG:
            if o.hi:
                # the low byte read as one (a wide register's local: ``r3 & 255``,
                # not ``(r3 & 65535) & 255``)
                lo = self.get_reg(o.n, 1)
                self.set_reg(o.n, 2, self.op2("or", lo, self.op2("shl", self.op2("and", v, 0xFF), 8)))
            else:
                self.set_reg(o.n, o.size, v)
        elif k == MEM:
            self.store(o.seg, self.ea(o), o.size, v)
        else:
            self._no(f"write to operand {o!r}")

    def ea(self, o):
        a = o.disp
        w = o.asize
        if o.base >= 0:
            a = self.op2("add", self.get_reg(o.base, w), a)
        if o.index >= 0:
            a = self.op2("add", a, self.op2("mul", self.get_reg(o.index, w), o.scale))
        return self.op2("and", a, o.amask)

    def select(self, c, a, b):
        return IRBuilder.select(self, c, a, b)

    def get_seg(self, n: int):
        return self.emit("getseg", aux=(n,), bits=16)

    # -- memory ----------------------------------------------------------------------
    def load(self, seg: int, off, size: int):
        self.segs_used.add(seg)
        return self.emit("ld", (off,), (seg, size), bits=8 * size)

    def store(self, seg: int, off, size: int, v) -> None:
        self.segs_used.add(seg)
        self.emit("st", (off, self.op2("and", v, MASK[size])), (seg, size), out=False)

    def push(self, v, size: int) -> None:
        if self.long64:
            self._no("64-bit push")
        if self.ss32:
            sp = self.op2("and", self.op2("sub", self.get_reg(4, 4), size), 0xFFFFFFFF)
            self.store(SS, sp, size, v)
            self.set_reg(4, 4, sp)
        else:
            sp = self.op2("and", self.op2("sub", self.get_reg(4, 2), size), 0xFFFF)
            self.store(SS, sp, size, v)
            self.set_reg(4, 2, sp)

    def pop(self, size: int):
        if self.long64:
            self._no("64-bit pop")
        if self.ss32:
            sp = self.get_reg(4, 4)
            v = self.load(SS, sp, size)
            self.set_reg(4, 4, self.op2("and", self.op2("add", sp, size), 0xFFFFFFFF))
        else:
            sp = self.get_reg(4, 2)
            v = self.load(SS, sp, size)
            self.set_reg(4, 2, self.op2("and", self.op2("add", sp, size), 0xFFFF))
        return v

    def stack_size(self) -> int:
        if self.long64:
            return 8
        return 4 if self.ss32 else 2

    def mode64(self) -> bool:
        return self.long64

    # -- lazy flags (mirror ConcreteOps and flags.py) ------------------------------------
    def ccv(self, f):
        v = self.cc[f]
        if v is None:
            v = self.cc[f] = self.emit("getcc", aux=(f,), bits=1 if False else None)
        return v

    def set_cc(self, op, res, a, b, size) -> None:
        cc = self.cc
        cc["op"], cc["res"], cc["a"], cc["b"], cc["size"] = op, res, a, b, size
        self.cc_pend.update(("op", "res", "a", "b", "size"))

    def set_cc_if(self, cond, op, res, a, b, size) -> None:
        """(ConcreteOps.set_cc_if) each field of the record picked by the
        run-time ``cond``: the new value, or the one in force."""
        if not isinstance(cond, Temp):
            if cond:
                self.set_cc(op, res, a, b, size)
            return
        new = dict(zip(("op", "res", "a", "b", "size"), (op, res, a, b, size)))
        for f, v in new.items():
            self.cc[f] = self.select(cond, v, self.ccv(f))
        self.cc_pend.update(new)

    def _record(self):
        return tuple(self.ccv(f) for f in ("op", "res", "a", "b", "size", "fl"))

    def get_cf(self):
        op = self.cc["op"]
        if isinstance(op, Temp) and op.op is not None and op.op.name == "select" \
                and all(isinstance(k, int) for k in op.op.args[1:]):
            # ADC/SBB record ADC or ADD (SBB or SUB) by the carry in: the
            # carry of each, picked by the same condition
            c, k1, k2 = op.op.args
            return self.select(c, self._carry_of(k1), self._carry_of(k2))
        if op is None or isinstance(op, Temp):
            return self.call_pure("carry", self.ccv("op"), self.ccv("res"), self.ccv("a"),
                                  self.ccv("b"), self.ccv("fl"))
        return self._carry_of(op)

    def _carry_of(self, op: int):
        """CF of the record in force, its kind ``op`` known."""
        if op == F.CC_ADD:
            return self.op2("lt", self.ccv("res"), self.ccv("a"))
        if op == F.CC_SUB:
            return self.op2("lt", self.ccv("a"), self.ccv("b"))
        if op == F.CC_LOGIC:
            return 0
        if op == F.CC_RES:
            return self.op2("and", self.ccv("a"), 1)
        if op == F.CC_ADC:
            return self.op2("le", self.ccv("res"), self.ccv("a"))
        if op == F.CC_SBB:
            return self.op2("le", self.ccv("a"), self.ccv("b"))
        return self.op2("and", self.ccv("fl"), F.CF)

    def cond(self, cc: int):
        op = self.cc["op"]
        base = cc >> 1
        r = None
        if isinstance(op, int) and not isinstance(op, bool):
            size = self.cc["size"]
            if op == F.CC_SUB:
                a, b = self.ccv("a"), self.ccv("b")
                if base == 2:
                    r = self.op2("eq", a, b)
                elif base == 1:
                    r = self.op2("lt", a, b)
                elif base == 3:
                    r = self.op2("le", a, b)
                elif base in (6, 7) and isinstance(size, int):
                    # signed a < b (a <= b): flipping the sign bit of both maps
                    # the signed order of size-byte values onto the unsigned
                    # one, with no sign extension
                    sign = F.SIGN[size]
                    r = self.op2("lt" if base == 6 else "le", self.op2("xor", a, sign),
                                 self.op2("xor", b, sign))
                elif base == 0 and isinstance(size, int):     # flags.compute's OF of SUB
                    res = self.ccv("res")
                    r = self.op2("ne", self.op2("and", self.op2("and", self.op2("xor", a, b),
                                                                   self.op2("xor", a, res)),
                                                F.SIGN[size]), 0)
            elif op == F.CC_LOGIC:
                res = self.ccv("res")
                if base in (2, 3):
                    r = self.op2("eq", res, 0)
                elif base in (0, 1):
                    r = False
                elif base in (4, 6, 7) and isinstance(size, int):
                    s = self.op2("ne", self.op2("and", res, F.SIGN[size]), 0)
                    r = s if base != 7 else self.op2("or", self.op2("eq", res, 0), s)
            elif op == F.CC_EFLAGS:
                fl = self.ccv("fl")
                bit = {0: F.OF, 1: F.CF, 2: F.ZF, 3: F.CF | F.ZF, 4: F.SF, 5: F.PF}.get(base)
                if bit is not None:
                    r = self.op2("ne", self.op2("and", fl, bit), 0)
            elif base == 0 and op == F.CC_RES:       # OF is bit 1 of the packed flags
                r = self.op2("ne", self.op2("and", self.ccv("a"), 2), 0)
            elif base == 1 and op in (F.CC_ADD, F.CC_RES, F.CC_ADC, F.CC_SBB):
                r = self.get_cf()    # flags.carry: CF straight from the record
            elif base == 2:          # every other record: ZF iff res == 0
                r = self.op2("eq", self.ccv("res"), 0)
            elif base == 4 and isinstance(size, int):
                r = self.op2("ne", self.op2("and", self.ccv("res"), F.SIGN[size]), 0)
        elif not isinstance(op, int) and base in (1, 2, 3):
            # cc_op known only at run time: CF is flags.carry of any record; ZF
            # is fl's bit for an EFLAGS record, res == 0 for every other
            zf = cf = None
            if base != 1:
                fl_zf = self.op2("ne", self.op2("and", self.ccv("fl"), F.ZF), 0)
                zf = self.select(self.op2("eq", self.ccv("op"), F.CC_EFLAGS), fl_zf,
                                 self.op2("eq", self.ccv("res"), 0))
            if base != 2:
                cf = self.get_cf()
            r = zf if cf is None else cf if zf is None else self.op2("or", cf, zf)
        if r is None:
            return self.call_pure("cond", cc, *self._record())
        return self.lnot(r) if cc & 1 else r

    def get_flags(self):
        op = self.cc["op"]
        if isinstance(op, int) and op == F.CC_EFLAGS:
            return self.ccv("fl")
        if isinstance(op, int) and op in X86_IR.flags.cf_hidden:
            # the arithmetic flags are the record's alone (flags.compute reads
            # no bit of fl for it): fl is read outside them only, which flag
            # liveness sees (an instruction writing some arithmetic flags on
            # top of such a record needs no flag of the one before it)
            rec = self._record()
            return self.op2("or", self.op2("and", rec[5], ~F.ARITH),
                            self.call_pure("rflags", *rec[:5], 0))
        return self.call_pure("rflags", *self._record())

    def get_df(self):
        """DF alone: never part of the lazy record, ``fl`` holds it (as
        ConcreteOps).  Taken from the oldest fl it is the same in: back over
        what changes only other bits -- INC/DEC's CF fold, an arithmetic-only
        flag write (``fl_source``), an OR of a value without DF -- so that
        DF at the block's start (a region's constant, ``constant_fl_bits``)
        still picks a string instruction's step after them; a constant after
        CLD or STD."""
        v = self.ccv("fl")
        while isinstance(v, Temp):
            v = self.fl_source.get(v.id, v)
            op = v.op if isinstance(v, Temp) else None
            if op is None:
                break
            x, y = op.args if len(op.args) == 2 else (None, None)
            if op.name == "or":
                if type(y) is int and y & F.DF:
                    return F.DF             # STD: set
                if _no_df(y):
                    v = x
                    continue
                if _no_df(x):
                    v = y
                    continue
            elif op.name == "and" and type(y) is int:
                if not y & F.DF:
                    return 0                # CLD: clear
                v = x
                continue
            break
        return self.op2("and", v, F.DF)

    def _aux(self, op: int):
        """AF alone of the record in force, its kind ``op`` (not EFLAGS)
        known: :func:`emu.isa.x86.flags.aux` over IR."""
        if op == F.CC_LOGIC:
            return 0
        res = self.ccv("res")
        if op in (F.CC_INC, F.CC_DEC):
            low = 0 if op == F.CC_INC else 0xF
            return self.select(self.op2("eq", self.op2("and", res, 0xF), low), F.AF, 0)
        if op == F.CC_RES:
            return self.op2("and", self.ccv("a"), F.AF)
        return self.op2("and", self.op2("xor", self.op2("xor", self.ccv("a"), self.ccv("b")), res),
                        F.AF)

    def set_flags(self, value, mask) -> None:
        """``mask`` is a constant, or a value known at run time only
        (protected-mode POPF, :meth:`popf_mask`): then the flags are
        written whole and interrupts are looked at next."""
        dyn = isinstance(mask, Temp)
        may_set = dyn or mask & (F.IF | F.TF) and (isinstance(value, Temp) or value & mask & (F.IF | F.TF))
        if may_set:
            self.sync = True        # IF or TF may be set: interrupts are looked at next
        op = self.cc["op"]
        lazy = not dyn and mask == CF_OF and not (isinstance(op, int) and op == F.CC_EFLAGS)
        if lazy and isinstance(op, int) and not isinstance(op, bool):
            # CF and OF alone over a lazy record of known kind (rotates; MUL and
            # IMUL under -cpu max): it stays lazy, as in ConcreteOps.set_flags --
            # the CC_RES record of the same result with the new CF and OF and the
            # record's AF; no RFLAGS computation
            cc = self.cc
            cc["a"] = self.op2("or", self._packed_cf_of(value), self._aux(op))
            cc["res"], cc["size"] = self.ccv("res"), self.ccv("size")
            cc["b"] = 0
            cc["op"] = F.CC_RES
            self.cc_pend.update(("op", "res", "a", "b", "size"))
            return
        old = self.ccv("fl")
        if lazy:
            # the kind known only at run time (the record a block starts with):
            # ConcreteOps.set_flags's two cases, picked by cc_op == EFLAGS -- fl
            # with the new CF and OF, or the CC_RES record -- still no RFLAGS
            is_fl = self.op2("eq", self.ccv("op"), F.CC_EFLAGS)
            res, a, b = self.ccv("res"), self.ccv("a"), self.ccv("b")
            packed = self.op2("or", self._packed_cf_of(value),
                              self.call_pure("aux", self.ccv("op"), res, a, b))
            cc = self.cc
            cc["a"] = self.select(is_fl, a, packed)
            cc["b"] = self.select(is_fl, b, 0)
            cc["res"], cc["size"] = res, self.ccv("size")
            fl = self.op2("or", self.op2("or", self.op2("and", old, ~mask), self.op2("and", value, mask)),
                          F.FIXED1)
            fl = self.select(is_fl, fl, old)
            op_new = self.select(is_fl, F.CC_EFLAGS, F.CC_RES)
            self.cc_pend.update(("res", "a", "b", "size"))
        elif not dyn and not mask & F.ARITH:
            # no arithmetic flag (CLD, STD, CLI, STI): the record stays, only
            # fl's other bits change, which its flags read none of (as
            # ConcreteOps.set_flags)
            fl = self.op2("or", self.op2("or", self.op2("and", old, ~mask),
                                         self.op2("and", value, mask)), F.FIXED1)
            op_new = None
        else:
            cur = self.get_flags()
            keep = self.op2("xor", mask, 0xFFFFFFFF) if dyn else ~mask
            fl = self.op2("or", self.op2("or", self.op2("and", cur, keep),
                                         self.op2("and", value, mask)), F.FIXED1)
            op_new = F.CC_EFLAGS
        # only arithmetic flags change (MUL, shifts, BCD): outside them, the
        # new fl is the one before the instruction (rflags keeps fl's other bits)
        keeps = None
        if not dyn and not mask & ~F.ARITH:
            if "fl" in self.cc_pend:
                keeps = self.fl_keeps
            else:
                keeps = self.fl_source.get(old.id, old) if isinstance(old, Temp) else old
        self.cc["fl"] = fl
        self.cc_pend.add("fl")
        if op_new is not None:
            self.cc["op"] = op_new
            self.cc_pend.add("op")
        self.fl_fold = None
        self.fl_keeps = keeps
        if may_set:
            rose = self.op2("and", self.op2("and", fl, self.op2("xor", old, 0xFFFFFFFF)), F.IF | F.TF)
            self.rose = rose if self.rose is None else self.op2("or", self.rose, rose)

    def _packed_cf_of(self, value):
        """CF and OF of a flags word as a CC_RES record packs them (bits 0, 1)."""
        return self.op2("or", self.op2("and", value, F.CF),
                        self.op2("and", self.op2("shr", value, 10), 2))

    def flags_before_inc(self) -> None:
        op = self.cc["op"]
        # EFLAGS, INC and DEC records already hold CF in fl (as ConcreteOps)
        if isinstance(op, int) and op in (F.CC_EFLAGS, F.CC_INC, F.CC_DEC):
            return
        # with a run-time cc_op, flags.carry covers those three too (CF = fl & CF):
        # the fold is then a no-op, so it is a plain ``foldcf`` either way
        c = self.get_cf()
        new = self.op2("or", self.op2("and", self.ccv("fl"), ~F.CF), c)
        self.cc["fl"] = new
        folded = "fl" not in self.cc_pend
        self.cc_pend.add("fl")
        self.fl_fold = c if (folded and c is not None) else None

    # -- control -----------------------------------------------------------------------
    def jump(self, ip) -> None:
        self.jump_to = ip
        self.branch_cond = None

    def branch(self, c, target: int) -> None:
        if isinstance(c, Temp):
            self.branch_cond = (c, target)
        elif c:
            self.jump_to = target
        else:
            self.jump_to = self.insn.next_ip   # a branch ends the block either way


def _no_df(v) -> bool:
    """The value has no DF bit: a constant without it, a value narrower than
    it (a carry), or one masked without it."""
    if not isinstance(v, Temp):
        return not v & F.DF
    if v.bits is not None and (1 << v.bits) <= F.DF:
        return True
    op = v.op
    return op is not None and op.name == "and" and any(type(a) is int and a >= 0 and not a & F.DF
                                                       for a in op.args)


#: the inlinable semantics that change IP (emu/isa/x86/semantics/control.py);
#: every other control transfer is a helper
BLOCK_ENDS = frozenset(("JMP", "JCC", "CALL", "CALL_IND", "JMP_IND", "RET",
                        "LOOP", "LOOPE", "LOOPNE", "JCXZ"))
#: the REP string instructions a block runs itself (X86IRBuilder.rep_string)
REP_INLINE = frozenset(MOVES + ("CMPS", "SCAS"))
RAX, RCX, RSI, RDI = 0, 1, 6, 7


class X86Frontend(TranslatorFrontend):
    """What the translator engine gets from ``X86Target.ir_frontend(model)``:
    the IR description (``ir``), the block key (``tb_key``), a builder for
    each block (``builder(block, key)``: QEMU's ``init_disas_context``, with
    the stack size and 64-bit mode of the key), the memory-access model of a
    key (``mem_model``; ``fast_spaces`` and ``mark_safe_loads`` for a
    region's entry guard), and the engine's x86 hooks: when the dispatcher
    must let the interpreter run (``attention``), REP string instructions
    over RAM in one go (``fast_path``) and the iterations a REP helper may
    run at once (``helper_span``)."""

    flat = FLAT
    memory = X86Memory
    mark_safe_loads = staticmethod(mark_safe_loads)
    fast_path = staticmethod(string_fast)
    #: the instructions whose return site a region keeps inside (a RET comes back there)
    call_names = frozenset(("CALL", "CALL_IND"))
    #: the jumps through a register or memory (a region looks for their targets)
    indirect_names = frozenset(("CALL_IND", "JMP_IND"))
    #: state a fetch may change that ``emu translate``/``info tb`` put back (#PF's CR2)
    fault_regs = ("cr2",)

    def __init__(self, model):
        self.model = model
        self.ir = X86_IR

    @staticmethod
    def namespace(state, ram) -> dict:
        """The names generated code reads besides ``S``, ``MM`` and ``CP``."""
        return {"R": state.regs, "SEGS": state.segs}

    @staticmethod
    def watch_tlb(ops, fn):
        """Call ``fn`` on every TLB flush; returns the core's own hook (called by ``fn``)."""
        old = ops.on_tlb_flush
        ops.on_tlb_flush = fn
        return old

    @staticmethod
    def tb_key(core, ip: int, cap: int) -> tuple:
        """(CS base, IP, decode mode, SS size (bit 0) and real mode (bit 1),
        paging, cap).  Paging: 0 off, 1 supervisor, 2 user."""
        s = core.s
        pg = 0 if core.ops.translate is None else 2 if s.cpl == 3 else 1
        return (core.cs_base, ip, core.code_key, s.segs[SS].db | (not s.cr0 & 1) << 1, pg, cap)

    def mem_model(self, core, key):
        pg = key[4]
        if not pg:
            return FLAT
        tr = core.ops.translate
        return X86Memory(long64=key[2][0], paged=True, user=pg == 2,
                         lin_mask=(1 << 64) - 1 if tr.mode == "4level" else 0xFFFFFFFF)

    def builder(self, block: IRBlock, key) -> X86IRBuilder:
        # (a REP runs in the block without paging, and not one iteration per
        # step: a one-instruction block, -one-insn-per-tb or single-stepping,
        # leaves it to the slow path, which runs one iteration per step)
        return X86IRBuilder(block, self.model, bool(key[3] & 1), key[2][0], bool(key[3] & 2),
                            rep_inline=not key[4] and key[-1] > 1)

    @staticmethod
    def ends_block(insn) -> bool:
        """The instruction ends a block (a control transfer or a helper; a
        REP string instruction the block runs itself does not)."""
        if insn.repeats and insn.name in REP_INLINE:
            return False
        return insn.helper or insn.name in BLOCK_ENDS

    @staticmethod
    def deliberate_helper(insn) -> bool:
        """Registered as a helper (not inlining it is no fallback)."""
        return insn.helper

    @staticmethod
    def fast_spaces(state, ram_size: int, amask: int, code_map=None) -> dict:
        """The segments whose 16-bit accesses a region may leave unchecked."""
        fast = {}
        for n, sg in enumerate(state.segs):
            m = fast_segment(sg, ram_size, amask, code_map)
            if m is not None:
                fast[n] = m
        return fast

    @staticmethod
    def attention(core, interp):
        """A function true when the next instruction must run on the
        interpreter: HLT, an interrupt that may be taken (IF), TF, or an
        interrupt shadow to end."""
        s = core.s

        def check():
            fl = s.fl
            return s.halted or (interp.irq_line and fl & 0x200) or fl & 0x100 or s.inhibit_irq
        return check

    @staticmethod
    def helper_span(s, insn, left: int) -> int:
        """How many instructions the interpreter may run for the REP helper
        ``insn``: its remaining iterations."""
        return max(1, min(left, s.regs[1] & MASK[insn.asize]))


__all__ = ["X86IRBuilder", "X86Frontend"]
