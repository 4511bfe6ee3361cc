"""A32 disassembly from the decoded rows of ``table.py``, in the unified
assembler language (UAL) of ARM DDI 0406C A4.2 and A8.8, as GNU as and
capstone print it:

* condition suffix after the S suffix (``addseq``), ``hs``/``lo`` for
  carry set/clear;
* immediates as ``#n`` (decimal below 10, else hex; ``#-0x10`` for
  subtracted offsets), branch targets as absolute addresses;
* the UAL aliases: MOV with a shift prints as LSL/LSR/ASR/ROR/RRX (A8.8.105),
  STMDB sp! as PUSH and LDM sp! / LDR rt, [sp], #4 as POP (A8.8.133,
  A8.8.131), the CPSR as ``apsr`` in MRS;
* registers r0-r12, sp, lr, pc;
* a T16 instruction prints as the A32 instruction it runs as, except the
  Thumb encodings with semantics of their own: B, B<cond>, CBZ/CBNZ, the
  32-bit BL/BLX (targets from the PC 4 bytes ahead), LDR (literal) and ADR
  (their offsets), IT (A8.8.18, A8.8.25, A8.8.29, A8.8.54).
"""

from __future__ import annotations

from .semantics import ror32
from .state import REG_NAMES

CONDS = ("eq", "ne", "hs", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le",
         "", "")
SHIFTS = ("lsl", "lsr", "asr", "ror")
BARRIERS = {15: "sy", 14: "st", 11: "ish", 10: "ishst", 7: "nsh", 6: "nshst", 3: "osh", 2: "oshst"}


def imm(v: int) -> str:
    if v < 0:
        return "#-" + imm(-v)[1:]
    return f"#{v}" if v < 10 else f"#{v:#x}"


def r(n: int) -> str:
    """A register's name (``r16``: the second register of an UNPREDICTABLE
    LDRD/STRD pair starting at r15)."""
    return REG_NAMES[n] if n < 16 else f"r{n}"


def reglist(mask: int) -> str:
    return "{" + ", ".join(r(k) for k in range(16) if mask >> k & 1) + "}"


def _shift_imm(stype: int, amount: int) -> str:
    """``, lsl #3``-style suffix of an immediate shift (empty for LSL #0)."""
    if stype == 0 and amount == 0:
        return ""
    if stype == 3 and amount == 0:
        return ", rrx"
    return f", {SHIFTS[stype]} #{amount or 32}"


def _canonical_rot(v: int) -> int:
    """The rotation an assembler picks to encode ``v`` as a modified
    immediate (the smallest even right-rotation that fits; values such as
    0xF000000F, whose bits wrap round, searched again above bit 5)."""
    if v & ~0xFF == 0:
        return 0
    rot = ((v & -v).bit_length() - 1) & ~1
    if ror32(v, rot) & ~0xFF == 0:
        return (32 - rot) & 31
    if v & 63:
        low = v & ~63
        rot2 = ((low & -low).bit_length() - 1) & ~1 if low else rot
        if ror32(v, rot2) & ~0xFF == 0:
            return (32 - rot2) & 31
    return (32 - rot) & 31


def modified_imm(rot_field: int, imm8: int) -> str:
    """A modified immediate (A5.2.4): its value, or ``#imm8, #rot`` when the
    encoding is not the one an assembler would choose for that value (so
    the text reassembles to the same word)."""
    v = ror32(imm8, 2 * rot_field)
    r = _canonical_rot(v)
    if r == 2 * rot_field and ror32(v, 32 - r) == imm8:
        return imm(v)
    return f"#{imm8}, #{2 * rot_field}"


def _dp(i, c: str) -> str:
    op = i.name[:3].lower()
    form = i.name[4:]
    s = "s" if i.s and op not in ("tst", "teq", "cmp", "cmn") else ""
    if form == "imm":
        op2 = modified_imm(i.rot, i.imm)
    elif form == "reg":
        if op == "mov" and not (i.stype == 0 and i.imm == 0):
            if i.stype == 3 and i.imm == 0:
                return f"rrx{s}{c} {r(i.rd)}, {r(i.rm)}"
            return f"{SHIFTS[i.stype]}{s}{c} {r(i.rd)}, {r(i.rm)}, {imm(i.imm or 32)}"
        op2 = r(i.rm) + _shift_imm(i.stype, i.imm)
    else:
        if op == "mov":
            return f"{SHIFTS[i.stype]}{s}{c} {r(i.rd)}, {r(i.rm)}, {r(i.rs)}"
        op2 = f"{r(i.rm)}, {SHIFTS[i.stype]} {r(i.rs)}"
    if op in ("tst", "teq", "cmp", "cmn"):
        return f"{op}{c} {r(i.rn)}, {op2}"
    if op in ("mov", "mvn"):
        return f"{op}{s}{c} {r(i.rd)}, {op2}"
    return f"{op}{s}{c} {r(i.rd)}, {r(i.rn)}, {op2}"


def _mem(i, off: str, neg: bool, zero: bool) -> str:
    """The addressing-mode operand of a load/store with offset text ``off``."""
    sign = "-" if neg else ""
    if i.p:
        if zero and not neg and not i.w:
            body = f"[{r(i.rn)}]"
        else:
            body = f"[{r(i.rn)}, {off if off.startswith('#') else sign + off}]"
        return body + ("!" if i.w else "")
    return f"[{r(i.rn)}], {off if off.startswith('#') else sign + off}"


def _ldst(i, c: str) -> str:
    base = i.name.split("_")[0].lower()
    form = i.name.split("_")[1]
    t = "t" if not i.p and i.w else ""
    if form == "imm":
        off = i.imm
        text = _mem(i, ("#" if i.u else "#-") + imm(off)[1:], not i.u, off == 0)
        if base == "ldr" and not i.p and not i.w and i.rn == 13 and i.u and off == 4:
            return f"pop{c} {{{r(i.rt)}}}"
    else:
        shift = _shift_imm(i.stype, i.imm) if i.stype is not None else ""
        text = _mem(i, r(i.rm) + shift, not i.u, False)
    rt = r(i.rt)
    if base in ("ldrd", "strd"):
        rt += ", " + r(i.rt + 1)
    name = base[:-1] + "bt" if t and base.endswith("b") else base + t
    return f"{name}{c} {rt}, {text}"


def _block(i, c: str) -> str:
    mode = ("da", "", "db", "ib")[i.p << 1 | i.u]
    load = i.name == "LDM"
    if i.rn == 13 and i.w and not i.user and bin(i.regs).count("1") > 1:
        if load and mode == "":
            return f"pop{c} {reglist(i.regs)}"
        if not load and mode == "db":
            return f"push{c} {reglist(i.regs)}"
    return (f"{i.name.lower()}{mode}{c} {r(i.rn)}{'!' if i.w else ''}, {reglist(i.regs)}"
            + (" ^" if i.user else ""))


def _psr_fields(mask: int) -> str:
    return "".join(ch for k, ch in ((3, "f"), (2, "s"), (1, "x"), (0, "c")) if mask >> k & 1)


def _sext(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def format_insn(i) -> str:
    """``i`` (a decoded Insn) as UAL text."""
    name = i.name
    c = CONDS[i.cond]
    if "_" in name and name.split("_")[0] in _DP_NAMES:
        return _dp(i, c)
    if name.split("_")[0] in ("LDR", "STR", "LDRB", "STRB", "LDRH", "STRH", "LDRSB",
                              "LDRSH", "LDRD", "STRD"):
        return _ldst(i, c)
    if name in ("LDM", "STM"):
        return _block(i, c)
    low = name.lower()
    template = _REG_FORMS.get(name)
    if template is not None:
        regs = {f: r(getattr(i, f)) for f in _REG_FIELDS if getattr(i, f) is not None}
        return f"{low.split('_')[0]}{'s' if i.s else ''}{c} " + template.format(**regs)
    if name in ("B", "BL"):
        return f"{low}{c} {imm(((i.addr + 8 + (_sext(i.imm, 24) << 2)) & 0xFFFFFFFF))}"
    if name == "BLX_imm":
        return f"blx {imm((i.addr + 8 + (_sext(i.imm, 24) << 2) + (i.h << 1)) & 0xFFFFFFFF)}"
    if name == "SVC":
        return f"svc{c} #{i.imm:#x}"
    if name == "BKPT":
        return f"bkpt {imm(i.imm)}"
    if name == "MRS":
        return f"mrs{c} {r(i.rd)}, {'spsr' if i.spsr else 'apsr'}"
    if name in ("MSR_reg", "MSR_imm"):
        if i.mask == 0:
            psr = "spsr" if i.spsr else "cpsr"
        elif i.spsr or i.mask not in _APSR:
            psr = ("spsr_" if i.spsr else "cpsr_") + _psr_fields(i.mask)
        else:
            psr = _APSR[i.mask]         # the application view (A2.4, B9.3.12)
        if name == "MSR_reg":
            return f"msr{c} {psr}, {r(i.rm)}"
        return f"msr{c} {psr}, {modified_imm(i.rot, i.imm)}"
    if name[1:3] == "XT":
        rot = f", ror #{8 * i.xrot}" if i.xrot else ""
        if "A" in name[3:4]:
            return f"{low}{c} {r(i.rd)}, {r(i.rn)}, {r(i.rm)}{rot}"
        return f"{low}{c} {r(i.rd)}, {r(i.rm)}{rot}"
    if name in ("UBFX", "SBFX"):
        return f"{low}{c} {r(i.rd)}, {r(i.rn)}, {imm(i.lsb)}, {imm(i.msb + 1)}"
    if name == "BFI":
        return f"bfi{c} {r(i.rd)}, {r(i.rn)}, {imm(i.lsb)}, {imm(i.msb - i.lsb + 1)}"
    if name == "BFC":
        return f"bfc{c} {r(i.rd)}, {imm(i.lsb)}, {imm(i.msb - i.lsb + 1)}"
    if name in ("MOVW", "MOVT"):
        return f"{low}{c} {r(i.rd)}, {imm(i.imm)}"
    if name in ("MRC", "MCR"):
        rt = "apsr_nzcv" if i.rt == 15 and name == "MRC" else r(i.rt)
        return f"{low}{c} p{i.coproc}, {imm(i.opc)}, {rt}, c{i.rn}, c{i.rm}, {imm(i.opc2)}"
    if name in ("MCRR", "MRRC"):
        return f"{low}{c} p{i.coproc}, {imm(i.opc)}, {r(i.rt)}, {r(i.rn)}, c{i.rm}"
    if name == "CDP":
        return f"cdp{c} p{i.coproc}, {imm(i.opc)}, c{i.rd}, c{i.rn}, c{i.rm}, {imm(i.opc2)}"
    if name in ("NOP", "YIELD", "WFE", "WFI", "SEV", "CLREX"):
        return low + c
    if name in ("DSB", "DMB"):
        return f"{low} {BARRIERS.get(i.imm, imm(i.imm))}"
    if name == "ISB":
        return "isb " + ("sy" if i.imm == 15 else imm(i.imm))
    if name == "CPS":
        flags = "".join(ch for k, ch in ((2, "a"), (1, "i"), (0, "f")) if i.mask >> k & 1)
        mode = imm(i.rm) if i.mmod else ""
        if i.opc & 2:
            return f"cps{'id' if i.opc & 1 else 'ie'} {flags}" + (f", {mode}" if mode else "")
        return f"cps {mode}"
    if name in ("LDC", "STC"):
        mn = f"{low}{'l' if i.dbit else ''}{c} p{i.coproc}, c{i.rd}, "
        if i.p or i.w:
            return mn + _mem(i, ("#" if i.u else "#-") + imm(4 * i.imm)[1:], not i.u, i.imm == 0)
        return mn + f"[{r(i.rn)}], {{{imm(i.imm)[1:]}}}"
    if name == "PLD_imm":
        return f"pld [{r(i.rn)}, {'#' if i.u else '#-'}{imm(i.imm)[1:]}]"
    if name == "PLD_reg":
        return f"pld [{r(i.rn)}, {'' if i.u else '-'}{r(i.rm)}{_shift_imm(i.stype, i.imm)}]"
    if name == "UDF":
        return f"udf {imm(i.imm)}"
    if name.startswith(("T_", "T32_")):       # Thumb encodings with semantics of their own
        return _thumb(i)
    return f".word {i.word:#010x}"


def _thumb(i) -> str:
    """A Thumb encoding with semantics of its own (not run as an A32
    instruction): branch targets from the PC, which reads 4 bytes ahead
    (A8.8.18, A8.8.25, A8.8.29); literal and ADR offsets as written
    (A8.8.12, A8.8.64); IT's then/else pattern (A8.8.54)."""
    name, pc = i.name, i.addr + 4
    if name == "T_B":
        return f"b {imm((pc + (_sext(i.imm, 11) << 1)) & 0xFFFFFFFF)}"
    if name == "T_B_cond":
        return f"b{CONDS[i.cond]} {imm((pc + (_sext(i.imm, 8) << 1)) & 0xFFFFFFFF)}"
    if name == "T_CBZ":
        return f"{'cbnz' if i.opc else 'cbz'} {r(i.rn)}, {imm(pc + (i.imm << 1))}"
    if name == "T32_BL":
        return f"bl {imm((pc + _sext(i.imm, 25)) & 0xFFFFFFFF)}"
    if name == "T32_BLX":
        return f"blx {imm(((pc & ~3) + _sext(i.imm, 25)) & 0xFFFFFFFC)}"
    if name == "T_LDR_lit":
        return f"ldr {r(i.rd)}, [pc, {imm(4 * i.imm)}]"
    if name == "T_ADR":
        return f"adr {r(i.rd)}, {imm(4 * i.imm)}"
    if name == "T_IT":
        first, mask = i.imm >> 4, i.imm & 0xF
        low = (mask & -mask).bit_length() - 1
        pattern = "".join("t" if (mask >> k & 1) == (first & 1) else "e"
                          for k in range(3, low, -1))
        return f"it{pattern} {CONDS[first] or 'al'}"
    # the ARMv4T BL/BLX halves (DDI 0100I A7.1.17), UDF
    return f"{name.lower()} {imm(i.imm or 0)}" + (f" {r(i.rd)}" if i.rd is not None else "")


#: instructions whose operands are registers only: their operand text
_REG_FORMS = {
    "BX": "{rm}", "BLX_reg": "{rm}",
    "MUL": "{rd}, {rn}, {rm}", "SDIV": "{rd}, {rn}, {rm}", "UDIV": "{rd}, {rn}, {rm}",
    "MLA": "{rd}, {rn}, {rm}, {ra}", "MLS": "{rd}, {rn}, {rm}, {ra}",
    "CLZ": "{rd}, {rm}", "REV": "{rd}, {rm}", "REV16": "{rd}, {rm}", "REVSH": "{rd}, {rm}",
    "RBIT": "{rd}, {rm}", "SWP": "{rt}, {rm}, [{rn}]", "SWPB": "{rt}, {rm}, [{rn}]",
    "LDREX": "{rt}, [{rn}]", "LDREXB": "{rt}, [{rn}]", "LDREXH": "{rt}, [{rn}]",
    "STREX": "{rd}, {rt}, [{rn}]", "STREXB": "{rd}, {rt}, [{rn}]", "STREXH": "{rd}, {rt}, [{rn}]",
}
for _n in ("UMULL", "UMLAL", "SMULL", "SMLAL"):
    _REG_FORMS[_n] = "{rdlo}, {rdhi}, {rn}, {rm}"
_REG_FIELDS = ("rd", "rn", "rm", "rt", "ra", "rdlo", "rdhi")
_APSR = {8: "apsr_nzcvq", 4: "apsr_g", 12: "apsr_nzcvqg"}
_DP_NAMES = {"AND", "EOR", "SUB", "RSB", "ADD", "ADC", "SBC", "RSC", "TST", "TEQ", "CMP", "CMN",
             "ORR", "MOV", "BIC", "MVN"}
