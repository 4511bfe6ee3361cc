"""The A32 translator front end: ARM instructions turned into IR, block by block.

The target side of :mod:`emu.ir` for ARM (QEMU's ``target/arm/tcg/translate.c``
over ``tcg/``).  The A32 semantics (:mod:`emu.isa.arm.semantics`) branch in
Python on register values, so they cannot run on IR temporaries as x86's do;
:class:`ArmIRBuilder` translates the instructions a program spends its time
in -- each function below follows the same pseudocode (ARM DDI 0406C A8.8)
as its concrete twin, named in its docstring -- and everything else is ONE
generic helper: ``call_helper`` ends the block and the interpreter runs the
instruction with its own semantics (QEMU's ``helper_*``), so nothing is
modelled twice where it is not translated.

Translated inline:

* data processing (A5.2.1-A5.2.3) with the barrel shifter: immediate
  shifts inline, register-specified shifts too unless a logical operation's
  flags take the shifter's carry (then the pure helper ``shift_c``); the flags are computed eagerly (see :mod:`.ir_globals`),
  and a condition read in the block that set them is computed from the
  operands (``SUBS r2, r2, #1; BNE`` is ``r2 != 0``), and one on flags
  set before the block from masks of the CPSR word;
* MUL, MLA, MLS, UMULL, UMLAL, SMULL, SMLAL (A5.2.5);
* LDR/STR/LDRB/STRB and LDRH/STRH/LDRSB/LDRSH/LDRD/STRD in every
  addressing mode (A5.3, A5.2.8), LDM/STM (PUSH/POP) without ``^``
  (A5.5), through the RAM fast path of
  :class:`.ir_globals.ArmMemory` (anything else bails to the interpreter);
  an LDM's words, and the stack's (SP the base), are runs tested once
  (:mod:`.ir_globals`), other STMs and LDRD/STRD move words in pairs (one
  8-byte access, one check); an address is not reduced modulo 2^32 (nor an index shifted
  left into it), a wrapping one bails -- so a base written back after
  the access is near an address in RAM, and needs no reduction where RAM
  lies away from 0 and 2^32 (:meth:`ArmIRBuilder.near`); in a counted
  loop, the accesses whose base or index steps by the same amount every
  pass (``LDRB r3, [r0], #1``, ``STRB r2, [r0, #3]!``, ``STRB r1, [r8,
  r0]`` with ``ADD r0, r0, r3``, STM's pairs) are tested once for the next
  passes, their whole range plain RAM with no code in a store's
  (:meth:`emu.ir.codegen.RegionCodegen._range_plan`), and made with no test;
* B and BL (A8.8.18, A8.8.25), MOVW/MOVT, the zero/sign extensions, CLZ,
  NOP and the hints that do nothing;
* a computed PC (A2.3.1): BX, BLX (register), LDR or LDM of the PC
  (``POP {..., pc}``) and a data-processing write of r15 without S
  (``MOV pc, lr``) leave the block by an indirect exit, which a region
  follows to its known return sites (:mod:`emu.ir.codegen`); a target
  that is not word-aligned (interworking to Thumb) bails and the
  interpreter runs the instruction.

Conditional execution (A8.3): a branch is a conditional exit; any other
instruction is *predicated*: each value it writes is ``select(cond, new,
old)``, and each access it makes a predicated ``ld``/``st``, made only if
the condition holds (the block goes on either way, so ``STRHGT`` in a
bubble sort's inner loop ends neither the loop's block nor the flags its
comparison left as expressions, and ``CMP r0, #0; LDRNE r1, [r0]`` loads
nothing from a null pointer -- no bail to the interpreter).  One that also leaves the block (a
computed PC) goes *around*: the block leaves to the next instruction when
the condition fails, then runs it, and ends.

Helpers, ending the block (they may change the mode, the PC or the
instruction set): an exception return (``SUBS pc, lr``, ``LDM`` with
``^``), r15 as the register of a halfword, doubleword or multiply
operand or of a register-specified shift, MSR/MRS/CPS, SVC, BKPT, WFI,
coprocessor accesses, exclusives, SWP and every unallocated encoding.
Thumb state is not translated: each T16 instruction is a helper (the
interpreter runs it), a documented gap.

As on x86 an instruction commits at its end: register and flag writes are
buffered (reads see them) and emitted after its last memory access, so an
access that bails leaves the state as it was before the instruction (one
made only of pure operations writes a register where its value is made).

The flags, and what keeps them cheap in a loop: translated code changes
only N Z C V, so the rest of the CPSR is part of the block's key and a
flag-setting instruction writes it as a constant -- an instruction that
sets all four flags reads nothing of the CPSR, and flags set again before
anything reads them cost nothing (``Op.keeps``, :mod:`emu.ir.optimize`).
The flags of a comparison (``CMP r2, r10``), and of a counter
(``SUBS r2, r2, #1``: from the value r2 then holds), are expressions over
registers alone, which a region's loop keeps unevaluated (its loop peeling,
:mod:`emu.ir.codegen`) even where an access that may bail reads them.
"""

from __future__ import annotations

from ...ir.builder import TranslatorOps, bits_of
from ...ir.frontend import TranslatorFrontend
from ...ir.ir import IRBlock, NotInlinable, Temp
from ...ir.opcodes import COMPARISONS, OPCODES
from .ir_globals import ARM_IR, RAM, RAM_ALIGNED, RAM_STACK, ArmMemory
from . import semantics as S
from .semantics import LSL, LSR, ASR, ROR, ror32
from .state import I_BIT

M32 = 0xFFFFFFFF
SIGN = 0x80000000
NZCV = 0xF0000000
N_SHIFT, Z_SHIFT, C_SHIFT, V_SHIFT = 31, 30, 29, 28
_FLAG_SHIFT = {"n": N_SHIFT, "z": Z_SHIFT, "c": C_SHIFT, "v": V_SHIFT}

#: the instructions that always transfer control
BRANCHES = frozenset(("B", "BL", "BX", "BLX_reg"))
#: instruction name -> its translation (filled in by @translates below)
TRANSLATIONS: dict = {}


def translates(*names):
    def deco(fn):
        for n in names:
            TRANSLATIONS[n] = fn
        return fn
    return deco


def translates_like(sem_fn):
    """Translate every encoding whose semantics are ``sem_fn``."""
    return translates(*(n for n, f in S.REGISTRY.table.items() if f is sem_fn))


class ArmIRBuilder(TranslatorOps):
    """A32 over IR: registers, eager flags, memory and exits (see the module
    docstring); ``model`` is the CPU model, a translation-time constant."""

    def __init__(self, block: IRBlock, model, cpsr_rest: int, ram=None):
        super().__init__(block, ARM_IR)
        self.model = model
        self.cpsr_rest = cpsr_rest  # the CPSR but N Z C V: part of the block's key
        self.ram = ram              # RAM's (first, end) addresses, or None: see near
        self.known = {}           # reg -> its current value in this block
        self.pend = set()         # registers the current instruction wrote
        self.fl = None            # the CPSR as the block knows it (None: not read yet)
        self.fl_pend = False      # the current instruction wrote it
        self.flags = None         # {"n","z","c","v"[, "sub"]} of the last flag-setting insn
        self.exit = None          # the current instruction's control transfer
        self.stores = False       # the current instruction stores
        self.conds = ({}, None, None)   # condition code -> its value while the flags stay these

    # -- instruction boundaries --------------------------------------------------------
    def checkpoint(self):
        return (len(self.block.ops), self.ntemps, dict(self.known), self.fl, self.flags)

    def rollback(self, cp) -> None:
        n, nt, self.known, self.fl, self.flags = cp
        del self.block.ops[n:]
        self.conds = ({}, None, None)       # (values made by the ops just dropped)
        self.ntemps = nt
        self.pend = set()
        self.fl_pend = False
        self.exit = None

    def translate_insn(self, k: int, w) -> bool:
        """Emit instruction ``k`` (a CoreInsn): inline when it has a
        translation and its condition allows, else the helper."""
        self.insn_start(k, w)
        self.mark = len(self.block.ops)
        self.pend, self.fl_pend, self.exit, self.stores = set(), False, None, False
        i = w.insn
        fn = TRANSLATIONS.get(i.name) if w.pc_read == 8 else None
        if fn is None:
            self.fallback_reason = "Thumb state" if w.pc_read != 8 else f"{i.name} has no translation"
        elif i.cond == 0xF:
            self.fallback_reason = "condition NV"
        else:
            cp = self.checkpoint()
            try:
                self._conditional(fn, w, i)
                return True
            except NotInlinable as e:
                self.rollback(cp)
                self.fallback_reason = str(e)
        self.emit("call_helper", aux=(k, i.name), out=False)
        self.ended = True
        return False

    def _conditional(self, fn, w, i) -> None:
        if i.cond == 0xE:
            fn(self, i)
            self.commit()
            return
        c = self.cond(i.cond)
        if not isinstance(c, Temp):                 # known when translated (MOVS r0, #0; MOVEQ)
            if c:
                fn(self, i)
            self.commit()
            return
        mark = len(self.block.ops)                  # the instruction's own operations follow
        before = (dict(self.known), self.fl, self.flags)
        fn(self, i)
        if fn is b_bl:
            self._predicate(c, before)             # BL's link register
            self.exit = ("cond", c, self.exit[1])
        elif self.exit is None:
            # its accesses are made only if the condition holds (a predicated
            # ``ld``/``st``, inside the block: a load of a null pointer that
            # the condition rules out leaves nothing), its register writes
            # predicated
            for op in self.block.ops[mark:]:
                if op.name in ("ld", "st"):
                    op.args.append(c)
            self._predicate(c, before)
        else:
            # around (a computed PC): leave for the next instruction when the
            # condition fails (before the instruction's own operations, after
            # the condition's)
            tail = self.block.ops[mark:]
            del self.block.ops[mark:]
            self.emit("brcond", (self.lnot(c),), (0, w.next_ip), out=False)
            self.block.ops.extend(tail)
        self.commit()

    def _predicate(self, c, before) -> None:
        """Each value the instruction wrote becomes select(c, new, old)."""
        known, fl, flags = before
        for n in self.pend:
            old = known.get(n)
            if old is None:
                old = self._getr(n)
            self.known[n] = self.select(c, self.known[n], old)
        if self.fl_pend:
            if fl is None:
                fl = self.emit("getcc", aux=("fl",), bits=32)
            new = self.flags
            self.fl = self.select(c, self.fl, fl)
            self.flags = None
            if new is not None:
                # each flag the instruction set is select(c, new, old) too:
                # a condition read later takes its flag alone (``CMP r1,
                # #1 << 28; CMPCC r1, r0; BCC``: C as a choice of two
                # comparisons), not a mask of the chosen CPSR word
                old = flags or {}
                self.flags = {f: self.select(c, v, old[f] if f in old else self._word_flag(fl, f))
                              for f, v in new.items() if f != "sub"}

    def commit(self) -> None:
        x = self.exit
        if x is not None and x[0] == "indirect":
            # a PC that is not word-aligned (interworking to Thumb, or the
            # UNPREDICTABLE bit 1): the interpreter runs the instruction
            self.emit("bailif", (self.op2("and", x[1], 3),), out=False)
        for n in sorted(self.pend):
            self.emit("setr", (self.known[n],), (n, 8), out=False)
            self._write_early(n)
        self.pend = set()
        if self.fl_pend:
            self.emit("setfl", (self.fl,), out=False)
            # only N Z C V change in translated code: every other bit is the
            # block's key (Op.keeps, emu.ir.optimize)
            self.block.ops[-1].keeps = self.cpsr_rest
            self.fl_pend = False
        if x is None:
            return
        if x[0] == "indirect":
            self.emit("exit_tb", (x[1],), out=False)
        elif x[0] == "cond":
            self.emit("brcond", (x[1],), (0, x[2]), out=False)
            self.emit("goto_tb", aux=(1, self.insn.next_ip), out=False)
        else:
            self.emit("goto_tb", aux=(0, x[1]), out=False)
        self.ended = True

    def _write_early(self, n: int) -> None:
        """Move the register write just emitted up to where its value is
        made, when only pure operations of this instruction lie between (no
        access, exit or call can see the register early) and none of them
        reads the register: the value then lives in the register's local,
        and the flags computed from it (SUBS r2, r2, #1) are expressions over
        registers, which a loop can keep unevaluated as for a comparison."""
        ops = self.block.ops
        v = self.known[n]
        at = self.mark
        for j in range(self.mark, len(ops) - 1):
            o = ops[j]
            if not OPCODES[o.name].pure:
                return
            if o.out is v:
                at = j + 1
        if any(o.name == "getr" and o.aux[0] == n for o in ops[at:-1]):
            return
        ops.insert(at, ops.pop())

    # -- registers ---------------------------------------------------------------------
    def _getr(self, n: int):
        return self.emit("getr", aux=(n, 8), bits=32)

    def reg(self, n: int):
        """r15 reads as the instruction's address + 8 (A2.3)."""
        if n == 15:
            return (self.insn.ip + 8) & M32
        v = self.known.get(n)
        if v is None:
            v = self.known[n] = self._getr(n)
        return v

    def reg_late(self, n: int):
        """ArmOps.reg_late: r15 in a later cycle (+12 on the ARM7TDMI)."""
        if n == 15:
            return (self.insn.ip + self.model.pc_late_offset) & M32
        return self.reg(n)

    def set_reg(self, n: int, v) -> None:
        if n == 15:
            raise NotInlinable("writes the PC")
        bits = bits_of(v)
        # a value known to fit is kept as it is (one temp for the register
        # and for the flags computed from it)
        self.known[n] = v if bits is not None and bits <= 32 else self.op2("and", v, M32)
        self.pend.add(n)

    # -- flags (eager: the CPSR word) --------------------------------------------------
    def _getfl(self):
        if self.fl is None:
            self.fl = self.emit("getcc", aux=("fl",), bits=32)
        return self.fl

    def flag(self, f: str):
        """Flag ``f`` (n, z, c, v) as 0/1, from the instruction that set it in
        this block or from the CPSR."""
        fs = self.flags
        if fs is not None and f in fs:
            return fs[f]
        return self._word_flag(self._getfl(), f)

    def _word_flag(self, word, f: str):
        """Flag ``f`` (0/1) of the CPSR word ``word``."""
        return self.op2("and", self.op2("shr", word, _FLAG_SHIFT[f]), 1)

    def is_set(self, f: str):
        """Flag ``f`` as a boolean: a comparison as it is (Z of ``r == 0``)."""
        v = self.flag(f)
        if isinstance(v, Temp) and v.op is not None and v.op.name in COMPARISONS:
            return v
        return self.op2("ne", v, 0)

    def _flag_bit(self, f: str, val):
        """Flag ``f`` (0/1) in its CPSR bit; N of a 32-bit result r
        (``r >> 31``) is ``r & 1 << 31`` -- unless r is what a register
        receives, which the flags keep naming as it is (the register's
        local, see :func:`_counter_flags`)."""
        d = val.op if isinstance(val, Temp) else None
        if f == "n" and d is not None and d.name == "shr" and d.args[1] == 31:
            r = d.args[0]
            bits = bits_of(r)
            if bits is not None and bits <= 32 and all(r is not k for k in self.known.values()):
                return self.op2("and", r, SIGN)
        return self.op2("shl", val, _FLAG_SHIFT[f])

    def set_nzcv(self, n, z, c=None, v=None, sub=None) -> None:
        """ArmOps.set_nzcv: None leaves a flag as it is; ``sub`` = (a, b) when
        the four flags are those of a - b (conditions then compare a and b)."""
        new = {"n": n, "z": z, "c": c, "v": v}
        keep = NZCV
        word = self.cpsr_rest
        for f, val in new.items():
            if val is not None:
                keep &= ~(1 << _FLAG_SHIFT[f])
                word = self.op2("or", word, self._flag_bit(f, val))
        old = self.flags or {}
        flags = {f: (val if val is not None else old.get(f)) for f, val in new.items()}
        self.flags = {f: val for f, val in flags.items() if val is not None}
        if sub is not None:
            self.flags["sub"] = sub
        # the flags it leaves as they were, and the rest from the block's key
        self.fl = self.op2("or", self.op2("and", self._getfl(), keep), word) if keep else word
        self.fl_pend = True

    def cond(self, cc: int):
        """ConditionPassed (A8.3, Table A8-1) as an IR boolean: one value for
        each condition while the flags stay the same (``MOVGT``, ``STRHGT``,
        ``STRHGT``: the comparison made once)."""
        made, flags, fl = self.conds
        if flags is not self.flags or fl is not self.fl:
            made = {}
            self.conds = (made, self.flags, self.fl)
        r = made.get(cc)
        if r is None:
            r = made[cc] = self._cond(cc)
        return r

    def _cond(self, cc: int):
        base = cc >> 1
        sub = self.flags.get("sub") if self.flags is not None else None
        if sub is not None and base in (0, 1, 4, 5, 6):
            a, b = sub
            if base == 0:
                r = self.op2("eq", a, b)
            elif base == 1:
                r = self.op2("ge", a, b)
            elif base == 4:
                r = self.op2("gt", a, b)
            else:
                sa, sb = self.op2("xor", a, SIGN), self.op2("xor", b, SIGN)
                r = self.op2("ge", sa, sb) if base == 5 else self.op2("gt", sa, sb)
        elif self.flags is None:
            r = self._cond_of_word(base)
        elif base < 4:
            r = self.is_set("zcnv"[base])
        elif base == 4:
            r = self.op2("and", self.is_set("c"), self.lnot(self.is_set("z")))
        elif base == 5:
            r = self.op2("eq", self.flag("n"), self.flag("v"))
        else:
            r = self.op2("and", self.op2("eq", self.flag("n"), self.flag("v")),
                         self.op2("eq", self.flag("z"), 0))
        return self.lnot(r) if cc & 1 else r

    def _cond_of_word(self, base: int):
        """Condition ``base`` (EQ, CS, MI, VS, HI, GE, GT: Table A8-1) on the
        flags of the CPSR word, none set in this block: masks of the word
        rather than each flag shifted out (HI is C set and Z clear, one
        mask and a compare; N == V is bit 31 of fl ^ fl << 3)."""
        op2 = self.op2
        fl = self._getfl()
        if base < 4:
            return op2("ne", op2("and", fl, 1 << _FLAG_SHIFT["zcnv"[base]]), 0)
        if base == 4:
            c, z = 1 << C_SHIFT, 1 << Z_SHIFT
            return op2("eq", op2("and", fl, c | z), c)
        n_ne_v = op2("and", op2("xor", fl, op2("shl", fl, N_SHIFT - V_SHIFT)), SIGN)
        if base == 5:
            return op2("eq", n_ne_v, 0)
        return op2("eq", op2("or", n_ne_v, op2("and", fl, 1 << Z_SHIFT)), 0)

    # -- memory ------------------------------------------------------------------------
    # An address is not reduced modulo 2^32: one that wraps (below 0 or from
    # 2^32 up) is outside RAM as it stands, so the access bails and the
    # interpreter runs the instruction with the address it really means.
    # ``stack``: a word based on SP, in the stack's space (see :mod:`.ir_globals`)
    def load(self, addr, size: int, aligned: bool = False, stack: bool = False):
        space = RAM_ALIGNED if aligned else RAM_STACK if stack else RAM
        return self.emit("ld", (addr,), (space, size), bits=8 * size)

    def store(self, addr, size: int, v, stack: bool = False) -> None:
        self.stores = True
        bits = bits_of(v)
        if bits is None or bits > 8 * size:
            v = self.op2("and", v, (1 << (8 * size)) - 1)
        self.emit("st", (addr, v), (RAM_STACK if stack else RAM, size), out=False)

    def near(self, name: str, addr, offset, lo: int, hi: int):
        """The base written back by a load or store (``name``: ``add`` or
        ``sub`` of ``addr`` and ``offset``), whose access found its address
        in RAM: within ``lo`` .. ``hi`` bytes of an address the access
        reached (A8.6.58 LDR and its kin: the write-back commits after the
        access, which bails outside RAM).  Where RAM lies at least that far
        from 0 and from 2^32 the sum cannot wrap, and it is kept as it is --
        no mask, no compare in the code (``r13 = r13 - 8``); elsewhere it is
        reduced modulo 2^32."""
        ram = self.ram
        if ram is not None and ram[0] + lo >= 0 and ram[1] + hi <= M32 + 1:
            return self.emit(name, (addr, offset), bits=32)
        return self.op2("and", self.op2(name, addr, offset), M32)

    # -- control -------------------------------------------------------------------------
    def jump(self, target: int) -> None:
        self.exit = ("goto", target)

    def write_pc(self, v) -> None:
        """A computed PC (BX, BLX, LDR/LDM of the PC, an ALU write; ArmOps.write_pc
        with any ``how``): a word-aligned ARM-state target leaves the block
        to it; any other is the interpreter's (see commit)."""
        if isinstance(v, Temp):
            self.exit = ("indirect", v)
        elif v & 3:
            raise NotInlinable("a PC that is not word-aligned")
        else:
            self.exit = ("goto", v)


# -- the barrel shifter (semantics.shift_imm / expand_imm_c, A8.4.3) --------------------
def _shr(b: ArmIRBuilder, v, n: int):
    """v >> n; of a value shifted left by n and cut to 32 bits (the
    zero-extension idiom ``LSL #16; LSR #16``), its low bits as they were."""
    d = v.op if isinstance(v, Temp) else None
    if d is not None and d.name == "and" and d.args[1] == M32 and isinstance(d.args[0], Temp):
        s = d.args[0].op
        if s is not None and s.name == "shl" and s.args[1] == n:
            return b.op2("and", s.args[0], M32 >> n)
    return b.op2("shr", v, n)


def _unmasked(v):
    """An LSL's ``(x << n) & 0xFFFFFFFF`` without its mask: as good as the
    masked value where only the sum or difference modulo 2^32 matters (a
    result cut to 32 bits, or an address, which leaves RAM when it
    exceeds 2^32 either way), one operation less."""
    d = v.op if isinstance(v, Temp) else None
    if d is not None and d.name == "and" and d.args[1] == M32 and isinstance(d.args[0], Temp):
        s = d.args[0].op
        if s is not None and s.name == "shl":
            return d.args[0]
    return v


def shift_imm(b: ArmIRBuilder, v, stype: int, imm5: int):
    """(result, carry out) of an immediate shift as encoded; carry None: unchanged."""
    op2 = b.op2
    if stype == LSL:
        if imm5 == 0:
            return v, None
        return op2("and", op2("shl", v, imm5), M32), op2("and", op2("shr", v, 32 - imm5), 1)
    if stype == ROR and imm5 == 0:          # RRX
        return op2("or", op2("shl", b.flag("c"), 31), op2("shr", v, 1)), op2("and", v, 1)
    n = imm5 or 32
    if stype == LSR:
        if n == 32:
            return 0, op2("shr", v, 31)
        return _shr(b, v, n), op2("and", op2("shr", v, n - 1), 1)
    if stype == ASR:
        sign = op2("shr", v, 31)
        if n == 32:
            return op2("mul", sign, M32), sign
        signed = op2("sub", v, op2("shl", sign, 32))
        return op2("and", op2("shr", signed, n), M32), op2("and", op2("shr", v, n - 1), 1)
    return (op2("and", op2("or", op2("shr", v, n), op2("shl", v, 32 - n)), M32),
            op2("and", op2("shr", v, n - 1), 1))


def _alu(b: ArmIRBuilder, op: str, a, v, sc):
    """(result, carry, overflow, sub) of data-processing operation ``op`` on a
    and the shifter's output v (carry sc; None: the C flag unchanged); sub as
    for :meth:`ArmIRBuilder.set_nzcv`."""
    op2 = b.op2
    if op in ("AND", "TST"):
        return op2("and", a, v), sc, None, None
    if op in ("EOR", "TEQ"):
        return op2("xor", a, v), sc, None, None
    if op == "ORR":
        return op2("or", a, v), sc, None, None
    if op == "MOV":
        return v, sc, None, None
    if op == "BIC":
        return op2("and", a, op2("xor", v, M32)), sc, None, None
    if op == "MVN":
        return op2("xor", v, M32), sc, None, None
    if op in ("SUB", "CMP", "RSB"):
        x, y = (a, v) if op != "RSB" else (v, a)
        r = op2("and", op2("sub", x, y), M32)
        return r, op2("ge", x, y), op2("shr", op2("and", op2("xor", x, y), op2("xor", x, r)), 31), (x, y)
    # AddWithCarry (A2.2.1): ADD/CMN x + y, ADC x + y + C, SBC/RSC x + ~y + C
    x, y = (v, a) if op == "RSC" else (a, v)
    if op in ("SBC", "RSC"):
        y = op2("xor", y, M32)
    u = op2("add", x, y)
    if op != "ADD" and op != "CMN":
        u = op2("add", u, b.flag("c"))
    r = op2("and", u, M32)
    return r, op2("shr", u, 32), op2("shr", op2("and", op2("xor", x, r), op2("xor", y, r)), 31), None


def _counter_flags(b: ArmIRBuilder, op: str, r, v: int):
    """(C, V) of ``ADDS/SUBS rd, rd, #v`` from its result r (A2.2.1); the old
    value x (r + v, or r - v) is built once for each use, so that neither is
    computed unless the flags are."""
    op2 = b.op2

    def x():
        return op2("and", op2("add", r, v) if op == "SUB" else op2("sub", r, v), M32)
    if op == "SUB":     # no borrow when x >= v, that is r <= 2^32 - 1 - v
        return op2("le", r, M32 - v), op2("shr", op2("and", op2("xor", x(), v), op2("xor", x(), r)), 31)
    # x + v = r: a carry out when r < v
    return op2("lt", r, v), op2("shr", op2("and", op2("xor", x(), r), op2("xor", v, r)), 31)


def _dp(b: ArmIRBuilder, i, a, v, sc) -> None:
    """semantics._dp: one data-processing operation on a and the shifter's
    output v (carry sc; None: the C flag unchanged)."""
    op = i.name[:3]
    test = op in ("TST", "TEQ", "CMP", "CMN")
    setflags = test or i.s
    if i.rd == 15 and setflags:
        raise NotInlinable("an exception return (or flags and the PC)")
    if not setflags and op in ("ADD", "SUB", "RSB"):
        v = _unmasked(v)
    r, c, overflow, sub = _alu(b, op, a, v, sc)
    if i.rd == 15:
        b.write_pc(r)
    elif not test:
        b.set_reg(i.rd, r)
    if setflags:
        z = b.op2("eq", r, 0)
        if test:
            # a comparison's result is only its flags: each flag gets an
            # expression of its own over the operands, so that a loop ending
            # in the comparison keeps its flags unevaluated (the region's
            # loop peeling, emu.ir.codegen) instead of computing them on
            # every pass
            z = b.op2("eq", *sub) if sub is not None else b.op2("eq", _alu(b, op, a, v, sc)[0], 0)
            overflow = _alu(b, op, a, v, sc)[2]
        elif i.rd == i.rn != 15 and isinstance(v, int) and op in ("ADD", "SUB"):
            # a counter (SUBS r2, r2, #1): the flags over the value the
            # register then holds, so that a loop ending in it keeps them
            # unevaluated as for a comparison; the old value is r -+ v
            (c, overflow), sub = _counter_flags(b, op, r, v), None
        b.set_nzcv(b.op2("shr", r, 31), z, c, overflow, sub)


def _dp_names(form):
    from .table import DP_OPS
    return [op + form for op in DP_OPS]


#: the data-processing instructions, which may write r15 (a computed PC, A2.3.1)
_PC_WRITERS = frozenset(_dp_names("_imm") + _dp_names("_reg") + _dp_names("_rsr"))


@translates(*_dp_names("_imm"))
def dp_imm(b, i):
    """semantics._dp_imm: ARMExpandImm_C (A5.2.4)."""
    v = ror32(i.imm, 2 * i.rot)
    _dp(b, i, b.reg(i.rn), v, (v >> 31) if i.rot else None)


@translates(*_dp_names("_reg"))
def dp_reg(b, i):
    v, sc = shift_imm(b, b.reg(i.rm), i.stype, i.imm)
    _dp(b, i, b.reg(i.rn), v, sc)


#: the data-processing operations whose flags take C from the shifter (A5.2.1)
LOGICAL = frozenset(("AND", "EOR", "ORR", "MOV", "BIC", "MVN", "TST", "TEQ"))


def shift_reg(b: ArmIRBuilder, v, stype: int, n):
    """The result of a register-specified shift of v by n = Rs[7:0]
    (semantics.shift_reg, A8.4.3; its carry left out): Python's shifts
    give every amount up to 255 its meaning -- LSL and LSR by 32 or more
    leave 0, ASR the sign, ROR turns by n mod 32."""
    op2 = b.op2
    if stype == LSL:
        return op2("and", op2("shl", v, n), M32)
    if stype == LSR:
        return op2("shr", v, n)
    if stype == ASR:
        return op2("and", op2("shr", _signed32(b, v), n), M32)
    k = op2("and", n, 31)
    return op2("and", op2("or", op2("shr", v, k), op2("shl", v, op2("sub", 32, k))), M32)


@translates(*_dp_names("_rsr"))
def dp_rsr(b, i):
    """semantics._dp_rsr: the amount is Rs[7:0].  A logical operation that
    sets the flags takes C from the shifter: the shift is then the pure
    helper; any other needs the result alone, made inline."""
    if 15 in (i.rn, i.rm, i.rs, i.rd):
        raise NotInlinable("r15 in a register-shifted operation")
    op = i.name[:3]
    n = b.op2("and", b.reg(i.rs), 0xFF)
    if op in LOGICAL and (i.s or op in ("TST", "TEQ")):
        t = b.call_pure("shift_c", b.reg(i.rm), i.stype, n, b.flag("c"))
        _dp(b, i, b.reg(i.rn), b.op2("and", t, M32), b.op2("shr", t, 32))
    else:
        _dp(b, i, b.reg(i.rn), shift_reg(b, b.reg(i.rm), i.stype, n), None)


# -- multiply (semantics.mul / mull, A5.2.5) ----------------------------------------------
def _no_pc(*regs):
    if 15 in regs:
        raise NotInlinable("r15 as a multiply operand")


@translates_like(S.mul)
def mul(b, i):
    _no_pc(i.rd, i.rn, i.rm, *((i.ra,) if i.name != "MUL" else ()))
    p = b.op2("mul", b.reg(i.rn), b.reg(i.rm))
    if i.name == "MLA":
        p = b.op2("add", p, b.reg(i.ra))
    elif i.name == "MLS":
        p = b.op2("sub", b.reg(i.ra), p)
    r = b.op2("and", p, M32)
    b.set_reg(i.rd, r)
    if i.s:
        b.set_nzcv(b.op2("shr", r, 31), b.op2("eq", r, 0))


def _signed32(b, v):
    return b.op2("sub", b.op2("xor", v, SIGN), SIGN)


@translates_like(S.mull)
def mull(b, i):
    _no_pc(i.rdlo, i.rdhi, i.rn, i.rm)
    x, y = b.reg(i.rn), b.reg(i.rm)
    if i.name[0] == "S":
        x, y = _signed32(b, x), _signed32(b, y)
    p = b.op2("mul", x, y)
    if i.name[3] == "A":
        p = b.op2("add", p, b.op2("or", b.op2("shl", b.reg(i.rdhi), 32), b.reg(i.rdlo)))
    p = b.op2("and", p, (1 << 64) - 1)
    b.set_reg(i.rdlo, b.op2("and", p, M32))
    b.set_reg(i.rdhi, b.op2("shr", p, 32))
    if i.s:
        b.set_nzcv(b.op2("shr", p, 63), b.op2("eq", p, 0))


# -- load/store (semantics.bind_ldr_str / bind_extra / ldm_stm, A5.3, A5.2.8, A5.5) -------
def _address(b, i, offset, reduced=False):
    """(access address, not reduced modulo 2^32 (ArmIRBuilder.load),
    written-back address, writeback?).  ``reduced``: the access is made at
    the address reduced modulo 2^32 (ARMv4's word store at the address
    rounded down), so its write-back can wrap however RAM lies."""
    base = b.reg(i.rn)
    name = "add" if i.u else "sub"
    raw = b.op2(name, base, offset)
    if reduced:
        return (raw, b.op2("and", raw, M32), bool(i.w)) if i.p else (base, b.op2("and", raw, M32), True)
    if i.p:
        # the address accessed itself
        return raw, (b.near(name, base, offset, 0, 0) if i.w else None), bool(i.w)
    if isinstance(offset, int):
        # the address accessed, +- an immediate offset
        d = offset if i.u else -offset
        return base, b.near(name, base, offset, min(d, 0), max(d, 0)), True
    return base, b.op2("and", raw, M32), True


def _store_value(b, n):
    return b.reg_late(n) if n == 15 else b.reg(n)


def _finish_load(b, i, wb, wb_addr, v):
    if wb:
        b.set_reg(i.rn, wb_addr)
    if i.rt == 15:
        b.write_pc(v)
    else:
        b.set_reg(i.rt, v)


def _ldr_str(b, i, offset):
    name = i.name[:4].rstrip("_")
    unaligned = b.model.unaligned
    addr, wb_addr, wb = _address(b, i, offset, reduced=name == "STR" and not unaligned)
    stack = i.rn == 13
    if name in ("STR", "STRB"):
        v = _store_value(b, i.rt)
        if name == "STRB":
            b.store(addr, 1, v)
        else:
            b.store(addr if unaligned else b.op2("and", addr, ~3 & M32), 4, v, stack)
        if wb:
            b.set_reg(i.rn, wb_addr)
        return
    v = b.load(addr, 1) if name == "LDRB" else b.load(addr, 4, aligned=not unaligned, stack=stack)
    _finish_load(b, i, wb, wb_addr, v)


@translates_like(S.ldr_str_imm)
def ldr_str_imm(b, i):
    _ldr_str(b, i, i.imm)


@translates_like(S.ldr_str_reg)
def ldr_str_reg(b, i):
    off, _ = shift_imm(b, b.reg(i.rm), i.stype, i.imm)
    _ldr_str(b, i, _unmasked(off))


def _extra(b, i, offset):
    name = i.name[:-4]
    if name in ("LDRD", "STRD") and (i.rt & 1 or i.rt == 14):
        raise NotInlinable(f"{name} with Rt = r{i.rt} (UNDEFINED here)")
    if i.rt == 15:
        raise NotInlinable("r15 as a halfword or doubleword transfer register")
    v4 = not b.model.unaligned
    addr, wb_addr, wb = _address(b, i, offset, reduced=name == "STRH" and v4)
    if name in ("STRH", "STRD"):
        if name == "STRH":
            b.store(b.op2("and", addr, ~1 & M32) if v4 else addr, 2, b.reg(i.rt))
        else:
            _store_words(b, addr, [b.reg(i.rt), b.reg(i.rt + 1)], i.rn == 13)
        if wb:
            b.set_reg(i.rn, wb_addr)
        return
    if name == "LDRD":
        lo, hi = _load_words(b, addr, 2, i.rn == 13)
        if wb:
            b.set_reg(i.rn, wb_addr)
        b.set_reg(i.rt, lo)
        b.set_reg(i.rt + 1, hi)
        return
    if name == "LDRH":
        v = b.load(addr, 2, aligned=v4)
    elif name == "LDRSB":
        v = b.op2("sub", b.op2("xor", b.load(addr, 1), 0x80), 0x80)
    else:
        v = b.op2("sub", b.op2("xor", b.load(addr, 2, aligned=v4), 0x8000), 0x8000)
    _finish_load(b, i, wb, wb_addr, b.op2("and", v, M32))


@translates_like(S.extra_imm)
def extra_imm(b, i):
    _extra(b, i, i.imm)


@translates_like(S.extra_reg)
def extra_reg(b, i):
    _extra(b, i, b.reg(i.rm))


def _load_words(b, addr, n: int, stack: bool) -> list:
    """n consecutive words from ``addr``: with ``stack``, one by one in the
    stack's space (a run of loads, tested once: :mod:`.ir_globals`), else
    two at a time (one access and one check of RAM for a pair;
    little-endian, the first word in the low half)."""
    if stack:
        return [b.load(b.op2("add", addr, 4 * k), 4, stack=True) for k in range(n)]
    values = []
    for k in range(0, n, 2):
        a = b.op2("add", addr, 4 * k)
        if k + 1 < n:
            pair = b.load(a, 8)
            values += [b.op2("and", pair, M32), b.op2("shr", pair, 32)]
        else:
            values.append(b.load(a, 4))
    return values


def _plus(b, addr, d: int):
    """addr + d, a constant added to or taken from a value made so folded
    into one operation (a PUSH's top word: SP - 4n + 4(n - 1) is SP - 4)."""
    o = addr.op if isinstance(addr, Temp) else None
    if o is not None and o.name in ("add", "sub") and type(o.args[1]) is int:
        d += o.args[1] if o.name == "add" else -o.args[1]
        addr = o.args[0]
    return b.op2("add", addr, d) if d >= 0 else b.op2("sub", addr, -d)


def _store_words(b, addr, values, stack: bool) -> None:
    """_load_words' counterpart: the words ``values`` stored from ``addr``
    (on the stack one by one from the top down, as a PUSH writes: a run of
    stores, tested once in the region's code-free window: :mod:`.ir_globals`)."""
    if stack:
        last = len(values) - 1
        top = _plus(b, addr, 4 * last)
        for k in range(last, -1, -1):
            b.store(b.op2("sub", top, 4 * (last - k)), 4, values[k], stack=True)
        return
    for k in range(0, len(values), 2):
        a = b.op2("add", addr, 4 * k)
        if k + 1 < len(values):
            b.store(a, 8, b.op2("or", values[k], b.op2("shl", values[k + 1], 32)))
        else:
            b.store(a, 4, values[k])


@translates_like(S.ldm_stm)
def ldm_stm(b, i):
    regs = [k for k in range(16) if i.regs >> k & 1]
    load = i.name == "LDM"
    if not regs or i.user:
        raise NotInlinable("an empty list or ^")
    n = len(regs)
    base = b.reg(i.rn)
    # the base written back is within 4 bytes of the words accessed
    if i.u:
        start = b.op2("add", base, 4 if i.p else 0)
        wb = b.near("add", base, 4 * n, -4, 4 * n)
    else:
        start = b.op2("add", b.op2("sub", base, 4 * n), 0 if i.p else 4)
        wb = b.near("sub", base, 4 * n, -4, 4 * n)
    if not load:
        _store_words(b, start, [wb if (r == i.rn and i.w and k > 0) else _store_value(b, r)
                                for k, r in enumerate(regs)], i.rn == 13)
        if i.w:
            b.set_reg(i.rn, wb)
        return
    values = _load_words(b, start, n, True)      # (a run, whatever the base)
    if i.w:
        b.set_reg(i.rn, wb)
    for r, v in zip(regs, values):
        if r == 15:
            b.write_pc(v)
        else:
            b.set_reg(r, v)


@translates_like(S.bx)
def bx(b, i):
    b.write_pc(b.reg(i.rm))


@translates_like(S.blx_reg)
def blx_reg(b, i):
    target = b.reg(i.rm)
    b.set_reg(14, (b.insn.ip + 4) & M32)
    b.write_pc(target)


# -- branches (semantics.b_bl, A8.8.18, A8.8.25) --------------------------------------------
@translates_like(S.b_bl)
def b_bl(b, i):
    imm = i.imm - (1 << 24) if i.imm >> 23 & 1 else i.imm
    target = (b.insn.ip + 8 + (imm << 2)) & M32
    if i.name == "BL":
        b.set_reg(14, (b.insn.ip + 4) & M32)
    if b.model.arch >= 5:
        target &= ~3
    b.jump(target)


# -- the rest (semantics: movw, movt, extend, clz, nop) ---------------------------------------
@translates_like(S.movw)
def movw(b, i):
    b.set_reg(i.rd, i.imm)


@translates_like(S.movt)
def movt(b, i):
    b.set_reg(i.rd, b.op2("or", b.op2("and", b.reg(i.rd), 0xFFFF), i.imm << 16))


@translates("SXTB", "SXTH", "UXTB", "UXTH", "SXTAB", "SXTAH", "UXTAB", "UXTAH")
def extend(b, i):
    v = b.reg(i.rm)
    if i.xrot:
        n = 8 * i.xrot
        v = b.op2("and", b.op2("or", b.op2("shr", v, n), b.op2("shl", v, 32 - n)), M32)
    bits = 8 if i.name[-1] == "B" else 16
    x = b.op2("and", v, (1 << bits) - 1)
    if i.name[0] == "S":
        top = 1 << (bits - 1)
        x = b.op2("sub", b.op2("xor", x, top), top)
    if i.name[3] == "A":
        x = b.op2("add", b.reg(i.rn), x)
    b.set_reg(i.rd, x)


@translates_like(S.nop)
def nop(b, i):
    pass


class ArmFrontend(TranslatorFrontend):
    """What the translator engine gets from ``ArmTarget.ir_frontend(model)``
    (:class:`emu.ir.frontend.TranslatorFrontend`): the key of a block is
    (0, PC, the Target's ``tb_flags`` -- Thumb bit and mode -- and the whole
    CPSR but N Z C V (which translated code never changes: a flag-setting
    instruction writes the rest as a constant), RAM's (first, end) addresses
    (a base written back after an access to RAM cannot wrap where RAM lies
    away from 0 and 2^32: ``ArmIRBuilder.near``), 0, cap);
    there is no MMU and no segment, and the dispatcher must let the
    interpreter run while the CPU waits (WFI) or an IRQ is raised and
    CPSR.I lets it in."""

    call_names = frozenset(("BL", "BLX_reg"))
    fault_regs = ()
    #: A32 before ARMv7VE divides by calling libgcc (``__aeabi_uidivmod``
    #: calls ``__udivsi3``: a dozen blocks, two loops), and a conditional
    #: instruction does not end a block but a branch does, so a loop with
    #: its calls spans more blocks than the engine's default takes in
    max_region_blocks = 40
    #: and those libgcc helpers are called from every loop that divides:
    #: the first region of a helper's own (it gets hot first) and two
    #: callers' copies of it
    max_block_copies = 3

    def __init__(self, model, tb_flags):
        self.model = model
        self.ir = ARM_IR
        self.tb_flags = tb_flags
        self._mem = {}
        self._span = None

    @staticmethod
    def namespace(state, ram) -> dict:
        return {"R": state.r}

    @staticmethod
    def watch_tlb(ops, fn):
        return None

    def tb_key(self, core, ip: int, cap: int) -> tuple:
        return (0, ip, self.tb_flags(core.s) + (core.s.cpsr & ~NZCV & M32,), self._ram_span(core), 0, cap)

    def _ram_span(self, core) -> tuple:
        """RAM's (first, end) addresses (ArmIRBuilder.near): the machine's, fixed."""
        span = self._span
        if span is None:
            ram = core.machine.ram
            span = self._span = (ram.base, ram.base + ram.size)
        return span

    def mem_model(self, core, key):
        base = core.machine.ram.base
        devices = core.ops.mmio_reads is not None
        mem = self._mem.get((base, devices))
        if mem is None:
            mem = self._mem[(base, devices)] = ArmMemory(base, devices)
        return mem

    def builder(self, block: IRBlock, key) -> ArmIRBuilder:
        return ArmIRBuilder(block, self.model, key[2][-1], key[3])

    @staticmethod
    def ends_block(w) -> bool:
        i = w.insn
        return (w.pc_read != 8 or i.name not in TRANSLATIONS or i.name in BRANCHES or i.cond == 0xF
                or i.rd == 15 or i.rt == 15 or (i.name == "LDM" and i.regs >> 15 & 1))

    @staticmethod
    def jumps_indirectly(w) -> bool:
        """A computed PC that is not a return (A2.3.1): a jump table
        (``LDRLS pc, [pc, r3, LSL #2]``, ``ADDLS pc, pc, r3, LSL #2``), a
        call or jump through a register other than LR (``BLX r3``,
        ``BX r2``).  Returns -- ``BX lr``, ``MOV pc, lr``, a load of the PC
        from the stack (``POP {..., pc}``, ``LDR pc, [sp], #4``) -- come back
        to the region's return sites instead."""
        i = w.insn
        name = i.name
        if name in ("BX", "BLX_reg"):
            return i.rm != 14
        if name in ("LDR_imm", "LDR_reg"):
            return i.rt == 15 and i.rn != 13
        if name in _PC_WRITERS:
            return i.rd == 15 and not (name == "MOV_reg" and i.rm == 14)
        return False

    @staticmethod
    def deliberate_helper(w) -> bool:
        return False

    @staticmethod
    def fast_spaces(state, ram_size: int, amask: int, code_map=None) -> dict:
        return {}

    @staticmethod
    def mark_safe_loads(blocks, fast) -> None:
        pass

    @staticmethod
    def attention(core, interp):
        s = core.s

        def check():
            return s.halted or (interp.irq_line and not s.cpsr & I_BIT)
        return check

    @staticmethod
    def fast_path(tr, insn, budget: int) -> int:
        return 0

    @staticmethod
    def helper_span(s, insn, left: int) -> int:
        return 1


__all__ = ["ArmIRBuilder", "ArmFrontend", "TRANSLATIONS"]
