"""The 16-bit Thumb instruction set (T16) as data rows, decoded into the
A32 instruction each one is an encoding of, so one set of semantics serves
both (ARM DDI 0406C A6.2 "16-bit Thumb instruction encoding"; ARMv4T:
DDI 0100I chapter A7).

Each row is a 16-bit pattern in the notation of ``table.py``; the
translation (:data:`TO_A32`) names the A32 instruction and its fields:
``LSLS r0, r1, #3`` runs as ``MOVS r0, r1, LSL #3``, ``PUSH {r4, lr}`` as
``STMDB sp!, {r4, lr}``.  A few have no A32 twin and their own semantics
(``T_*`` in ``semantics.py``): the PC-relative load and ADR (the PC is
word-aligned first), the branches, CBZ/CBNZ, and the two halves of the
ARMv4T BL pair.

Not implemented, and reported as :class:`ThumbUnsupported` rather than run:
IT blocks and every 32-bit Thumb-2 (T32) instruction except BL and BLX on
ARMv6T2 and later.
"""

from __future__ import annotations

from ..ops import Unsupported
from .table import Decoder, Insn, Row

ROWS = [
    ("T_LSL_imm",  "00000 iiiii mmm ddd", 4),
    ("T_LSR_imm",  "00001 iiiii mmm ddd", 4),
    ("T_ASR_imm",  "00010 iiiii mmm ddd", 4),
    ("T_ADD_reg3", "0001100 mmm nnn ddd", 4),
    ("T_SUB_reg3", "0001101 mmm nnn ddd", 4),
    ("T_ADD_imm3", "0001110 iii nnn ddd", 4),
    ("T_SUB_imm3", "0001111 iii nnn ddd", 4),
    ("T_MOV_imm8", "00100 ddd iiiiiiii", 4),
    ("T_CMP_imm8", "00101 nnn iiiiiiii", 4),
    ("T_ADD_imm8", "00110 ddd iiiiiiii", 4),
    ("T_SUB_imm8", "00111 ddd iiiiiiii", 4),
    ("T_ALU",      "010000 oooo mmm ddd", 4),
    ("T_ADD_hi",   "01000100 h mmmm ddd", 4),
    ("T_CMP_hi",   "01000101 h mmmm ddd", 4),
    ("T_MOV_hi",   "01000110 h mmmm ddd", 4),
    ("T_BX",       "010001110 mmmm xxx", 4),
    ("T_BLX_reg",  "010001111 mmmm xxx", 5),
    ("T_LDR_lit",  "01001 ddd iiiiiiii", 4),
    ("T_LDST_reg", "0101 ooo mmm nnn ddd", 4),
    ("T_STR_imm",  "01100 iiiii nnn ddd", 4),
    ("T_LDR_imm",  "01101 iiiii nnn ddd", 4),
    ("T_STRB_imm", "01110 iiiii nnn ddd", 4),
    ("T_LDRB_imm", "01111 iiiii nnn ddd", 4),
    ("T_STRH_imm", "10000 iiiii nnn ddd", 4),
    ("T_LDRH_imm", "10001 iiiii nnn ddd", 4),
    ("T_STR_sp",   "10010 ddd iiiiiiii", 4),
    ("T_LDR_sp",   "10011 ddd iiiiiiii", 4),
    ("T_ADR",      "10100 ddd iiiiiiii", 4),
    ("T_ADD_spi",  "10101 ddd iiiiiiii", 4),
    ("T_ADD_sp",   "101100000 iiiiiii", 4),
    ("T_SUB_sp",   "101100001 iiiiiii", 4),
    ("T_CBZ",      "1011 o0i1 iiiii nnn", 7),
    ("T_SXTH",     "1011001000 mmm ddd", 6),
    ("T_SXTB",     "1011001001 mmm ddd", 6),
    ("T_UXTH",     "1011001010 mmm ddd", 6),
    ("T_UXTB",     "1011001011 mmm ddd", 6),
    ("T_PUSH",     "1011010h kkkkkkkk", 4),
    ("T_CPS",      "10110110011o0fff", 6),
    ("T_REV",      "1011101000 mmm ddd", 6),
    ("T_REV16",    "1011101001 mmm ddd", 6),
    ("T_REVSH",    "1011101011 mmm ddd", 6),
    ("T_POP",      "1011110h kkkkkkkk", 4),
    ("T_BKPT",     "10111110 iiiiiiii", 5),
    ("T_IT",       "10111111 iiiiiiii", 7),
    ("T_HINT",     "10111111 iiii 0000", 7),
    ("T_STM",      "11000 nnn kkkkkkkk", 4),
    ("T_LDM",      "11001 nnn kkkkkkkk", 4),
    ("T_B_cond",   "1101 cccc iiiiiiii", 4),
    ("T_UDF",      "11011110 iiiiiiii", 4),
    ("T_SVC",      "11011111 iiiiiiii", 4),
    ("T_B",        "11100 iiiiiiiiiii", 4),
    ("T_BLX_lo",   "11101 iiiiiiiiiii", 5),
    ("T_BL_hi",    "11110 iiiiiiiiiii", 4),
    ("T_BL_lo",    "11111 iiiiiiiiiii", 4),
]

#: the rows compiled once (read-only), most specific first
COMPILED = tuple(sorted((Row(*r) for r in ROWS), key=lambda r: -r.nfixed))
#: T16 data-processing opcodes (A6.2.2) -> (A32 name, form)
ALU = ("AND", "EOR", "LSL", "LSR", "ASR", "ADC", "SBC", "ROR",
       "TST", "RSB", "CMP", "CMN", "ORR", "MUL", "BIC", "MVN")
#: T16 register-offset loads/stores (A6.2.4 opA = 0101)
LDST_REG = ("STR_reg", "STRH_reg", "STRB_reg", "LDRSB_reg", "LDR_reg", "LDRH_reg",
            "LDRB_reg", "LDRSH_reg")
HINTS = ("NOP", "YIELD", "WFE", "WFI", "SEV")
_AL = 0xE
_INDEXED = {"p": 1, "u": 1, "w": 0}


class ThumbUnsupported(Unsupported):
    """A Thumb instruction kasou does not execute (an IT block, a 32-bit
    Thumb-2 instruction other than BL/BLX)."""

    def __init__(self, pc: int, what: str):
        super().__init__(f"Thumb state at PC {pc:#010x}: {what} is not implemented")
        self.pc = pc


def _alu(f):
    op = ALU[f["opc"]]
    rd, rm = f["rd"], f["rm"]
    if op in ("LSL", "LSR", "ASR", "ROR"):     # MOVS rd, rd, <shift> rm
        return "MOV_rsr", {"rd": rd, "rn": 0, "rm": rd, "rs": rm, "s": 1,
                           "stype": ("LSL", "LSR", "ASR", "ROR").index(op)}
    if op == "RSB":                            # NEGS rd, rm = RSBS rd, rm, #0
        return "RSB_imm", {"rd": rd, "rn": rm, "rot": 0, "imm": 0, "s": 1}
    if op == "MUL":                            # MULS rd, rm, rd
        return "MUL", {"rd": rd, "rn": rm, "rm": rd, "s": 1}
    return op + "_reg", {"rd": rd, "rn": rd, "rm": rm, "s": 1, "stype": 0, "imm": 0}


def _shift(stype):
    return lambda f: ("MOV_reg", {"rd": f["rd"], "rn": 0, "rm": f["rm"], "s": 1,
                                  "stype": stype, "imm": f["imm"]})


def _imm_op(name, rd_key="rd", rn_key="rn", s=1, scale=1):
    def tr(f):
        rd = f[rd_key] if isinstance(rd_key, str) else rd_key
        rn = f[rn_key] if isinstance(rn_key, str) else rn_key
        return name, {"rd": rd, "rn": rn, "rot": 0, "imm": f["imm"] * scale, "s": s}
    return tr


def _ldst_imm(name, scale):
    return lambda f: (name, {"rt": f["rd"], "rn": f["rn"], "imm": f["imm"] * scale, **_INDEXED})


def _hi(name, s):
    def tr(f):
        rd = f["h"] << 3 | f["rd"]
        return name, {"rd": rd, "rn": rd, "rm": f["rm"], "s": s, "stype": 0, "imm": 0}
    return tr


def _ext(name):
    return lambda f: (name, {"rd": f["rd"], "rm": f["rm"], "rn": 15, "xrot": 0})


TO_A32 = {
    "T_LSL_imm": _shift(0), "T_LSR_imm": _shift(1), "T_ASR_imm": _shift(2),
    "T_ADD_reg3": lambda f: ("ADD_reg", {**f, "s": 1, "stype": 0, "imm": 0}),
    "T_SUB_reg3": lambda f: ("SUB_reg", {**f, "s": 1, "stype": 0, "imm": 0}),
    "T_ADD_imm3": _imm_op("ADD_imm"), "T_SUB_imm3": _imm_op("SUB_imm"),
    "T_MOV_imm8": _imm_op("MOV_imm", rn_key=0),
    "T_CMP_imm8": _imm_op("CMP_imm", rd_key=0),
    "T_ADD_imm8": _imm_op("ADD_imm", rn_key="rd"), "T_SUB_imm8": _imm_op("SUB_imm", rn_key="rd"),
    "T_ALU": _alu,
    "T_ADD_hi": _hi("ADD_reg", 0), "T_CMP_hi": _hi("CMP_reg", 1), "T_MOV_hi": _hi("MOV_reg", 0),
    "T_BX": lambda f: ("BX", f), "T_BLX_reg": lambda f: ("BLX_reg", f),
    "T_LDST_reg": lambda f: (LDST_REG[f["opc"]], {"rt": f["rd"], "rn": f["rn"], "rm": f["rm"],
                                                  "stype": 0, "imm": 0, **_INDEXED}),
    "T_STR_imm": _ldst_imm("STR_imm", 4), "T_LDR_imm": _ldst_imm("LDR_imm", 4),
    "T_STRB_imm": _ldst_imm("STRB_imm", 1), "T_LDRB_imm": _ldst_imm("LDRB_imm", 1),
    "T_STRH_imm": _ldst_imm("STRH_imm", 2), "T_LDRH_imm": _ldst_imm("LDRH_imm", 2),
    "T_STR_sp": lambda f: ("STR_imm", {"rt": f["rd"], "rn": 13, "imm": 4 * f["imm"], **_INDEXED}),
    "T_LDR_sp": lambda f: ("LDR_imm", {"rt": f["rd"], "rn": 13, "imm": 4 * f["imm"], **_INDEXED}),
    "T_ADD_spi": _imm_op("ADD_imm", rn_key=13, s=0, scale=4),
    "T_ADD_sp": _imm_op("ADD_imm", rd_key=13, rn_key=13, s=0, scale=4),
    "T_SUB_sp": _imm_op("SUB_imm", rd_key=13, rn_key=13, s=0, scale=4),
    "T_SXTH": _ext("SXTH"), "T_SXTB": _ext("SXTB"), "T_UXTH": _ext("UXTH"), "T_UXTB": _ext("UXTB"),
    "T_REV": lambda f: ("REV", f), "T_REV16": lambda f: ("REV16", f),
    "T_REVSH": lambda f: ("REVSH", f),
    "T_PUSH": lambda f: ("STM", {"p": 1, "u": 0, "w": 1, "rn": 13, "user": 0,
                                 "regs": f["regs"] | f["h"] << 14}),
    "T_POP": lambda f: ("LDM", {"p": 0, "u": 1, "w": 1, "rn": 13, "user": 0,
                                "regs": f["regs"] | f["h"] << 15}),
    "T_STM": lambda f: ("STM", {"p": 0, "u": 1, "w": 1, "rn": f["rn"], "user": 0,
                                "regs": f["regs"]}),
    "T_LDM": lambda f: ("LDM", {"p": 0, "u": 1, "w": 0 if f["regs"] >> f["rn"] & 1 else 1,
                                "rn": f["rn"], "user": 0, "regs": f["regs"]}),
    "T_CPS": lambda f: ("CPS", {"opc": 2 | f["opc"], "mask": f["mask"], "mmod": 0, "rm": 0}),
    "T_BKPT": lambda f: ("BKPT", f), "T_SVC": lambda f: ("SVC", f),
    "T_UDF": lambda f: ("UDF", f),
    "T_HINT": lambda f: (HINTS[f["imm"]] if f["imm"] < len(HINTS) else "NOP", f),
}


class ThumbDecoder:
    """T16 decoder for one CPU model: rows newer than the model are left out
    and decode as UDF."""

    def __init__(self, model, registry):
        self.model = model
        self.registry = registry
        self.rows = [r for r in COMPILED if r.arch <= model.arch]
        self.by_top: list = [None] * 64    # bits 15:10 -> candidate rows, filled on first use
        self.udf = Row("T_UDF", "11011110 iiiiiiii", 4)
        self.a32_rows: dict[str, Row] = {}

    def row_for(self, hw: int) -> Row:
        top = hw >> 10
        cands = self.by_top[top]
        if cands is None:
            val = top << 10
            cands = self.by_top[top] = tuple(r for r in self.rows
                                             if (val ^ r.value) & r.mask & 0xFC00 == 0)
        for r in cands:
            if hw & r.mask == r.value:
                return r
        return self.udf

    def _a32_row(self, name: str) -> Row:
        row = self.a32_rows.get(name)
        if row is None:
            row = self.a32_rows[name] = Row(name, "x" * 32, 4)
        return row

    def decode_half(self, hw: int, addr: int) -> Insn:
        """The T16 halfword ``hw`` at ``addr`` as the instruction it runs as."""
        row = self.row_for(hw)
        fields = row.extract(hw)
        tr = TO_A32.get(row.name)
        if tr is None:                     # its own semantics (T_B, T_CBZ, T_LDR_lit, ...)
            name = row.name
        else:
            name, fields = tr(fields)
        if row.name != "T_B_cond":
            fields["cond"] = _AL
        i = Insn(self._a32_row(name), hw, addr, self.registry.get(name), size=2, fields=fields)
        return i

    def decode_bl32(self, hw1: int, hw2: int, addr: int) -> Insn | None:
        """BL/BLX (immediate), T32 encodings T1/T2 (A8.8.25): None for any
        other 32-bit instruction."""
        if hw1 >> 11 != 0b11110 or hw2 >> 14 != 0b11 or not hw2 & 0x1000 and hw2 & 1:
            return None
        s = hw1 >> 10 & 1
        j1, j2 = hw2 >> 13 & 1, hw2 >> 11 & 1
        i1, i2 = 1 - (j1 ^ s), 1 - (j2 ^ s)
        off = s << 24 | i1 << 23 | i2 << 22 | (hw1 & 0x3FF) << 12 | (hw2 & 0x7FF) << 1
        name = "T32_BL" if hw2 & 0x1000 else "T32_BLX"
        return Insn(self._a32_row(name), hw1 << 16 | hw2, addr, self.registry.get(name), size=4,
                    fields={"imm": off, "cond": _AL})


class ArmDecoder(Decoder):
    """The A32 decoder of a model together with the T16 decoder of the same
    model (made on first use): what the CPU switches between on CPSR.T."""

    def __init__(self, model, registry=None):
        super().__init__(model, registry)
        self._thumb = None

    def thumb(self) -> ThumbDecoder:
        if self._thumb is None:
            self._thumb = ThumbDecoder(self.model, self.registry)
        return self._thumb


#: a first halfword with these top five bits starts a 32-bit Thumb-2
#: instruction (A6.1)
T32_PREFIXES = (0b11101, 0b11110, 0b11111)


def fetch_thumb(read, pc: int, arch: int, tdec: "ThumbDecoder"):
    """Fetch and decode the Thumb instruction at ``pc`` with ``read(addr,
    size)``: a T16 halfword, or on ARMv6T2 and later BL/BLX as 32 bits;
    any other 32-bit Thumb-2 instruction raises :class:`ThumbUnsupported`
    before any state changes."""
    hw = read(pc & ~1, 2)
    if arch >= 7 and hw >> 11 in T32_PREFIXES:
        hw2 = read((pc & ~1) + 2, 2)
        insn = tdec.decode_bl32(hw, hw2, pc)
        if insn is None:
            raise ThumbUnsupported(pc, f"the 32-bit Thumb-2 instruction {hw:04x} {hw2:04x}")
        return insn
    return tdec.decode_half(hw, pc)
