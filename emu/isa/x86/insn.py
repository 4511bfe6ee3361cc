"""Decoded x86 instructions and their operands.

A decoded instruction is plain data: its encoding name, operands, sizes and
prefixes.  Semantics read it; they never look at raw bytes.
"""

from __future__ import annotations

from .disasm import format_insn, mem_text, reg_name
from .kinds import CTL, DBG, IMM, MEM, REG, SEG  # noqa: F401 -- the decoder's names for them


class Reg:
    """A general register operand; ``hi`` selects AH/CH/DH/BH.

    ``shift`` and ``keep`` let a register be read as ``(r >> shift) & mask``
    and written as ``(r & keep) | ((v & mask) << shift)`` whatever its size:
    a 32- or 64-bit write keeps nothing (SDM Vol. 1 §3.4.1.1: a 32-bit
    result is zero-extended), an 8- or 16-bit one keeps the other bits."""

    __slots__ = ("kind", "n", "size", "hi", "mask", "shift", "keep")

    def __init__(self, n: int, size: int, hi: bool = False):
        self.kind = REG
        self.n = n
        self.size = size
        self.hi = hi
        self.mask = (1 << (8 * size)) - 1
        self.shift = 8 if hi else 0
        self.keep = 0 if size >= 4 else ~(self.mask << self.shift)

    def __repr__(self):
        return reg_name(self.n, self.size, self.hi)


class Mem:
    """A memory operand: ``seg:[base + index*scale + disp]`` at address size ``asize``."""

    __slots__ = ("kind", "seg", "base", "index", "scale", "disp", "size", "asize", "amask")

    def __init__(self, seg: int, base: int, index: int, scale: int, disp: int, size: int, asize: int):
        self.kind = MEM
        self.seg = seg
        self.base = base      # register number or -1
        self.index = index    # register number or -1
        self.scale = scale
        self.disp = disp
        self.size = size      # bytes accessed (0 for LEA-style "M")
        self.asize = asize
        self.amask = (1 << (8 * asize)) - 1

    def __repr__(self):
        return mem_text(self)


class Imm:
    __slots__ = ("kind", "value", "size")

    def __init__(self, value: int, size: int):
        self.kind = IMM
        self.value = value
        self.size = size

    def __repr__(self):
        return f"0x{self.value:x}"


class SegReg:
    __slots__ = ("kind", "n", "size")

    def __init__(self, n: int):
        self.kind = SEG
        self.n = n
        self.size = 2

    def __repr__(self):
        return ("es", "cs", "ss", "ds", "fs", "gs")[self.n]


class CtlReg:
    __slots__ = ("kind", "n", "size")

    def __init__(self, kind: int, n: int, size: int):
        self.kind = kind
        self.n = n
        self.size = size

    def __repr__(self):
        return ("cr" if self.kind == CTL else "dr") + str(self.n)


class Insn:
    """One decoded instruction."""

    __slots__ = ("name", "opcode", "ops", "size", "osize", "asize", "ip", "next_ip",
                 "length", "raw", "seg", "rep", "lock", "cc", "reg", "handler",
                 "helper", "far", "rex", "mode", "rows", "repeats", "run")

    def __init__(self):
        self.ops = ()
        self.seg = None
        self.rep = 0          # 0, 0xF3 (REP/REPE) or 0xF2 (REPNE)
        self.repeats = False  # a string instruction under REP (emu.isa.core)
        self.lock = False
        self.cc = 0
        self.reg = 0
        self.far = None       # (selector, offset) for Ap
        self.rex = 0
        self.handler = None   # the semantic function (the translator traces it)
        self.run = None       # what the interpreter runs (emu.isa.x86.bind)
        self.helper = True

    @property
    def imm(self) -> int:
        for o in self.ops:
            if o.kind == IMM:
                return o.value
        raise AttributeError("no immediate")

    def __repr__(self):
        return format_insn(self)
