"""The x86 decoder, compiled from the opcode map in :mod:`table`.

Decoding is data-driven: the rows of ``table.py`` are compiled, once per CPU
model, into 256-entry dispatch arrays (one-byte and 0F maps) whose entries
are a row, a group (ModR/M reg field -> row) or a prefix.  The same tables
feed the interpreter, the translator, the disassembler and ``emu coverage``.
Prefix and ModR/M/SIB decoding follow SDM Vol. 2A §2.1-2.2.
"""

from __future__ import annotations

import functools

from . import table
from .insn import CTL, DBG, IMM, Imm, Insn, Mem, Reg, SegReg, CtlReg
from ..ops import GuestException
from .semantics.string import REPEATING

ES, CS, SS, DS, FS, GS = range(6)
SEG_PREFIX = {0x26: ES, 0x2E: CS, 0x36: SS, 0x3E: DS, 0x64: FS, 0x65: GS}
FIXED_REGS = {"AL": (0, 1), "CL": (1, 1), "DX": (2, 2)}
SEG_OPS = {"ES": ES, "CS": CS, "SS": SS, "DS": DS, "FS": FS, "GS": GS}
MODRM_SPECS = ("E", "G", "M", "S", "R", "C", "D")
# Encodings LOCK may prefix, and then only with a memory destination (SDM Vol.
# 2A "LOCK"); any other use is #UD where the model says so (``lock_ud``).
LOCKABLE = frozenset(("ADD", "OR", "ADC", "SBB", "AND", "SUB", "XOR", "INC", "DEC", "NOT",
                      "NEG", "XCHG", "BTS", "BTR", "BTC", "XADD", "CMPXCHG", "CMPXCHG8B"))

# 16-bit ModR/M memory forms (SDM Vol. 2A Table 2-1): (base, index, default segment)
MODRM16 = ((3, 6, DS), (3, 7, DS), (5, 6, SS), (5, 7, SS), (6, -1, DS), (7, -1, DS), (5, -1, SS), (3, -1, DS))


class Row:
    __slots__ = ("name", "specs", "level", "attrs", "opcode", "has_modrm", "lowbits")

    def __init__(self, opcode: str, name: str, specs: str, level: int, attrs: set, lowbits: str):
        self.opcode = opcode
        self.name = name
        self.specs = tuple(s for s in specs.split(",") if s and s != "-")
        self.level = level
        self.attrs = attrs
        self.lowbits = lowbits   # "", "r" or "cc"
        self.has_modrm = "modrm" in attrs or any(
            s[0] in MODRM_SPECS and s not in SEG_OPS and s not in FIXED_REGS for s in self.specs)

    def __repr__(self):
        return f"{self.opcode} {self.name} {','.join(self.specs)}"


class Group(dict):
    """ModR/M reg field -> Row."""


PREFIX = "prefix"
ESCAPE = "escape"


def _parse(text: str, level_cap: int, one: list, two: list) -> None:
    for line in text.strip().splitlines():
        parts = line.split()
        if not parts:
            continue
        opbytes = []
        i = 0
        while i < len(parts) and (len(parts[i]) == 2 or "/" in parts[i] or "+" in parts[i]) \
                and all(c in "0123456789ABCDEF/+rc" for c in parts[i]) and parts[i] not in ("CL",):
            opbytes.append(parts[i])
            i += 1
        name = parts[i]
        specs = parts[i + 1] if i + 1 < len(parts) else "-"
        level, attrs = 86, set()
        for extra in parts[i + 2:]:
            if extra.isdigit():
                level = int(extra)
            else:
                attrs.add(extra)
        if level > level_cap:
            continue
        last = opbytes[-1]
        reg = None
        lowbits = ""
        if "/" in last:
            last, r = last.split("/")
            reg = int(r)
        if "+" in last:
            last, lowbits = last.split("+")
        code = int(last, 16)
        tbl = two if len(opbytes) == 2 else one
        opcode = " ".join(opbytes)
        row = Row(opcode, name, specs, level, attrs, lowbits)
        span = 16 if lowbits == "cc" else (8 if lowbits == "r" else 1)
        for c in range(code, code + span):
            if reg is None:
                tbl[c] = row
            else:
                g = tbl[c] if isinstance(tbl[c], Group) else Group()
                g[reg] = row
                tbl[c] = g


class DecodeTables:
    """The dispatch arrays for one CPU model."""

    def __init__(self, model: str):
        self.model = model
        cap = table.LEVELS[model]
        self.level = cap
        self.one = [None] * 256
        self.two = [None] * 256
        _parse(table.ONE_BYTE, cap, self.one, self.two)
        _parse(table.TWO_BYTE, cap, self.one, self.two)
        _parse(table.MODEL_ROWS.get(model, ""), 10 ** 6, self.one, self.two)
        for p in (0x26, 0x2E, 0x36, 0x3E, 0xF0, 0xF2, 0xF3):
            self.one[p] = PREFIX
        if cap >= 386:
            for p in (0x64, 0x65, 0x66, 0x67):
                self.one[p] = PREFIX
        if model == "8086":
            self.one[0xF1] = PREFIX      # a second LOCK on the 8086
        else:
            self.one[0x0F] = ESCAPE
        # 64-bit mode: the same map with the LONG64_ROWS in place (only models
        # with long mode reach it; a row above the model's level is left out)
        self.one64 = list(self.one)
        self.two64 = list(self.two)
        _parse(table.LONG64_ROWS, cap, self.one64, self.two64)

    def rows(self):
        """Every distinct row (for coverage and the disassembler)."""
        seen = {}
        for tbl in (self.one, self.two, self.one64, self.two64):
            for e in tbl:
                if isinstance(e, Row):
                    seen[id(e)] = e
                elif isinstance(e, Group):
                    for r in e.values():
                        seen[id(r)] = r
        return list(seen.values())


@functools.lru_cache(maxsize=None)
def tables(model: str) -> DecodeTables:
    """The compiled tables for a model (built once; read-only afterwards)."""
    return DecodeTables(model)


class Decoder:
    """Decodes instructions for one CPU model in one code-segment mode.

    ``default_size`` is 2 or 4 (CS.D), ``long64`` selects 64-bit mode."""

    def __init__(self, model: str, default_size: int = 2, long64: bool = False, registry=None):
        self.t = tables(model)
        self.model = model
        self.default_size = 4 if long64 else default_size
        self.long64 = long64
        self.registry = registry
        from .models import get_model
        cpu = get_model(model)
        self.max_len = cpu.max_insn_len      # 10 on the 286 (iAPX 286 PRM §B), 15 later
        self.lock_ud = cpu.lock_ud
        self.ip_wraps = cpu.ip_wraps        # False: IP carries into bit 16 (model docstring)
        self.seg_regs = cpu.seg_reg_count
        self.undefined = None

    def decode(self, fetch, ip: int) -> Insn:
        """Decode the instruction at ``ip``; ``fetch(i)`` returns byte i of it.

        Raises GuestException(#UD) for an invalid encoding and
        GuestException(#GP) when it is longer than 15 bytes."""
        t = self.t
        long64 = self.long64
        one, two = (t.one64, t.two64) if long64 else (t.one, t.two)
        osize = asize = self.default_size
        if long64:
            asize = 8
        insn = Insn()
        pos = 0
        seg = None
        rep = 0
        lock = False
        rex = 0
        opsz_prefix = False
        while True:
            if pos >= self.max_len:
                raise GuestException(13, 0, f"instruction longer than {self.max_len} bytes")
            b = fetch(pos)
            pos += 1
            e = one[b]
            if e is PREFIX:
                rex = 0
                if b in SEG_PREFIX:
                    if not long64 or b >= 0x64:
                        seg = SEG_PREFIX[b]
                elif b == 0x66:
                    opsz_prefix = True
                elif b == 0x67:
                    asize = (4 if asize == 8 else (2 if asize == 4 else 4))
                    if long64:
                        asize = 4
                elif b in (0xF2, 0xF3):
                    rep = b
                else:
                    lock = True
                continue
            if long64 and 0x40 <= b <= 0x4F:
                rex = b
                continue
            break
        if opsz_prefix:
            osize = 4 if self.default_size == 2 else 2
        if rex & 8:
            osize = 8
        opcode = b
        if e is ESCAPE:
            b = fetch(pos)
            pos += 1
            e = two[b]
            opcode = 0x0F00 | b
        modrm = None
        if isinstance(e, Group):
            modrm = fetch(pos)
            pos += 1
            e = e.get((modrm >> 3) & 7)
        if e is None:
            raise GuestException(6, None, f"undefined opcode {opcode:x}")
        row = e
        attrs = row.attrs
        if long64:
            if "i64" in attrs:
                raise GuestException(6, None, f"{row.name} is invalid in 64-bit mode")
            if "f64" in attrs or ("d64" in attrs and not opsz_prefix):
                osize = 8
        if row.has_modrm and modrm is None:
            modrm = fetch(pos)
            pos += 1
        insn.name = row.name
        insn.rows = row
        insn.opcode = opcode
        insn.osize = osize
        insn.asize = asize
        insn.seg = seg
        insn.rep = rep
        insn.repeats = rep != 0 and row.name in REPEATING
        insn.lock = lock
        insn.rex = rex
        insn.cc = opcode & 0xF
        low = opcode & 7
        if rex & 1:
            low |= 8
        ops = []
        size = 0
        mem = None
        reg_field = 0
        if modrm is not None:
            reg_field = (modrm >> 3) & 7
            insn.reg = reg_field
            mod = modrm >> 6
            rm = modrm & 7
            if mod != 3:
                pos, mem = self._modrm_mem(fetch, pos, mod, rm, asize, seg, rex)
        imm_rel = None
        string_size = 0
        for spec in row.specs:
            k = spec[0]
            if spec in FIXED_REGS:
                n, sz = FIXED_REGS[spec]
                ops.append(Reg(n, sz))
            elif spec in SEG_OPS:
                ops.append(SegReg(SEG_OPS[spec]))
            elif spec == "rAX" or spec == "eAX":
                sz = osize if spec == "rAX" else min(osize, 4)
                ops.append(Reg(0, sz))
            elif spec == "1":
                ops.append(Imm(1, 1))
            elif k == "s":          # sIb
                v = fetch(pos)
                pos += 1
                if v & 0x80:
                    v -= 0x100
                ops.append(Imm(v & ((1 << (8 * osize)) - 1), osize))
            else:
                # Ry: MOV to/from CRn/DRn move 64 bits in 64-bit mode whatever
                # the operand size (SDM Vol. 2B "MOV -- Move to/from Control Registers")
                sz = (8 if long64 else 4) if spec == "Ry" else self._size(spec[1:], osize)
                if k in ("E", "M", "R"):
                    if mem is not None:
                        if k == "R":
                            raise GuestException(6, None, "register operand required")
                        if spec == "Mp":
                            sz = osize + 2 if osize != 8 else 10
                        mem.size = 0 if spec == "M" else sz
                        ops.append(mem)
                    else:
                        if k == "M":
                            raise GuestException(6, None, f"{row.name} needs a memory operand")
                        rmn = (modrm & 7) | (8 if rex & 1 else 0)
                        ops.append(self._reg(rmn, sz, rex))
                elif k == "G":
                    n = reg_field | (8 if rex & 4 else 0)
                    ops.append(self._reg(n, sz, rex))
                elif k == "S":
                    if reg_field >= self.seg_regs:
                        if self.model != "8086":
                            raise GuestException(6, None, "no such segment register")
                        reg_field &= 3       # the 8086 ignores bit 2 of the field
                    ops.append(SegReg(reg_field))
                elif k == "C" or k == "D":
                    n = reg_field | (8 if rex & 4 else 0)
                    ops.append(CtlReg(CTL if k == "C" else DBG, n, 8 if long64 else 4))
                elif k == "Z":
                    ops.append(self._reg(low, sz, rex))
                elif k == "I":
                    code = spec[1:]
                    nbytes = 1 if code == "b" else (2 if code == "w" else
                                                    (min(osize, 4) if code == "z" else osize))
                    sz = nbytes if code in ("b", "w") else osize
                    v = 0
                    for j in range(nbytes):
                        v |= fetch(pos + j) << (8 * j)
                    pos += nbytes
                    if nbytes < sz and v & (1 << (8 * nbytes - 1)):
                        v = (v - (1 << (8 * nbytes))) & ((1 << (8 * sz)) - 1)
                    ops.append(Imm(v, sz))
                elif k == "J":
                    nbytes = 1 if spec == "Jb" else min(osize, 4)
                    v = 0
                    for j in range(nbytes):
                        v |= fetch(pos + j) << (8 * j)
                    pos += nbytes
                    if v & (1 << (8 * nbytes - 1)):
                        v -= 1 << (8 * nbytes)
                    imm_rel = len(ops)
                    ops.append(Imm(v, osize))
                elif k == "A":
                    off = 0
                    n = min(osize, 4)
                    for j in range(n):
                        off |= fetch(pos + j) << (8 * j)
                    pos += n
                    sel = fetch(pos) | (fetch(pos + 1) << 8)
                    pos += 2
                    insn.far = (sel, off)
                    ops.append(Imm(off, n))
                    ops.append(Imm(sel, 2))
                elif k == "O":
                    v = 0
                    for j in range(asize):
                        v |= fetch(pos + j) << (8 * j)
                    pos += asize
                    ops.append(Mem(DS if seg is None else seg, -1, -1, 1, v, sz, asize))
                elif k == "X" or k == "Y":
                    string_size = sz    # string operands: implicit rSI / rDI
                else:
                    raise ValueError(f"unknown operand spec {spec} in {row}")
            if not size and ops:
                size = ops[-1].size
        if string_size:
            size = string_size
        if not size:
            size = osize
        if pos > self.max_len:
            raise GuestException(13, 0, f"instruction longer than {self.max_len} bytes")
        insn.size = size
        insn.length = pos
        insn.ip = ip
        ipmask = 0xFFFFFFFFFFFFFFFF if long64 else (0xFFFFFFFF if osize == 4 else 0xFFFF)
        if not long64 and self.default_size == 2 and osize == 2 and self.ip_wraps:
            next_ip = (ip + pos) & 0xFFFF
        else:
            next_ip = (ip + pos) & (0xFFFFFFFFFFFFFFFF if long64 else 0xFFFFFFFF)
        insn.next_ip = next_ip
        if imm_rel is not None:
            ops[imm_rel] = Imm((next_ip + ops[imm_rel].value) & ipmask, osize)
        if mem is not None and mem.base == -2:     # RIP-relative
            mem.base = -1
            mem.disp = (next_ip + mem.disp) & 0xFFFFFFFFFFFFFFFF
        if lock and self.lock_ud and not (row.name in LOCKABLE and mem is not None
                                          and ops and ops[0] is mem):
            raise GuestException(6, None, f"LOCK prefix on {row.name} without a memory "
                                          f"destination")
        insn.ops = tuple(ops)
        insn.raw = bytes(fetch(i) for i in range(pos))
        if self.registry is not None:
            fn = self.registry.get(row.name)
            insn.handler = fn
            h = getattr(fn, "is_helper", True)
            insn.helper = fn is None or h is True or (h == "rep" and rep != 0)
        return insn

    @staticmethod
    def _size(code: str, osize: int) -> int:
        if code == "b":
            return 1
        if code == "w":
            return 2
        if code == "d":
            return 4
        if code == "q":
            return 8
        if code == "z":
            return min(osize, 4)
        return osize        # v, p, a, "" (M)

    def _reg(self, n: int, size: int, rex: int) -> Reg:
        if size == 1 and not rex and 4 <= n < 8:
            return Reg(n - 4, 1, hi=True)
        return Reg(n, size)

    def _modrm_mem(self, fetch, pos, mod, rm, asize, seg, rex):
        if asize == 2:
            base, index, dseg = MODRM16[rm]
            disp = 0
            if mod == 0 and rm == 6:
                base, dseg = -1, DS
                disp = fetch(pos) | (fetch(pos + 1) << 8)
                pos += 2
            elif mod == 1:
                disp = fetch(pos)
                pos += 1
                if disp & 0x80:
                    disp -= 0x100
            elif mod == 2:
                disp = fetch(pos) | (fetch(pos + 1) << 8)
                pos += 2
            return pos, Mem(dseg if seg is None else seg, base, index, 1, disp & 0xFFFF, 0, 2)
        # 32/64-bit forms (SDM Vol. 2A Tables 2-2 and 2-3)
        base = rm | (8 if rex & 1 else 0)
        index, scale = -1, 1
        if rm == 4:
            sib = fetch(pos)
            pos += 1
            scale = 1 << (sib >> 6)
            idx = ((sib >> 3) & 7) | (8 if rex & 2 else 0)
            index = -1 if idx == 4 else idx
            base = (sib & 7) | (8 if rex & 1 else 0)
            if (sib & 7) == 5 and mod == 0:
                base = -1
        elif rm == 5 and mod == 0:
            base = -2 if self.long64 else -1
        disp = 0
        nd = 4 if (mod == 2 or base in (-1, -2)) else (1 if mod == 1 else 0)
        for j in range(nd):
            disp |= fetch(pos + j) << (8 * j)
        pos += nd
        if nd and disp & (1 << (8 * nd - 1)):
            disp -= 1 << (8 * nd)
        dseg = SS if base in (4, 5) else DS
        amask = (1 << (8 * asize)) - 1
        return pos, Mem(dseg if seg is None else seg, base, index, scale,
                        disp if base == -2 else disp & amask, 0, asize)
