"""A32 instruction semantics, written once against the ARM Ops (``ops.py``).

Each function ``sem(ops, i)`` follows the "Operation" pseudocode of its
instruction in ARM DDI 0406C chapter A8 (ARMv4T behaviour from DDI 0100I
where the two differ, selected by the CPU model, a translation-time
constant).  The condition field is checked by the caller
(:func:`condition_passed`); a semantic function runs only for a passing
condition.  These functions branch in Python on register values, so a
translator runs them as helpers (the registry marks every one so).
"""

from __future__ import annotations

import operator

from ..ops import Registry
from .exceptions import PABT, SVC_CALL, UNDEF
from .state import C_BIT, MODE_NAMES, N_BIT, USR, V_BIT, Z_BIT

M32 = 0xFFFFFFFF
REGISTRY = Registry("arm")


def sem(*names):
    return REGISTRY.semantics(*names, helper=True)


# -- conditions (A8.3, Table A8-1) ----------------------------------------------------
def condition_passed(cpsr: int, cond: int) -> bool:
    n = cpsr & N_BIT != 0
    z = cpsr & Z_BIT != 0
    c = cpsr & C_BIT != 0
    v = cpsr & V_BIT != 0
    base = cond >> 1
    if base == 0:
        r = z
    elif base == 1:
        r = c
    elif base == 2:
        r = n
    elif base == 3:
        r = v
    elif base == 4:
        r = c and not z
    elif base == 5:
        r = n == v
    elif base == 6:
        r = n == v and not z
    else:
        return cond == 0xE        # AL; 0b1111 (NV) never passes on ARMv4
    return r != bool(cond & 1)


#: CONDITION_TABLE[cond][cpsr >> 28]: does condition ``cond`` pass with
#: those N Z C V
CONDITION_TABLE = tuple(tuple(condition_passed(nzcv << 28, cond) for nzcv in range(16))
                        for cond in range(16))


def ror32(v: int, n: int) -> int:
    """ROR(v, n) on 32 bits (A2.2.1)."""
    n &= 31
    return ((v >> n) | (v << (32 - n))) & M32 if n else v


# -- the barrel shifter (A8.4.3 Shift_C; DDI 0100I A5.1) ------------------------------
LSL, LSR, ASR, ROR = 0, 1, 2, 3


def shift_imm(value: int, stype: int, imm5: int, carry: int) -> tuple[int, int]:
    """An immediate shift ``stype #imm5`` as encoded (LSR/ASR #0 mean #32,
    ROR #0 means RRX): (result, carry out)."""
    if stype == LSL:
        if imm5 == 0:
            return value, carry
        return (value << imm5) & M32, (value >> (32 - imm5)) & 1
    if stype == ROR and imm5 == 0:          # RRX
        return (carry << 31) | (value >> 1), value & 1
    return shift_reg(value, stype, imm5 or 32, carry)


def shift_reg(value: int, stype: int, amount: int, carry: int) -> tuple[int, int]:
    """A shift by ``amount`` (0-255, the bottom byte of Rs): (result, carry)."""
    if amount == 0:
        return value, carry
    if stype == LSL:
        if amount < 32:
            return (value << amount) & M32, (value >> (32 - amount)) & 1
        return 0, (value & 1) if amount == 32 else 0
    if stype == LSR:
        if amount < 32:
            return value >> amount, (value >> (amount - 1)) & 1
        return 0, (value >> 31) if amount == 32 else 0
    if stype == ASR:
        if amount < 32:
            sv = value - (1 << 32) if value & 0x80000000 else value
            return (sv >> amount) & M32, (value >> (amount - 1)) & 1
        return (M32 if value & 0x80000000 else 0), value >> 31
    amount &= 31                              # ROR
    if amount == 0:
        return value, value >> 31
    return ror32(value, amount), (value >> (amount - 1)) & 1


def expand_imm_c(rot: int, imm8: int, carry: int) -> tuple[int, int]:
    """ARMExpandImm_C (A5.2.4): imm8 rotated right by 2*rot."""
    if rot == 0:
        return imm8, carry
    v = ror32(imm8, 2 * rot)
    return v, v >> 31


# -- data processing (A5.2.1-A5.2.3) --------------------------------------------------
_DP_TESTS = ("TST", "TEQ", "CMP", "CMN")
#: the logical operations: result of (Rn, shifter operand)
_DP_LOGIC = {"AND": operator.and_, "TST": operator.and_, "EOR": operator.xor,
             "TEQ": operator.xor, "ORR": operator.or_, "MOV": lambda a, b: b,
             "BIC": lambda a, b: a & ~b & M32, "MVN": lambda a, b: ~b & M32}
#: the arithmetic ones as the pseudocode's AddWithCarry(x, y, carry in) (A8.8):
#: (x and y swapped, y inverted, carry in; None: the C flag)
_DP_ARITH = {"ADD": (False, False, 0), "CMN": (False, False, 0),
             "SUB": (False, True, 1), "CMP": (False, True, 1), "RSB": (True, True, 1),
             "ADC": (False, False, None), "SBC": (False, True, None),
             "RSC": (True, True, None)}


def bind_operand2(i, form: str, pc: int, late: int):
    """The shifter operand of data-processing form ``form`` (imm, reg, rsr)
    bound to its fields, as ``(kind, data)``:

    * ``"const"``: ``(value, carry)``, carry None where the C flag passes
      through (ARMExpandImm_C, A5.2.4);
    * ``"reg"``: the register number of a plain register (LSL #0, not the PC);
    * ``"shift"``: ``(m, stype, imm5)``, Rm (not the PC) shifted by an
      immediate (:func:`shift_imm`);
    * ``"fn"``: ``fn(r, c) -> (value, carry)`` over the registers ``r`` and
      the C flag ``c`` (the PC as Rm, register-specified shifts)."""
    if form == "imm":
        if i.rot == 0:
            return "const", (i.imm, None)
        return "const", expand_imm_c(i.rot, i.imm, 0)
    m, stype = i.rm, i.stype
    if form == "reg":
        imm5 = i.imm
        if m == 15:
            return "fn", lambda r, c: shift_imm(pc, stype, imm5, c)
        if stype == LSL and imm5 == 0:
            return "reg", m
        return "shift", (m, stype, imm5)
    rs = i.rs                                  # rsr: Rm and Rn read late (A5.1.9)
    if rs == 15:
        return "fn", lambda r, c: shift_reg(late if m == 15 else r[m], stype, pc & 0xFF, c)
    return "fn", lambda r, c: shift_reg(late if m == 15 else r[m], stype, r[rs] & 0xFF, c)


def _bind_dp_result_only(op: str, rd: int, rn: int, kind: str, data):
    """``run`` of a data-processing instruction that writes only Rd (no S,
    Rd and Rn not the PC, no carry in, no RRX: the C flag is not read): the result of Rn and the operand,
    the arithmetic ones as x + y + carry in (AddWithCarry, A2.2.1)."""
    if kind == "shift":
        m, stype, imm5 = data
    logic = _DP_LOGIC.get(op)
    if op == "MOV":
        if kind == "const":
            b = data[0]

            def run(ops, w):
                ops.s.r[rd] = b
        elif kind == "reg":
            def run(ops, w):
                r = ops.s.r
                r[rd] = r[data]
        else:
            def run(ops, w):
                r = ops.s.r
                r[rd] = shift_imm(r[m], stype, imm5, 0)[0]
        return run
    if logic is not None:
        if kind == "const":
            b = data[0]

            def run(ops, w):
                r = ops.s.r
                r[rd] = logic(r[rn], b)
        elif kind == "reg":
            def run(ops, w):
                r = ops.s.r
                r[rd] = logic(r[rn], r[data])
        else:
            def run(ops, w):
                r = ops.s.r
                r[rd] = logic(r[rn], shift_imm(r[m], stype, imm5, 0)[0])
        return run
    swap, invert, cin = _DP_ARITH[op]
    ymask = M32 if invert else 0
    if kind == "const":
        b = data[0]
        if swap:
            def run(ops, w):
                r = ops.s.r
                r[rd] = (b + (r[rn] ^ ymask) + cin) & M32
        else:
            y = (b ^ ymask) + cin

            def run(ops, w):
                r = ops.s.r
                r[rd] = (r[rn] + y) & M32
    elif kind == "reg":
        if swap:
            def run(ops, w):
                r = ops.s.r
                r[rd] = (r[data] + (r[rn] ^ ymask) + cin) & M32
        else:
            def run(ops, w):
                r = ops.s.r
                r[rd] = (r[rn] + (r[data] ^ ymask) + cin) & M32
    elif swap:
        def run(ops, w):
            r = ops.s.r
            r[rd] = (shift_imm(r[m], stype, imm5, 0)[0] + (r[rn] ^ ymask) + cin) & M32
    else:
        def run(ops, w):
            r = ops.s.r
            r[rd] = (r[rn] + (shift_imm(r[m], stype, imm5, 0)[0] ^ ymask) + cin) & M32
    return run


def _bind_dp_flags(op: str, rd: int, rn: int, kind: str, data):
    """``run`` of a data-processing instruction that sets the flags (S, or a
    test) with Rd and Rn not the PC, no carry in and the operand a constant
    or a plain register: N and Z of the result; C and V of AddWithCarry
    (A2.2.1) for the arithmetic ones; for the logical ones C of the
    constant's rotation (ARMExpandImm_C, A5.2.4) or kept, V kept."""
    test = op in _DP_TESTS
    logic = _DP_LOGIC.get(op)
    if logic is not None:
        b, sc = data if kind == "const" else (None, None)
        keep = 0x3FFFFFFF if sc is None else 0x1FFFFFFF
        carry = 0 if sc is None else sc << 29

        def run(ops, w):
            s = ops.s
            r = s.r
            res = logic(r[rn], r[data] if b is None else b)
            s.cpsr = (s.cpsr & keep) | carry | (res & N_BIT) | (0 if res else Z_BIT)
            if not test:
                r[rd] = res
        return run
    swap, invert, cin = _DP_ARITH[op]
    ymask = M32 if invert else 0
    b = data[0] if kind == "const" else None

    def run(ops, w):
        s = ops.s
        r = s.r
        a = r[rn]
        v = r[data] if b is None else b
        x, y = (v, a ^ ymask) if swap else (a, v ^ ymask)
        u = x + y + cin
        res = u & M32
        s.cpsr = ((s.cpsr & 0x0FFFFFFF) | (res & N_BIT) | (0 if res else Z_BIT)
                  | ((u >> 32) << 29) | ((((x ^ res) & (y ^ res)) >> 31) << 28))
        if not test:
            r[rd] = res
    return run


def bind_dp(i, model, ip: int, thumb: bool):
    """A data-processing instruction bound to its fields: ``run(ops, w)``.
    The operation (A8.8 AND ... MVN) on Rn and the shifter operand, the
    flags for S (exception return for S with Rd = 15, B1.8.10)."""
    op = i.name[:3]
    form = i.name[4:]
    test = op in _DP_TESTS
    setflags = test or bool(i.s)
    rd, rn = i.rd, i.rn
    pc = (ip + (4 if thumb else 8)) & M32
    late = (ip + (4 if thumb else model.pc_late_offset)) & M32
    kind, data = bind_operand2(i, form, pc, late)
    a_const = (late if form == "rsr" else pc) if rn == 15 else None
    logic = _DP_LOGIC.get(op)
    mov = op == "MOV"
    swap, invert, cin0 = _DP_ARITH.get(op, (False, False, 0))
    ymask = M32 if invert else 0

    rrx = kind == "shift" and data[1] == ROR and data[2] == 0     # reads the C flag
    if not setflags and rd != 15 and rn != 15 and cin0 is not None and kind != "fn" and not rrx:
        return _bind_dp_result_only(op, rd, rn, kind, data)
    if setflags and rd != 15 and rn != 15 and cin0 is not None and kind in ("const", "reg"):
        return _bind_dp_flags(op, rd, rn, kind, data)

    def run(ops, w):
        s = ops.s
        r = s.r
        cpsr = s.cpsr
        c = (cpsr >> 29) & 1
        if kind == "const":
            b, sc = data
            if sc is None:
                sc = c
        elif kind == "reg":
            b, sc = r[data], c
        elif kind == "shift":
            b, sc = shift_imm(r[data[0]], data[1], data[2], c)
        else:
            b, sc = data(r, c)
        a = r[rn] if a_const is None else a_const
        if logic is not None:
            res = b if mov else logic(a, b)
            if setflags:
                flags = (res & N_BIT) | (0 if res else Z_BIT) | (sc << 29) | (cpsr & V_BIT)
        else:
            # AddWithCarry(x, y, carry in) (A2.2.1)
            x, y = (b, a ^ ymask) if swap else (a, b ^ ymask)
            u = x + y + (c if cin0 is None else cin0)
            res = u & M32
            if setflags:
                flags = ((res & N_BIT) | (0 if res else Z_BIT) | ((u >> 32) << 29)
                         | ((((x ^ res) & (y ^ res)) >> 31) << 28))
        if setflags:
            if rd == 15 and ops.has_spsr():
                # SUBS PC, LR and friends: exception return (B1.8.10); a test
                # instruction with Rd = 15 (ARMv2's TSTP) copies the SPSR as well.
                # In user and system mode (no SPSR) the flags are set as usual.
                ops.exception_return()
                if not test:
                    ops.write_pc(res, "branch")
                return
            s.cpsr = (cpsr & 0x0FFFFFFF) | flags
        if not test:
            if rd == 15:
                ops.write_pc(res, "alu")
            else:
                r[rd] = res
    return run


def _bound(binder):
    """The registry's ``sem(ops, i)`` of a bound form: bind at the current
    instruction's address, then run (the debugger's and the lockstep tools'
    single steps; the engines keep the bound form with the decoded code)."""
    def sem_fn(ops, i):
        binder(i, ops.model, ops.insn_addr, ops.pc_read == 4)(ops, None)
    sem_fn.__name__ = sem_fn.__qualname__ = binder.__name__[5:]
    sem_fn.__doc__ = binder.__doc__
    return sem_fn


_dp_imm = _bound(bind_dp)
_dp_reg = _bound(bind_dp)
_dp_rsr = _bound(bind_dp)


def _register_dp():
    from .table import DP_OPS
    for op in DP_OPS:
        sem(op + "_imm")(_dp_imm)
        sem(op + "_reg")(_dp_reg)
        sem(op + "_rsr")(_dp_rsr)
        BINDERS[op + "_imm"] = BINDERS[op + "_reg"] = BINDERS[op + "_rsr"] = bind_dp


#: encoding name -> ``bind(i, model, ip, thumb)`` -> ``run(ops, w)``: the
#: instructions whose semantics are written bound to their fields
BINDERS = {}
_register_dp()


# -- multiply (A5.2.5) ----------------------------------------------------------------
def bind_mul(i, model, ip: int, thumb: bool):
    """MUL, MLA, MLS (A8.8.114, A8.8.100, A8.8.101) bound to their fields:
    ``run(ops, w)``.  The operands are read late (r15: +12 on ARMv4,
    UNPREDICTABLE on ARMv7), MLS's Ra as an ordinary operand; S sets N and Z."""
    rd, rn, rm, ra = i.rd, i.rn, i.rm, i.ra
    late = (ip + (4 if thumb else model.pc_late_offset)) & M32
    pc = (ip + (4 if thumb else 8)) & M32
    acc = {"MUL": 0, "MLA": 1, "MLS": -1}[i.name]
    ra_value = (late if acc == 1 else pc) if ra == 15 else None
    setflags = bool(i.s)

    def run(ops, w):
        s = ops.s
        r = s.r
        p = (late if rn == 15 else r[rn]) * (late if rm == 15 else r[rm])
        if acc:
            p = (r[ra] if ra_value is None else ra_value) + acc * p
        res = p & M32
        if rd == 15:
            ops.write_pc(res, "alu")
        else:
            r[rd] = res
        if setflags:
            s.cpsr = (s.cpsr & ~(N_BIT | Z_BIT)) | (res & N_BIT) | (0 if res else Z_BIT)
    return run


mul = sem("MUL", "MLA", "MLS")(_bound(bind_mul))
BINDERS["MUL"] = BINDERS["MLA"] = BINDERS["MLS"] = bind_mul


def _signed(v: int, bits: int = 32) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


@sem("UMULL", "UMLAL", "SMULL", "SMLAL")
def mull(ops, i):
    a, b = ops.reg_late(i.rn), ops.reg_late(i.rm)
    if i.name[0] == "S":
        a, b = _signed(a), _signed(b)
    p = a * b
    if i.name[3] == "A":
        p += (ops.reg_late(i.rdhi) << 32) | ops.reg_late(i.rdlo)
    p &= (1 << 64) - 1
    ops.set_reg(i.rdlo, p & M32)
    ops.set_reg(i.rdhi, p >> 32)
    if i.s:
        ops.set_nzcv(p >> 63, p == 0)


# -- load/store (A5.3, A5.2.8) ------------------------------------------------------
def load_word(ops, addr: int) -> int:
    """A word load: unaligned on a v6+ model, else the ARMv4 rotation of the
    aligned word (DDI 0100I A4.1.23)."""
    if ops.model.unaligned or addr & 3 == 0:
        return ops.load(addr, 4)
    return ror32(ops.load(addr & ~3, 4), 8 * (addr & 3))


def _store_value(ops, n: int) -> int:
    """A stored register: the PC stores as +12 on ARMv4 (DDI 0100I A2.4.3)."""
    return ops.reg_late(n) if n == 15 else ops.reg(n)


def _finish_load(ops, rn: int, rt: int, wb: bool, wb_addr: int, v: int) -> None:
    """Writeback, then the loaded value (which wins when Rt is the base);
    a load into the PC branches (LoadWritePC, A2.3.1)."""
    if wb:
        ops.set_reg(rn, wb_addr)
    if rt == 15:
        ops.write_pc(v, "load")
    else:
        ops.s.r[rt] = v



def _store_written_back(rn: int, rt: int, offset: int, pre: bool, mask: int, size: int):
    """The bound form of a store of ``size`` bytes with an immediate offset
    and writeback (STR r2, [sp, #-4]!; STRH r2, [r3], #2): the address,
    pre- or post-indexed, masked by ``mask`` (ARMv4's halfword and word
    stores ignore the low bits), then the base written back."""
    def run(ops, w):
        r = ops.s.r
        base = r[rn]
        new = (base + offset) & M32
        ops.store((new if pre else base) & mask, size, r[rt])
        r[rn] = new
    return run


def bind_ldr_str(i, model, ip: int, thumb: bool):
    """LDR/STR/LDRB/STRB (A8.8.62-A8.8.69, A8.8.203-A8.8.206), immediate or
    shifted-register offset, bound to its fields: ``run(ops, w)``.  A stored
    PC is +12 on ARMv4 (DDI 0100I A2.4.3); writeback, then the loaded value
    (which wins when Rt is the base); a load into the PC branches
    (LoadWritePC, A2.3.1)."""
    name = i.name[:4].rstrip("_")
    rn, rt = i.rn, i.rt
    pc = (ip + (4 if thumb else 8)) & M32
    late = (ip + (4 if thumb else model.pc_late_offset)) & M32
    up, pre = bool(i.u), bool(i.p)
    wb = not pre or bool(i.w)
    size = 1 if name in ("LDRB", "STRB") else 4
    store = name[0] == "S"
    word_mask = M32 if model.unaligned or size == 1 else ~3 & M32
    rotate = size == 4 and not model.unaligned
    if i.name.endswith("_imm"):
        offset, shifted = (i.imm if up else -i.imm), None
        m = stype = imm5 = None
    else:
        m, stype, imm5 = i.rm, i.stype, i.imm
        offset = None
        def shifted(r, cpsr):
            v = shift_imm(pc if m == 15 else r[m], stype, imm5, (cpsr >> 29) & 1)[0]
            return v if up else -v

    if offset is not None and pre and not wb and rn != 15 and rt != 15:
        # the common forms: LDR r0, [r1, #4]; STRB r2, [r3]
        if store:
            def run(ops, w):
                r = ops.s.r
                ops.store((r[rn] + offset) & word_mask, size, r[rt])
        elif rotate:
            def run(ops, w):
                r = ops.s.r
                r[rt] = load_word(ops, (r[rn] + offset) & M32)
        else:
            def run(ops, w):
                r = ops.s.r
                r[rt] = ops.load((r[rn] + offset) & M32, size)
        return run
    if (offset is None and pre and not wb and rn != 15 and rt != 15 and m != 15
            and stype == LSL and imm5 == 0):
        # a plain register offset: LDRB r1, [r8, r3]
        sign = 1 if up else -1
        if store:
            def run(ops, w):
                r = ops.s.r
                ops.store((r[rn] + sign * r[m]) & word_mask, size, r[rt])
        else:
            def run(ops, w):
                r = ops.s.r
                addr = (r[rn] + sign * r[m]) & M32
                r[rt] = load_word(ops, addr) if rotate else ops.load(addr, size)
        return run
    if offset is not None and rn != 15 and rt != 15 and rt != rn:
        # indexed with writeback: LDRB r0, [r1], #1; STR r2, [sp, #-4]!
        if store:
            run = _store_written_back(rn, rt, offset, pre, word_mask, size)
        else:
            def run(ops, w):
                r = ops.s.r
                base = r[rn]
                new = (base + offset) & M32
                addr = new if pre else base
                r[rt] = load_word(ops, addr) if rotate else ops.load(addr, size)
                r[rn] = new
        return run

    def run(ops, w):
        r = ops.s.r
        base = pc if rn == 15 else r[rn]
        off_addr = (base + (offset if shifted is None else shifted(r, ops.s.cpsr))) & M32
        addr = off_addr if pre else base
        if store:
            ops.store(addr & word_mask, size, late if rt == 15 else r[rt])
            if wb:
                ops.set_reg(rn, off_addr)
            return
        _finish_load(ops, rn, rt, wb, off_addr,
                     load_word(ops, addr) if rotate else ops.load(addr, size))
    return run


ldr_str_imm = sem("STR_imm", "STRB_imm", "LDR_imm", "LDRB_imm")(_bound(bind_ldr_str))
ldr_str_reg = sem("STR_reg", "STRB_reg", "LDR_reg", "LDRB_reg")(_bound(bind_ldr_str))
for _name in ("STR_imm", "STRB_imm", "LDR_imm", "LDRB_imm",
              "STR_reg", "STRB_reg", "LDR_reg", "LDRB_reg"):
    BINDERS[_name] = bind_ldr_str


def bind_extra(i, model, ip: int, thumb: bool):
    """LDRH/STRH/LDRSB/LDRSH/LDRD/STRD (A8.8.70-A8.8.89, A8.8.207-A8.8.212),
    immediate or register offset, bound to its fields: ``run(ops, w)``.  A
    stored PC is +12 on ARMv4 (DDI 0100I A2.4.3); an odd first register or
    the pair r14/r15 of LDRD/STRD is UNPREDICTABLE (A8.8.72): trapped.  On
    ARMv4 (no unaligned access) STRH stores the aligned halfword, LDRH at an
    odd address rotates it and LDRSH there loads a signed byte (ARM7TDMI).
    Writeback, then the loaded value (which wins when Rt is the base); a load
    into the PC branches (LoadWritePC, A2.3.1)."""
    name = i.name[:-4]
    rn, rt = i.rn, i.rt
    rm = i.rm if i.name.endswith("_reg") else None
    imm = i.imm if rm is None else None
    pc = (ip + (4 if thumb else 8)) & M32
    late = (ip + (4 if thumb else model.pc_late_offset)) & M32
    up, pre = bool(i.u), bool(i.p)
    wb = not pre or bool(i.w)
    v4 = not model.unaligned
    if name in ("LDRD", "STRD") and (rt & 1 or rt == 14):
        detail = f"{name} with Rt = r{rt}"

        def run(ops, w):
            ops.raise_exc(UNDEF, detail)
        return run
    # a load: (size, sign bit), the value ((v ^ sign) - sign) & M32
    size, top = {"LDRH": (2, 0), "LDRSB": (1, 0x80), "LDRSH": (2, 0x8000)}.get(name, (0, 0))
    plain = pre and not wb and rn != 15 and rt != 15 and rm != 15
    if plain and name == "STRH":
        # STRH r1, [r2, #2]; STRH r1, [r2, r3]
        mask = ~1 & M32 if v4 else M32
        if rm is None:
            offset = imm if up else -imm

            def run(ops, w):
                r = ops.s.r
                ops.store((r[rn] + offset) & mask, 2, r[rt])
        else:
            sign = 1 if up else -1

            def run(ops, w):
                r = ops.s.r
                ops.store((r[rn] + sign * r[rm]) & mask, 2, r[rt])
        return run
    if plain and size and not v4:
        # LDRH r0, [r1, #2]; LDRSB r0, [r1, r2]
        if rm is None:
            offset = imm if up else -imm

            def run(ops, w):
                r = ops.s.r
                r[rt] = ((ops.load((r[rn] + offset) & M32, size) ^ top) - top) & M32
        else:
            sign = 1 if up else -1

            def run(ops, w):
                r = ops.s.r
                r[rt] = ((ops.load((r[rn] + sign * r[rm]) & M32, size) ^ top) - top) & M32
        return run

    if (rm is None and wb and rn != 15 and rt != 15 and rt != rn
            and (name == "STRH" or size and not v4)):
        # an immediate offset with writeback: LDRH r0, [r1], #2; STRH r2, [r3, #-2]!
        offset = imm if up else -imm
        if name == "STRH":
            run = _store_written_back(rn, rt, offset, pre, ~1 & M32 if v4 else M32, 2)
        else:
            def run(ops, w):
                r = ops.s.r
                base = r[rn]
                new = (base + offset) & M32
                r[rt] = ((ops.load(new if pre else base, size) ^ top) - top) & M32
                r[rn] = new
        return run

    def run(ops, w):
        r = ops.s.r
        base = pc if rn == 15 else r[rn]
        offset = imm if rm is None else pc if rm == 15 else r[rm]
        off_addr = (base + offset if up else base - offset) & M32
        addr = off_addr if pre else base
        if name == "STRH":
            ops.store(addr & ~1 if v4 else addr, 2, late if rt == 15 else r[rt])
        elif name == "STRD":
            ops.store(addr, 4, r[rt])
            ops.store(addr + 4, 4, r[rt + 1])
        if name in ("STRH", "STRD"):
            if wb:
                ops.set_reg(rn, off_addr)
            return
        if name == "LDRD":
            lo, hi = ops.load(addr, 4), ops.load(addr + 4, 4)
            if wb:
                ops.set_reg(rn, off_addr)
            ops.set_reg(rt, lo)
            ops.set_reg(rt + 1, hi)
            return
        if v4 and addr & 1 and name == "LDRH":    # ARM7TDMI: the aligned halfword, rotated
            v = ror32(ops.load(addr & ~1, 2), 8)
        elif v4 and addr & 1 and name == "LDRSH":  # ARM7TDMI: a signed byte
            v = ((ops.load(addr, 1) ^ 0x80) - 0x80) & M32
        else:
            v = ((ops.load(addr, size) ^ top) - top) & M32
        _finish_load(ops, rn, rt, wb, off_addr, v)
    return run


extra_imm = sem("STRH_imm", "LDRH_imm", "LDRD_imm", "STRD_imm", "LDRSB_imm",
                "LDRSH_imm")(_bound(bind_extra))
extra_reg = sem("STRH_reg", "LDRH_reg", "LDRD_reg", "STRD_reg", "LDRSB_reg",
                "LDRSH_reg")(_bound(bind_extra))
for _name in ("STRH", "LDRH", "LDRD", "STRD", "LDRSB", "LDRSH"):
    BINDERS[_name + "_imm"] = BINDERS[_name + "_reg"] = bind_extra


# -- block transfer (A5.5; LDM/STM user registers and exception return B9.3) -------
def bind_ldm_stm(i, model, ip: int, thumb: bool):
    """LDM/STM, every addressing mode (A8.8.58-A8.8.61, A8.8.199-A8.8.202),
    with ``^`` (user registers; LDM with the PC: exception return, B9.3.5),
    bound to its fields: ``run(ops, w)``."""
    regs = [k for k in range(16) if i.regs >> k & 1]
    rn = i.rn
    pc = (ip + (4 if thumb else 8)) & M32
    late = (ip + (4 if thumb else model.pc_late_offset)) & M32
    if not regs:                      # ARMv4: an empty list transfers r15, base moves by 64
        regs, span = [15], 64
    else:
        span = 4 * len(regs)
    if i.u:
        first, wb_delta = (4 if i.p else 0), span
    else:
        first, wb_delta = -span + (0 if i.p else 4), -span
    offsets = tuple(4 * k for k in range(len(regs)))
    load = i.name == "LDM"
    write_back = bool(i.w)
    user = bool(i.user) and not (load and 15 in regs)
    exc_return = bool(i.user)
    # STM: a base stored after the first slot is the new one
    new_base_at = [not load and k > 0 and r == rn and write_back for k, r in enumerate(regs)]
    plain = not user and 15 not in regs and not any(new_base_at) and rn != 15

    def run(ops, w):
        r = ops.s.r
        base = r[rn] if rn != 15 else pc
        start = (base + first) & M32
        wb = (base + wb_delta) & M32
        if load:
            ld = ops.load
            values = [ld((start + k) & M32, 4) for k in offsets]
            if plain:
                if write_back:
                    r[rn] = wb
                for reg, v in zip(regs, values):
                    r[reg] = v
                return
            _writeback(ops, write_back, user, rn, wb)
            for reg, v in zip(regs, values):
                if reg == 15:
                    if exc_return:
                        ops.exception_return()
                    ops.write_pc(v, "load")
                elif user:
                    ops.set_user_reg(reg, v)
                else:
                    r[reg] = v
            return
        store = ops.store
        if plain:
            for k, reg in zip(offsets, regs):
                store(start + k, 4, r[reg])
            if write_back:
                r[rn] = wb
            return
        for k, reg, new in zip(offsets, regs, new_base_at):
            if new:
                v = wb
            elif reg == 15:
                v = late
            elif user:
                v = ops.user_reg(reg)
            else:
                v = r[reg]
            store(start + k, 4, v)
        _writeback(ops, write_back, user, rn, wb)
    return run


def _writeback(ops, write_back: bool, user: bool, rn: int, wb: int) -> None:
    """LDM/STM base writeback; with ``^`` (user registers) it is
    UNPREDICTABLE, and the ARM7TDMI writes the user bank's register."""
    if write_back and user:
        ops.set_user_reg(rn, wb)
    elif write_back:
        ops.set_reg(rn, wb)


ldm_stm = sem("LDM", "STM")(_bound(bind_ldm_stm))
BINDERS["LDM"] = BINDERS["STM"] = bind_ldm_stm


# -- synchronisation (A5.2.10) ------------------------------------------------------
@sem("SWP", "SWPB")
def swp(ops, i):
    addr = ops.reg_late(i.rn)
    new = _store_value(ops, i.rm)
    if i.name == "SWPB":
        old = ops.load(addr, 1)
        ops.store(addr, 1, new)
    else:
        old = load_word(ops, addr)
        ops.store(addr if ops.model.unaligned else addr & ~3, 4, new)
    ops.set_reg(i.rt, old)


_EXCL_SIZE = {"": 4, "B": 1, "H": 2}


@sem("LDREX", "LDREXB", "LDREXH")
def ldrex(ops, i):
    addr = ops.reg(i.rn)
    ops.s.excl_addr = addr
    ops.set_reg(i.rt, ops.load(addr, _EXCL_SIZE[i.name[5:]]))


@sem("STREX", "STREXB", "STREXH")
def strex(ops, i):
    addr = ops.reg(i.rn)
    if ops.s.excl_addr == addr:
        ops.store(addr, _EXCL_SIZE[i.name[5:]], ops.reg(i.rt))
        ops.set_reg(i.rd, 0)
    else:
        ops.set_reg(i.rd, 1)
    ops.s.excl_addr = None


@sem("CLREX")
def clrex(ops, i):
    ops.s.excl_addr = None


# -- branches (A5.7, A8.8.18-A8.8.27) -----------------------------------------------
def bind_b_bl(i, model, ip: int, thumb: bool):
    """B and BL (A8.8.18, A8.8.25) bound to their fields: the target and
    the link are constants (BranchWritePC, A2.3.1)."""
    target = ((ip + (4 if thumb else 8)) + (_signed(i.imm, 24) << 2)) & M32
    if thumb:
        target &= ~1
    elif model.arch >= 5:
        target &= ~3
    if i.name == "BL":
        link = ((ip + i.size) | thumb) & M32

        def run(ops, w):
            r = ops.s.r
            r[14] = link
            r[15] = target
        return run

    if i.cond == 0xE:
        def run(ops, w):
            ops.s.r[15] = target
        return run
    passes = CONDITION_TABLE[i.cond]

    def run(ops, w):
        s = ops.s
        if passes[s.cpsr >> 28]:
            s.r[15] = target
    return run


b_bl = sem("B", "BL")(_bound(bind_b_bl))
BINDERS["B"] = BINDERS["BL"] = bind_b_bl
#: the bound forms that check their own condition (a conditional branch,
#: the back edge of nearly every loop): the caller may run them without
BINDS_CONDITION = {"B"}


@sem("BX")
def bx(ops, i):
    ops.write_pc(ops.reg(i.rm), "bx")


@sem("BLX_reg")
def blx_reg(ops, i):
    target = ops.reg(i.rm)
    ops.set_reg(14, ops.link())
    ops.write_pc(target, "bx")


@sem("BLX_imm")
def blx_imm(ops, i):
    target = ops.reg(15) + (_signed(i.imm, 24) << 2) + (i.h << 1)
    ops.set_reg(14, ops.link())
    ops.write_pc(target | 1, "bx")


# -- Thumb encodings without an A32 twin (A8.8) ----------------------------------
@sem("T_LDR_lit")
def t_ldr_lit(ops, i):
    """LDR Rt, [PC, #imm8*4]: the PC is word-aligned first (A8.8.64)."""
    ops.set_reg(i.rd, load_word(ops, (ops.reg(15) & ~3) + 4 * i.imm))


@sem("T_ADR")
def t_adr(ops, i):
    ops.set_reg(i.rd, ((ops.reg(15) & ~3) + 4 * i.imm) & M32)


@sem("T_B_cond")
def t_b_cond(ops, i):
    ops.write_pc(ops.reg(15) + (_signed(i.imm, 8) << 1), "branch")


@sem("T_B")
def t_b(ops, i):
    ops.write_pc(ops.reg(15) + (_signed(i.imm, 11) << 1), "branch")


@sem("T_CBZ")
def t_cbz(ops, i):
    """CBZ/CBNZ Rn, label (A8.8.29): forward only, never sets flags."""
    if (ops.reg(i.rn) == 0) != bool(i.opc):
        ops.write_pc(ops.reg(15) + (i.imm << 1), "branch")


@sem("T_BL_hi")
def t_bl_hi(ops, i):
    """First half of the ARMv4T BL pair: LR = PC + (offset << 12) (DDI 0100I A7.1.17)."""
    ops.set_reg(14, ops.reg(15) + (_signed(i.imm, 11) << 12))


@sem("T_BL_lo", "T_BLX_lo")
def t_bl_lo(ops, i):
    target = ops.reg(14) + (i.imm << 1)
    ops.set_reg(14, ops.link())
    if i.name == "T_BL_lo":
        ops.write_pc(target, "branch")
    else:
        ops.write_pc(target & ~3, "bx")           # BLX: to ARM state


@sem("T32_BL", "T32_BLX")
def t32_bl(ops, i):
    """BL/BLX (immediate), 32-bit encodings (A8.8.25)."""
    offset = _signed(i.imm, 25)
    ops.set_reg(14, ops.link())
    if i.name == "T32_BL":
        ops.write_pc(ops.reg(15) + offset, "branch")
    else:
        ops.write_pc(((ops.reg(15) & ~3) + offset) & ~3, "bx")


@sem("T_IT")
def t_it(ops, i):
    from .thumb import ThumbUnsupported
    raise ThumbUnsupported(ops.insn_addr, "an IT block")


# -- status registers (A8.8.109-A8.8.112, B9.3.9-B9.3.12) -------------------------
@sem("MRS")
def mrs(ops, i):
    ops.set_reg(i.rd, ops.spsr() if i.spsr else ops.cpsr())


def _field_mask(mask: int) -> int:
    m = 0
    for k in range(4):
        if mask >> k & 1:
            m |= 0xFF << (8 * k)
    return m


def _msr(ops, i, value: int) -> None:
    fields = _field_mask(i.mask)
    if i.spsr:
        if ops.has_spsr():
            ops.set_spsr(value, fields)
        return
    if ops.model.arch >= 7:
        writable = 0xF80F03DF     # N Z C V Q, GE, E A I F, M (not J, IT, T)
    elif ops.model.arch >= 5:
        writable = 0xF80000FF
    else:
        writable = M32            # ARMv4T: the reserved bits are written as well (ARM7TDMI)
    if ops.cpsr() & 0x1F == USR:
        writable &= 0xFFFFFE00 if ops.model.arch >= 7 else 0xFF000000
    elif ops.model.arch >= 7 and value & 0x1F not in MODE_NAMES:
        writable &= ~0x1F         # no such mode: UNPREDICTABLE, the mode is kept (as QEMU does)
    if ops.model.arch < 7:
        # M[4] is one in every mode of ARMv4T (the 26-bit modes are gone,
        # DDI 0100I A2.5.6): the ARM7TDMI keeps it set whatever is written
        value |= 0x10
    ops.set_cpsr(value, fields & writable)


@sem("MSR_reg")
def msr_reg(ops, i):
    _msr(ops, i, ops.reg(i.rm))


@sem("MSR_imm")
def msr_imm(ops, i):
    _msr(ops, i, expand_imm_c(i.rot, i.imm, 0)[0])


@sem("CPS")
def cps(ops, i):
    if ops.cpsr() & 0x1F == USR:
        return                      # CPS is a NOP in user mode (B9.3.1)
    mask = 0
    value = 0
    if i.opc & 2:                   # imod: 10 enable, 11 disable
        bits = (i.mask >> 2 & 1) << 8 | (i.mask >> 1 & 1) << 7 | (i.mask & 1) << 6
        mask |= bits
        if i.opc & 1:
            value |= bits
    if i.mmod:
        mask |= 0x1F
        value |= i.rm
    ops.set_cpsr(value, mask)


# -- exceptions and hints -----------------------------------------------------------
#: the semihosting call numbers (Arm "Semihosting for AArch32 and AArch64" 2.1):
#: SVC in ARM state, SVC in Thumb state, BKPT in either
SEMIHOST_SVC_ARM, SEMIHOST_SVC_THUMB, SEMIHOST_BKPT = 0x123456, 0xAB, 0xAB


def _semihosted(ops, imm: int, svc_call: bool) -> bool:
    if ops.semihosting is None:
        return False
    if svc_call:
        want = SEMIHOST_SVC_THUMB if ops.insn_size == 2 else SEMIHOST_SVC_ARM
    else:
        want = SEMIHOST_BKPT
    if imm != want:
        return False
    ops.semihosting(ops)
    return True


@sem("SVC")
def svc(ops, i):
    if not _semihosted(ops, i.imm, True):
        ops.raise_exc(SVC_CALL, f"SVC #{i.imm:#x}")


@sem("UNDEFINED", "UDF", "CDP", "LDC", "STC", "MCRR", "MRRC", "MRS_banked", "MSR_banked")
def undefined(ops, i):
    ops.raise_exc(UNDEF, f"undefined instruction {i.word:08x}")


@sem("BKPT")
def bkpt(ops, i):
    if not _semihosted(ops, i.imm, False):
        ops.raise_exc(PABT, f"BKPT #{i.imm:#x}")     # a prefetch abort (A8.8.24)


@sem("NOP", "YIELD", "WFE", "SEV", "DSB", "DMB", "ISB", "PLD_imm", "PLD_reg")
def nop(ops, i):
    pass


@sem("WFI")
def wfi(ops, i):
    ops.s.halted = True


# -- CP15 (B4.1): the registers a bare-metal v7 program needs ----------------------
#: (opc1, CRn, CRm, opc2) -> (state attribute or constant, writable)
CP15 = {
    (0, 0, 0, 0): ("midr", False),       # MIDR (B4.1.105)
    (0, 0, 0, 5): ("mpidr", False),      # MPIDR (B4.1.106): CPU 0, uniprocessor bit clear
    (0, 1, 0, 0): ("sctlr", True),       # SCTLR (B4.1.130)
    (0, 12, 0, 0): ("vbar", True),       # VBAR (B4.1.156)
}


@sem("MCR", "MRC")
def mcr_mrc(ops, i):
    key = (i.opc, i.rn, i.rm, i.opc2)
    reg = CP15.get(key) if ops.model.has_cp15 and i.coproc == 15 else None
    if reg is None or ops.cpsr() & 0x1F == USR:
        ops.raise_exc(UNDEF, f"coprocessor access p{i.coproc} {key}")
    name, writable = reg
    if i.name == "MRC":
        if name == "midr":
            v = ops.model.midr
        elif name == "mpidr":
            v = 0x80000000
        else:
            v = getattr(ops.s, name)
        if i.rt == 15:
            ops.set_nzcv(v >> 31, v >> 30 & 1, v >> 29 & 1, v >> 28 & 1)
        else:
            ops.set_reg(i.rt, v)
    elif writable:
        v = ops.reg(i.rt)
        if name == "vbar":
            v &= ~0x1F
        setattr(ops.s, name, v & M32)


# -- v6/v7 integer extras -----------------------------------------------------------
@sem("CLZ")
def clz(ops, i):
    ops.set_reg(i.rd, 32 - ops.reg(i.rm).bit_length())


@sem("MOVW")
def movw(ops, i):
    ops.set_reg(i.rd, i.imm)


@sem("MOVT")
def movt(ops, i):
    ops.set_reg(i.rd, (ops.reg(i.rd) & 0xFFFF) | (i.imm << 16))


@sem("REV")
def rev(ops, i):
    ops.set_reg(i.rd, int.from_bytes(ops.reg(i.rm).to_bytes(4, "little"), "big"))


@sem("REV16")
def rev16(ops, i):
    v = ops.reg(i.rm)
    ops.set_reg(i.rd, ((v & 0x00FF00FF) << 8) | ((v >> 8) & 0x00FF00FF))


@sem("REVSH")
def revsh(ops, i):
    v = ops.reg(i.rm)
    ops.set_reg(i.rd, _signed(((v & 0xFF) << 8) | ((v >> 8) & 0xFF), 16) & M32)


@sem("RBIT")
def rbit(ops, i):
    ops.set_reg(i.rd, int(format(ops.reg(i.rm), "032b")[::-1], 2))


@sem("SXTB", "SXTH", "UXTB", "UXTH", "SXTAB", "SXTAH", "UXTAB", "UXTAH",
     "SXTB16", "UXTB16", "SXTAB16", "UXTAB16")
def extend(ops, i):
    v = ror32(ops.reg(i.rm), 8 * i.xrot)
    signed = i.name[0] == "S"
    add = i.name[3] == "A"
    kind = i.name[-2:] if i.name.endswith("16") else i.name[-1]
    a = ops.reg(i.rn) if add else 0
    if kind == "16":
        lo, hi = v & 0xFF, (v >> 16) & 0xFF
        if signed:
            lo, hi = _signed(lo, 8), _signed(hi, 8)
        lo = (lo + (a & 0xFFFF)) & 0xFFFF
        hi = (hi + (a >> 16)) & 0xFFFF
        r = (hi << 16) | lo
    else:
        bits = 8 if kind == "B" else 16
        x = v & ((1 << bits) - 1)
        if signed:
            x = _signed(x, bits)
        r = (a + x) & M32
    ops.set_reg(i.rd, r)


@sem("UBFX", "SBFX")
def bfx(ops, i):
    width = i.msb + 1
    if i.lsb + width > 32:
        ops.raise_exc(UNDEF, "bitfield beyond bit 31")   # UNPREDICTABLE: trap it
    x = (ops.reg(i.rn) >> i.lsb) & ((1 << width) - 1)
    ops.set_reg(i.rd, (_signed(x, width) & M32) if i.name == "SBFX" else x)


@sem("BFI", "BFC")
def bfi(ops, i):
    if i.msb < i.lsb:
        ops.raise_exc(UNDEF, "bitfield msb < lsb")
    width = i.msb - i.lsb + 1
    mask = ((1 << width) - 1) << i.lsb
    src = (ops.reg(i.rn) << i.lsb) if i.name == "BFI" else 0
    ops.set_reg(i.rd, (ops.reg(i.rd) & ~mask) | (src & mask))


@sem("SDIV", "UDIV")
def div(ops, i):
    if not ops.model.has_div:
        ops.raise_exc(UNDEF, "no hardware divide on this model")
    n, m = ops.reg(i.rn), ops.reg(i.rm)
    if m == 0:
        r = 0                       # SCTLR.DZ is 0: division by zero gives 0 (A8.8.165)
    elif i.name == "UDIV":
        r = n // m
    else:
        sn, sm = _signed(n), _signed(m)
        q = abs(sn) // abs(sm)
        r = (q if (sn < 0) == (sm < 0) else -q) & M32
    ops.set_reg(i.rd, r)


__all__ = ["REGISTRY", "BINDERS", "BINDS_CONDITION", "CONDITION_TABLE", "condition_passed", "shift_imm", "shift_reg", "expand_imm_c"]
