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


def add_with_carry(x: int, y: int, cin: int) -> tuple[int, int, int]:
    """AddWithCarry (A2.2.1): (result, carry, overflow)."""
    u = x + y + cin
    r = u & M32
    v = ((x ^ r) & (y ^ r)) >> 31
    return r, u >> 32, v & 1


# -- data processing (A5.2.1-A5.2.3) --------------------------------------------------
_DP_TESTS = ("TST", "TEQ", "CMP", "CMN")


def _dp(ops, i, a, b, sc) -> None:
    op = i.name[:3]
    carry = sc
    overflow = None
    if op == "AND" or op == "TST":
        r = a & b
    elif op == "EOR" or op == "TEQ":
        r = a ^ b
    elif op == "ORR":
        r = a | b
    elif op == "MOV":
        r = b
    elif op == "BIC":
        r = a & ~b & M32
    elif op == "MVN":
        r = ~b & M32
    else:
        # x + y + carry-in, as the pseudocode's AddWithCarry calls (A8.8)
        if op == "ADD" or op == "CMN":
            x, y, cin = a, b, 0
        elif op == "SUB" or op == "CMP":
            x, y, cin = a, b ^ M32, 1
        elif op == "RSB":
            x, y, cin = b, a ^ M32, 1
        elif op == "ADC":
            x, y, cin = a, b, ops.flag_c()
        elif op == "SBC":
            x, y, cin = a, b ^ M32, ops.flag_c()
        else:                                  # RSC
            x, y, cin = b, a ^ M32, ops.flag_c()
        r, carry, overflow = add_with_carry(x, y, cin)
    test = op in _DP_TESTS
    setflags = test or i.s
    if setflags and i.rd == 15 and ops.has_spsr():
        # SUBS PC, LR and friends: exception return (B1.8.10); a test
        # instruction with Rd = 15 (ARMv2's TSTP) copies the SPSR as well.
        # In user and system mode (no SPSR) the flags are set as usual.
        ops.exception_return()
        if not test:
            ops.write_pc(r, "branch")
        return
    if setflags:
        ops.set_nzcv(r >> 31, r == 0, carry, overflow)
    if not test:
        ops.set_reg(i.rd, r)


def _dp_imm(ops, i):
    b, sc = expand_imm_c(i.rot, i.imm, ops.flag_c())
    _dp(ops, i, ops.reg(i.rn), b, sc)


def _dp_reg(ops, i):
    b, sc = shift_imm(ops.reg(i.rm), i.stype, i.imm, ops.flag_c())
    _dp(ops, i, ops.reg(i.rn), b, sc)


def _dp_rsr(ops, i):
    amount = ops.reg(i.rs) & 0xFF
    b, sc = shift_reg(ops.reg_late(i.rm), i.stype, amount, ops.flag_c())
    _dp(ops, i, ops.reg_late(i.rn), b, sc)


def _register_dp():
    from .table import DP_OPS
    for op in DP_OPS:
        sem(op + "_imm")(_dp_imm)
        sem(op + "_reg")(_dp_reg)
        sem(op + "_rsr")(_dp_rsr)


_register_dp()


# -- multiply (A5.2.5) ----------------------------------------------------------------
@sem("MUL", "MLA", "MLS")
def mul(ops, i):
    p = ops.reg_late(i.rn) * ops.reg_late(i.rm)
    if i.name == "MLA":
        p += ops.reg_late(i.ra)
    elif i.name == "MLS":
        p = ops.reg(i.ra) - p
    r = p & M32
    ops.set_reg(i.rd, r)
    if i.s:
        ops.set_nzcv(r >> 31, r == 0)


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
def _address(ops, i, offset: int) -> tuple[int, int, bool]:
    """(access address, written-back address, writeback?) of an indexed form."""
    base = ops.reg(i.rn)
    off_addr = (base + offset if i.u else base - offset) & M32
    if i.p:
        return off_addr, off_addr, bool(i.w)
    return base, off_addr, True


def load_word(ops, addr: int) -> int:
    """A word load: unaligned on a v6+ model, else the ARMv4 rotation of the
    aligned word (DDI 0100I A4.1.23)."""
    if ops.model.unaligned or addr & 3 == 0:
        return ops.load(addr, 4)
    return ror32(ops.load(addr & ~3, 4), 8 * (addr & 3))


def _store_value(ops, n: int) -> int:
    """A stored register: the PC stores as +12 on ARMv4 (DDI 0100I A2.4.3)."""
    return ops.reg_late(n) if n == 15 else ops.reg(n)


def _ldr_str(ops, i, offset: int) -> None:
    addr, wb_addr, wb = _address(ops, i, offset)
    name = i.name[:4].rstrip("_")
    if name in ("STR", "STRB"):
        v = _store_value(ops, i.rt)
        if name == "STRB":
            ops.store(addr, 1, v & 0xFF)
        else:
            ops.store(addr if ops.model.unaligned else addr & ~3, 4, v)
        if wb:
            ops.set_reg(i.rn, wb_addr)
        return
    v = ops.load(addr, 1) if name == "LDRB" else load_word(ops, addr)
    _finish_load(ops, i, wb, wb_addr, v)


def _finish_load(ops, i, wb: bool, wb_addr: int, v: int) -> None:
    """Writeback, then the loaded value (which wins when Rt is the base);
    a load into the PC branches (LoadWritePC, A2.3.1)."""
    if wb:
        ops.set_reg(i.rn, wb_addr)
    if i.rt == 15:
        ops.write_pc(v, "load")
    else:
        ops.set_reg(i.rt, v)


@sem("STR_imm", "STRB_imm", "LDR_imm", "LDRB_imm")
def ldr_str_imm(ops, i):
    _ldr_str(ops, i, i.imm)


@sem("STR_reg", "STRB_reg", "LDR_reg", "LDRB_reg")
def ldr_str_reg(ops, i):
    off, _ = shift_imm(ops.reg(i.rm), i.stype, i.imm, ops.flag_c())
    _ldr_str(ops, i, off)


def _extra(ops, i, offset: int) -> None:
    addr, wb_addr, wb = _address(ops, i, offset)
    name = i.name[:-4]
    v4 = not ops.model.unaligned
    if name in ("LDRD", "STRD") and (i.rt & 1 or i.rt == 14):
        # an odd first register or the pair r14/r15 is UNPREDICTABLE (A8.8.72): trapped
        ops.raise_exc(UNDEF, f"{name} with Rt = r{i.rt}")
    if name == "STRH":
        ops.store(addr & ~1 if v4 else addr, 2, _store_value(ops, i.rt))
    elif name == "STRD":
        ops.store(addr, 4, _store_value(ops, i.rt))
        ops.store(addr + 4, 4, _store_value(ops, i.rt + 1))
    if name in ("STRH", "STRD"):
        if wb:
            ops.set_reg(i.rn, wb_addr)
        return
    if name == "LDRD":
        lo, hi = ops.load(addr, 4), ops.load(addr + 4, 4)
        if wb:
            ops.set_reg(i.rn, wb_addr)
        ops.set_reg(i.rt, lo)
        ops.set_reg(i.rt + 1, hi)
        return
    if name == "LDRH":
        if v4 and addr & 1:           # ARM7TDMI: the aligned halfword, rotated
            v = ror32(ops.load(addr & ~1, 2), 8)
        else:
            v = ops.load(addr, 2)
    elif name == "LDRSB":
        v = _signed(ops.load(addr, 1), 8) & M32
    elif v4 and addr & 1:             # LDRSH at an odd address: ARM7TDMI loads a signed byte
        v = _signed(ops.load(addr, 1), 8) & M32
    else:
        v = _signed(ops.load(addr, 2), 16) & M32
    _finish_load(ops, i, wb, wb_addr, v)


@sem("STRH_imm", "LDRH_imm", "LDRD_imm", "STRD_imm", "LDRSB_imm", "LDRSH_imm")
def extra_imm(ops, i):
    _extra(ops, i, i.imm)


@sem("STRH_reg", "LDRH_reg", "LDRD_reg", "STRD_reg", "LDRSB_reg", "LDRSH_reg")
def extra_reg(ops, i):
    _extra(ops, i, ops.reg(i.rm))


def _writeback(ops, i, user: bool, wb: int) -> None:
    """LDM/STM base writeback; with ``^`` (user registers) it is
    UNPREDICTABLE, and the ARM7TDMI writes the user bank's register."""
    if i.w and user:
        ops.set_user_reg(i.rn, wb)
    elif i.w:
        ops.set_reg(i.rn, wb)


# -- block transfer (A5.5; LDM/STM user registers and exception return B9.3) -------
@sem("LDM", "STM")
def ldm_stm(ops, i):
    regs = [k for k in range(16) if i.regs >> k & 1]
    n = len(regs)
    base = ops.reg(i.rn)
    if n == 0:                        # ARMv4: an empty list transfers r15, base moves by 64
        regs, span = [15], 64
    else:
        span = 4 * n
    if i.u:
        start = base + (4 if i.p else 0)
        wb = base + span
    else:
        start = base - span + (0 if i.p else 4)
        wb = base - span
    start &= M32
    wb &= M32
    load = i.name == "LDM"
    user = bool(i.user) and not (load and 15 in regs)
    if not load:
        for k, r in enumerate(regs):
            if r == i.rn and i.w and k > 0:
                v = wb                 # a base stored after the first slot is the new one
            elif user:
                v = ops.user_reg(r) if r != 15 else _store_value(ops, 15)
            else:
                v = _store_value(ops, r)
            ops.store(start + 4 * k, 4, v)
        _writeback(ops, i, user, wb)
        return
    values = [ops.load((start + 4 * k) & M32, 4) for k in range(len(regs))]
    _writeback(ops, i, user, wb)
    for r, v in zip(regs, values):
        if r == 15:
            if i.user:
                ops.exception_return()
            ops.write_pc(v, "load")
        elif user:
            ops.set_user_reg(r, v)
        else:
            ops.set_reg(r, v)


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
@sem("B", "BL")
def b_bl(ops, i):
    target = ops.reg(15) + (_signed(i.imm, 24) << 2)
    if i.name == "BL":
        ops.set_reg(14, ops.link())
    ops.write_pc(target, "branch")


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


__all__ = ["REGISTRY", "condition_passed", "shift_imm", "shift_reg", "expand_imm_c",
           "add_with_carry"]
