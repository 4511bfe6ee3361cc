"""A32 encodings as data, and the decoder built from them.

Each row of :data:`ROWS` is one encoding, written as in the encoding
diagrams of the ARM ARM (ARM DDI 0406C, chapter A5 "ARM Instruction Set
Encoding" and the per-instruction pages of A8.8): thirty-two characters,
most significant bit first, spaces ignored; ``0``/``1`` are fixed bits,
``x`` is a bit the decoder ignores (SBZ/SBO), and a letter is a bit of the
field :data:`LETTERS` names.  A field's bits are concatenated in the order
they appear, so ``imm4:imm12`` (MOVW) and ``imm4H:imm4L`` (LDRH) read as one
number.  The last column is the first architecture version that has the
encoding (4 = ARMv4T).

The condition field (bits 31:28) is decoded generically: every row with a
``cccc`` prefix is conditional; rows whose prefix is ``1111`` live in the
unconditional space (A5.7), which an ARMv4 model does not have (there the
condition NV never passes, DDI 0100I A3.2.1).

The decoder dispatches on bits 27:20 and 7:4 through a 4096-entry table of
candidate rows, most specific first (the dynarmic approach), each entry
filled on first use, and caches the encoding of each word seen.
"""

from __future__ import annotations

LETTERS = {
    "c": "cond", "o": "opc", "s": "s", "n": "rn", "d": "rd", "m": "rm", "r": "rs",
    "t": "stype", "i": "imm", "R": "rot", "p": "p", "u": "u", "w": "w", "X": "spsr",
    "f": "mask", "k": "regs", "g": "msb", "e": "lsb", "j": "xrot", "T": "rt", "a": "ra",
    "H": "rdhi", "L": "rdlo", "S": "user", "h": "h", "C": "coproc", "O": "opc2",
    "D": "dbit", "M": "mmod",
}
FIELDS = tuple(LETTERS.values())

DP_OPS = ("AND", "EOR", "SUB", "RSB", "ADD", "ADC", "SBC", "RSC",
          "TST", "TEQ", "CMP", "CMN", "ORR", "MOV", "BIC", "MVN")
DP_TEST = {"TST", "TEQ", "CMP", "CMN"}       # S is 1; the S=0 space is A5.2.12


def _dp_rows():
    rows = []
    for k, op in enumerate(DP_OPS):
        bits = format(k, "04b")
        s = "1" if op in DP_TEST else "s"
        rows += [
            (op + "_imm", f"cccc 001{bits[0]} {bits[1:]}{s} nnnn dddd RRRR iiii iiii", 4),
            (op + "_reg", f"cccc 000{bits[0]} {bits[1:]}{s} nnnn dddd iiii itt0 mmmm", 4),
            (op + "_rsr", f"cccc 000{bits[0]} {bits[1:]}{s} nnnn dddd rrrr 0tt1 mmmm", 4),
        ]
    return rows


ROWS = _dp_rows() + [
    # multiply (A5.2.5)
    ("MUL",     "cccc 0000 000s dddd xxxx mmmm 1001 nnnn", 4),
    ("MLA",     "cccc 0000 001s dddd aaaa mmmm 1001 nnnn", 4),
    ("MLS",     "cccc 0000 0110 dddd aaaa mmmm 1001 nnnn", 7),
    ("UMULL",   "cccc 0000 100s HHHH LLLL mmmm 1001 nnnn", 4),
    ("UMLAL",   "cccc 0000 101s HHHH LLLL mmmm 1001 nnnn", 4),
    ("SMULL",   "cccc 0000 110s HHHH LLLL mmmm 1001 nnnn", 4),
    ("SMLAL",   "cccc 0000 111s HHHH LLLL mmmm 1001 nnnn", 4),
    # synchronisation (A5.2.10); bits 11:8 of the exclusives are 1111 (ARMv8
    # gives the other values to the acquire/release forms)
    ("SWP",     "cccc 0001 0000 nnnn TTTT xxxx 1001 mmmm", 4),
    ("SWPB",    "cccc 0001 0100 nnnn TTTT xxxx 1001 mmmm", 4),
    ("STREX",   "cccc 0001 1000 nnnn dddd 1111 1001 TTTT", 6),
    ("LDREX",   "cccc 0001 1001 nnnn TTTT 1111 1001 1111", 6),
    ("STREXB",  "cccc 0001 1100 nnnn dddd 1111 1001 TTTT", 7),
    ("LDREXB",  "cccc 0001 1101 nnnn TTTT 1111 1001 1111", 7),
    ("STREXH",  "cccc 0001 1110 nnnn dddd 1111 1001 TTTT", 7),
    ("LDREXH",  "cccc 0001 1111 nnnn TTTT 1111 1001 1111", 7),
    # extra load/store (A5.2.8)
    ("STRH_reg",  "cccc 000p u0w0 nnnn TTTT xxxx 1011 mmmm", 4),
    ("STRH_imm",  "cccc 000p u1w0 nnnn TTTT iiii 1011 iiii", 4),
    ("LDRH_reg",  "cccc 000p u0w1 nnnn TTTT xxxx 1011 mmmm", 4),
    ("LDRH_imm",  "cccc 000p u1w1 nnnn TTTT iiii 1011 iiii", 4),
    ("LDRD_reg",  "cccc 000p u0w0 nnnn TTTT xxxx 1101 mmmm", 5),
    ("LDRD_imm",  "cccc 000p u1w0 nnnn TTTT iiii 1101 iiii", 5),
    ("STRD_reg",  "cccc 000p u0w0 nnnn TTTT xxxx 1111 mmmm", 5),
    ("STRD_imm",  "cccc 000p u1w0 nnnn TTTT iiii 1111 iiii", 5),
    ("LDRSB_reg", "cccc 000p u0w1 nnnn TTTT xxxx 1101 mmmm", 4),
    ("LDRSB_imm", "cccc 000p u1w1 nnnn TTTT iiii 1101 iiii", 4),
    ("LDRSH_reg", "cccc 000p u0w1 nnnn TTTT xxxx 1111 mmmm", 4),
    ("LDRSH_imm", "cccc 000p u1w1 nnnn TTTT iiii 1111 iiii", 4),
    # miscellaneous (A5.2.12) and MSR immediate / hints (A5.2.11)
    ("MRS",     "cccc 0001 0X00 xxxx dddd xxxx 0000 xxxx", 4),
    ("MSR_reg", "cccc 0001 0X10 ffff xxxx xxxx 0000 mmmm", 4),
    ("MSR_imm", "cccc 0011 0X10 ffff xxxx RRRR iiii iiii", 4),
    ("MRS_banked", "cccc 0001 0X00 xxxx dddd xx1x 0000 xxxx", 7),
    ("MSR_banked", "cccc 0001 0X10 xxxx xxxx xx1x 0000 mmmm", 7),
    ("NOP",     "cccc 0011 0010 0000 xxxx xxxx 0000 0000", 6),
    ("YIELD",   "cccc 0011 0010 0000 xxxx xxxx 0000 0001", 6),
    ("WFE",     "cccc 0011 0010 0000 xxxx xxxx 0000 0010", 6),
    ("WFI",     "cccc 0011 0010 0000 xxxx xxxx 0000 0011", 6),
    ("SEV",     "cccc 0011 0010 0000 xxxx xxxx 0000 0100", 6),
    ("BX",      "cccc 0001 0010 xxxx xxxx xxxx 0001 mmmm", 4),
    ("BLX_reg", "cccc 0001 0010 xxxx xxxx xxxx 0011 mmmm", 5),
    ("CLZ",     "cccc 0001 0110 xxxx dddd xxxx 0001 mmmm", 5),
    ("BKPT",    "cccc 0001 0010 iiii iiii iiii 0111 iiii", 5),
    # v6T2 wide moves and the media instructions (A5.4)
    ("MOVW",    "cccc 0011 0000 iiii dddd iiii iiii iiii", 7),
    ("MOVT",    "cccc 0011 0100 iiii dddd iiii iiii iiii", 7),
    ("REV",     "cccc 0110 1011 xxxx dddd xxxx 0011 mmmm", 6),
    ("REV16",   "cccc 0110 1011 xxxx dddd xxxx 1011 mmmm", 6),
    ("RBIT",    "cccc 0110 1111 xxxx dddd xxxx 0011 mmmm", 7),
    ("REVSH",   "cccc 0110 1111 xxxx dddd xxxx 1011 mmmm", 6),
    ("SXTAB16", "cccc 0110 1000 nnnn dddd jjxx 0111 mmmm", 6),
    ("SXTB16",  "cccc 0110 1000 1111 dddd jjxx 0111 mmmm", 6),
    ("SXTAB",   "cccc 0110 1010 nnnn dddd jjxx 0111 mmmm", 6),
    ("SXTB",    "cccc 0110 1010 1111 dddd jjxx 0111 mmmm", 6),
    ("SXTAH",   "cccc 0110 1011 nnnn dddd jjxx 0111 mmmm", 6),
    ("SXTH",    "cccc 0110 1011 1111 dddd jjxx 0111 mmmm", 6),
    ("UXTAB16", "cccc 0110 1100 nnnn dddd jjxx 0111 mmmm", 6),
    ("UXTB16",  "cccc 0110 1100 1111 dddd jjxx 0111 mmmm", 6),
    ("UXTAB",   "cccc 0110 1110 nnnn dddd jjxx 0111 mmmm", 6),
    ("UXTB",    "cccc 0110 1110 1111 dddd jjxx 0111 mmmm", 6),
    ("UXTAH",   "cccc 0110 1111 nnnn dddd jjxx 0111 mmmm", 6),
    ("UXTH",    "cccc 0110 1111 1111 dddd jjxx 0111 mmmm", 6),
    ("SBFX",    "cccc 0111 101g gggg dddd eeee e101 nnnn", 7),
    ("UBFX",    "cccc 0111 111g gggg dddd eeee e101 nnnn", 7),
    ("BFI",     "cccc 0111 110g gggg dddd eeee e001 nnnn", 7),
    ("BFC",     "cccc 0111 110g gggg dddd eeee e001 1111", 7),
    ("SDIV",    "cccc 0111 0001 dddd xxxx mmmm 0001 nnnn", 7),
    ("UDIV",    "cccc 0111 0011 dddd xxxx mmmm 0001 nnnn", 7),
    ("UDF",     "cccc 0111 1111 iiii iiii iiii 1111 iiii", 4),
    # word and unsigned byte load/store (A5.3)
    ("STR_imm",  "cccc 010p u0w0 nnnn TTTT iiii iiii iiii", 4),
    ("STRB_imm", "cccc 010p u1w0 nnnn TTTT iiii iiii iiii", 4),
    ("LDR_imm",  "cccc 010p u0w1 nnnn TTTT iiii iiii iiii", 4),
    ("LDRB_imm", "cccc 010p u1w1 nnnn TTTT iiii iiii iiii", 4),
    ("STR_reg",  "cccc 011p u0w0 nnnn TTTT iiii itt0 mmmm", 4),
    ("STRB_reg", "cccc 011p u1w0 nnnn TTTT iiii itt0 mmmm", 4),
    ("LDR_reg",  "cccc 011p u0w1 nnnn TTTT iiii itt0 mmmm", 4),
    ("LDRB_reg", "cccc 011p u1w1 nnnn TTTT iiii itt0 mmmm", 4),
    # block transfer (A5.5)
    ("STM",     "cccc 100p uSw0 nnnn kkkk kkkk kkkk kkkk", 4),
    ("LDM",     "cccc 100p uSw1 nnnn kkkk kkkk kkkk kkkk", 4),
    # branches and supervisor call (A5.5, A5.6)
    ("B",       "cccc 1010 iiii iiii iiii iiii iiii iiii", 4),
    ("BL",      "cccc 1011 iiii iiii iiii iiii iiii iiii", 4),
    ("SVC",     "cccc 1111 iiii iiii iiii iiii iiii iiii", 4),
    # coprocessor (A5.6): CP15 only, the rest UNDEFINED
    ("STC",     "cccc 110p uDw0 nnnn dddd CCCC iiii iiii", 4),
    ("LDC",     "cccc 110p uDw1 nnnn dddd CCCC iiii iiii", 4),
    ("MCRR",    "cccc 1100 0100 nnnn TTTT CCCC oooo mmmm", 5),
    ("MRRC",    "cccc 1100 0101 nnnn TTTT CCCC oooo mmmm", 5),
    ("CDP",     "cccc 1110 oooo nnnn dddd CCCC OOO0 mmmm", 4),
    ("MCR",     "cccc 1110 ooo0 nnnn TTTT CCCC OOO1 mmmm", 4),
    ("MRC",     "cccc 1110 ooo1 nnnn TTTT CCCC OOO1 mmmm", 4),
    # unconditional space (A5.7)
    ("BLX_imm", "1111 101h iiii iiii iiii iiii iiii iiii", 5),
    ("CPS",     "1111 0001 0000 ooMx xxxx xxxf ff0m mmmm", 6),
    ("CLREX",   "1111 0101 0111 xxxx xxxx xxxx 0001 xxxx", 6),
    ("DSB",     "1111 0101 0111 xxxx xxxx xxxx 0100 iiii", 7),
    ("DMB",     "1111 0101 0111 xxxx xxxx xxxx 0101 iiii", 7),
    ("ISB",     "1111 0101 0111 xxxx xxxx xxxx 0110 iiii", 7),
    ("PLD_imm", "1111 0101 u101 nnnn xxxx iiii iiii iiii", 7),
    ("PLD_reg", "1111 0111 u101 nnnn xxxx iiii itt0 mmmm", 7),
]


class Row:
    """One encoding, compiled: mask/value and field extractors."""

    __slots__ = ("name", "pattern", "arch", "mask", "value", "fields", "uncond", "nfixed")

    def __init__(self, name: str, pattern: str, arch: int):
        bits = pattern.replace(" ", "")
        if len(bits) not in (16, 32):
            raise ValueError(f"{name}: pattern has {len(bits)} bits, expected 32 (or 16: T16)")
        self.name, self.pattern, self.arch = name, pattern, arch
        self.uncond = len(bits) == 32 and bits.startswith("1111")
        mask = value = 0
        spans: dict[str, list] = {}
        for k, ch in enumerate(bits):
            bit = len(bits) - 1 - k
            if ch in "01":
                mask |= 1 << bit
                value |= int(ch) << bit
            elif ch != "x":
                if ch not in LETTERS:
                    raise ValueError(f"{name}: unknown field letter {ch!r}")
                runs = spans.setdefault(LETTERS[ch], [])
                if runs and runs[-1][1] == bit + 1:
                    runs[-1][1] = bit
                else:
                    runs.append([bit, bit])
        self.mask, self.value = mask, value
        # field -> ((shift, width), ...), high part first
        self.fields = {f: tuple((lo, hi - lo + 1) for hi, lo in runs) for f, runs in spans.items()}
        self.nfixed = bin(mask).count("1")

    def extract(self, word: int) -> dict:
        out = {}
        for f, parts in self.fields.items():
            v = 0
            for lo, width in parts:
                v = (v << width) | ((word >> lo) & ((1 << width) - 1))
            out[f] = v
        return out


class Insn:
    """One decoded A32 instruction: the encoding's name and its fields."""

    __slots__ = ("name", "word", "addr", "row", "handler", "size") + FIELDS

    def __init__(self, row: Row, word: int, addr: int, handler=None, size: int = 4, fields=None):
        self.name, self.word, self.addr = row.name, word, addr
        self.row, self.handler = row, handler
        self.size = size
        for f in FIELDS:
            setattr(self, f, None)
        for f, v in (row.extract(word) if fields is None else fields).items():
            setattr(self, f, v)
        if self.cond is None:
            self.cond = 0xE             # the unconditional space (A5.7) always executes

    @property
    def next_ip(self) -> int:
        return (self.addr + self.size) & 0xFFFFFFFF

    def __repr__(self) -> str:
        return f"<Insn {self.name} {self.word:08x} @ {self.addr:#x}>"


UNDEFINED = Row("UNDEFINED", "xxxx " * 8, 4)
#: the rows compiled once (read-only), most specific first
COMPILED = tuple(sorted((Row(*r) for r in ROWS), key=lambda r: -r.nfixed))

_KEY_BITS = 0x0FF000F0


def _key(word: int) -> int:
    return ((word >> 16) & 0xFF0) | ((word >> 4) & 0xF)


def _key_of_parts(k: int) -> tuple[int, int]:
    """(mask, value) over the word of dispatch key ``k``."""
    return _KEY_BITS, ((k & 0xFF0) << 16) | ((k & 0xF) << 4)


class Decoder:
    """A32 decoder for one CPU model: rows newer than the model are left out
    (they decode as UNDEFINED).  A dispatch bucket is built the first time
    a word lands in it, so a decoder costs nothing to make; each decoder
    owns its buckets and its cache (no state is shared between two)."""

    def __init__(self, model, registry=None):
        self.model = model
        self.registry = registry
        rows = [r for r in COMPILED if r.arch <= model.arch]
        self.cond_rows = [r for r in rows if not r.uncond]
        self.uncond_rows = [r for r in rows if r.uncond] if model.arch >= 5 else None
        self.cond_table: list = [None] * 4096
        self.uncond_table: list = [None] * 4096
        self.cache: dict[int, Row] = {}
        self.insns: dict[int, Insn] = {}

    @staticmethod
    def _bucket(rows, k: int) -> tuple:
        km, kv = _key_of_parts(k)
        return tuple(r for r in rows if (kv ^ r.value) & r.mask & km == 0)

    def row_for(self, word: int) -> Row:
        """The encoding of ``word`` (UNDEFINED if none); condition NV on an
        ARMv4 model decodes as its conditional row (it never passes)."""
        hit = self.cache.get(word)
        if hit is not None:
            return hit
        k = _key(word)
        if word >> 28 == 0xF and self.uncond_rows is not None:
            table, rows = self.uncond_table, self.uncond_rows
        else:
            table, rows = self.cond_table, self.cond_rows
        cands = table[k]
        if cands is None:
            cands = table[k] = self._bucket(rows, k)
        row = UNDEFINED
        for r in cands:
            if word & r.mask == r.value:
                row = r
                break
        if len(self.cache) > 65536:
            self.cache.clear()
        self.cache[word] = row
        return row

    def decode_word(self, word: int, addr: int = 0) -> Insn:
        """The Insn for ``word`` at ``addr``; Insns are read-only once made,
        so one is kept per (word, address) and handed out again."""
        key = word | addr << 32
        insn = self.insns.get(key)
        if insn is None:
            row = self.row_for(word)
            handler = self.registry.get(row.name) if self.registry is not None else None
            insn = Insn(row, word, addr, handler)
            if len(self.insns) > 65536:
                self.insns.clear()
            self.insns[key] = insn
        return insn

    def decode(self, fetch, addr: int) -> Insn:
        """Decode at ``addr``; ``fetch(k)`` returns byte ``k`` of the code
        (the x86 decoder's interface)."""
        word = fetch(0) | fetch(1) << 8 | fetch(2) << 16 | fetch(3) << 24
        return self.decode_word(word, addr)
