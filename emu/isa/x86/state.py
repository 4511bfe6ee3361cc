"""The canonical x86 CPU state: the one every backend exports and imports.

Registers are kept at full 64-bit width (``regs[0..15]`` = rax, rcx, rdx,
rbx, rsp, rbp, rsi, rdi, r8..r15 -- the x86 encoding order, SDM Vol. 2A
§2.1.5), segment registers with their hidden descriptor caches in the same
shape as KVM's ``kvm_segment`` (SDM Vol. 3A §3.4.3), control registers, EFER,
the descriptor-table registers, and RFLAGS.

Flags are lazy, as in QEMU's ``cc_op``: the last flag-setting operation is
recorded (``cc_op``, ``cc_res``, ``cc_a``, ``cc_b``, ``cc_size``) and the
arithmetic flags (CF PF AF ZF SF OF) are computed only when read.  ``fl``
holds every other RFLAGS bit, and holds the arithmetic bits too whenever
``cc_op`` is ``CC_EFLAGS``.  :attr:`X86State.rflags` materialises the word;
assigning to it makes the flags explicit again.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import flags as F

ES, CS, SS, DS, FS, GS = range(6)
SEG_NAMES = ("es", "cs", "ss", "ds", "fs", "gs")
REG_NAMES64 = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
               "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
REG_NAMES32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")
REG_NAMES16 = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di")
REG_NAMES8 = ("al", "cl", "dl", "bl", "ah", "ch", "dh", "bh")

CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE = 1, 2, 4, 8, 0x10, 0x20
CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG = 1 << 16, 1 << 18, 1 << 29, 1 << 30, 1 << 31
CR4_PSE, CR4_PAE = 0x10, 0x20
EFER_SCE, EFER_LME, EFER_LMA, EFER_NXE = 1, 1 << 8, 1 << 10, 1 << 11


@dataclass
class Segment:
    """A segment register with its hidden part (the descriptor cache)."""

    selector: int = 0
    base: int = 0
    limit: int = 0xFFFF
    type: int = 3          # data, read/write, accessed
    s: int = 1             # code/data (not system)
    dpl: int = 0
    present: int = 1
    db: int = 0            # default operand size 32 bits
    l: int = 0             # 64-bit code segment
    g: int = 0
    avl: int = 0
    unusable: int = 0

    #: the last offset of [0, fast_limit], every access within which is
    #: valid: the limit of an expand-up segment, -1 for an expand-down data
    #: segment (type bit 2 of a data segment: its valid offsets lie ABOVE
    #: the limit, SDM Vol. 3A §5.3) -- the fast paths test an access against
    #: it alone and leave every other to the exact test, :func:`within_limit`;
    #: kept by the ``limit`` and ``type`` setters below
    fast_limit = 0xFFFF

    def copy(self) -> "Segment":
        return Segment(*self.as_tuple())

    def as_tuple(self) -> tuple:
        return (self.selector, self.base, self._limit, self._type, self.s, self.dpl, self.present,
                self.db, self.l, self.g, self.avl, self.unusable)

    @classmethod
    def real(cls, selector: int, code: bool = False) -> "Segment":
        """The cache contents after a real-mode load (SDM Vol. 3A §20.1.1)."""
        return cls(selector=selector, base=selector << 4, limit=0xFFFF,
                   type=11 if code else 3, s=1, present=1)


def _get_limit(self) -> int:
    return self._limit


def _set_limit(self, v: int) -> None:
    self._limit = v
    self.fast_limit = -1 if self.__dict__.get("_type", 3) & 12 == 4 else v


def _get_type(self) -> int:
    return self._type


def _set_type(self, v: int) -> None:
    self._type = v
    self.fast_limit = -1 if v & 12 == 4 else self.__dict__.get("_limit", 0xFFFF)


# the segment limit and type (the dataclass's fields) keep fast_limit
Segment.limit = property(_get_limit, _set_limit)
Segment.type = property(_get_type, _set_type)


def within_limit(sg: Segment, off: int, size: int) -> bool:
    """Do offsets ``off`` .. ``off + size - 1`` lie within segment ``sg``'s
    limit (SDM Vol. 3A §5.3)?  Expand-up: at or below the limit; an
    expand-down data segment (type bit 2, bit 3 clear): above the limit, up
    to 0xFFFFFFFF when its B flag (``db``) is set, else 0xFFFF -- the same
    for SS, whose B flag also sizes the stack pointer."""
    if sg._type & 12 == 4:
        return off > sg._limit and off + size - 1 <= (0xFFFFFFFF if sg.db else 0xFFFF)
    return off + size - 1 <= sg._limit


class X86State:
    """Architectural state of one x86 CPU (plus kasou's lazy-flag record)."""

    __slots__ = ("regs", "rip", "segs", "ldt", "tr", "gdt_base", "gdt_limit",
                 "idt_base", "idt_limit", "cr0", "cr2", "cr3", "cr4", "cr8",
                 "efer", "fl", "cc_op", "cc_res", "cc_a", "cc_b", "cc_size",
                 "halted", "msrs", "tsc", "inhibit_irq", "dr")

    def __init__(self):
        self.regs = [0] * 16
        self.rip = 0
        self.segs = [Segment.real(0, code=(i == CS)) for i in range(6)]
        self.ldt = Segment(type=2, s=0)
        self.tr = Segment(type=11, s=0)
        self.gdt_base = 0
        self.gdt_limit = 0xFFFF
        self.idt_base = 0
        self.idt_limit = 0x3FF
        self.cr0 = CR0_ET
        self.cr2 = 0
        self.cr3 = 0
        self.cr4 = 0
        self.cr8 = 0
        self.efer = 0
        self.fl = F.FIXED1          # bit 1 always reads 1
        self.cc_op = F.CC_EFLAGS
        self.cc_res = self.cc_a = self.cc_b = 0
        self.cc_size = 2
        self.halted = False
        self.msrs = {}
        self.tsc = 0
        self.inhibit_irq = False    # MOV SS / STI interrupt shadow
        self.dr = [0, 0, 0, 0, 0, 0, 0xFFFF0FF0, 0x400]   # DR0-DR7 (DR4/5 unused)

    # -- flags ------------------------------------------------------------------
    @property
    def rflags(self) -> int:
        if self.cc_op == F.CC_EFLAGS:
            return self.fl
        return (self.fl & ~F.ARITH) | F.compute(self.cc_op, self.cc_res, self.cc_a,
                                                 self.cc_b, self.cc_size, self.fl)

    @rflags.setter
    def rflags(self, value: int) -> None:
        self.fl = value | F.FIXED1
        self.cc_op = F.CC_EFLAGS

    # -- mode -------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """'real', 'vm86', 'prot16', 'prot32' or 'long64' / 'compat'."""
        if not self.cr0 & CR0_PE:
            return "real"
        if self.efer & EFER_LMA:
            return "long64" if self.segs[CS].l else "compat"
        if self.fl & F.VM:
            return "vm86"
        return "prot32" if self.segs[CS].db else "prot16"

    @property
    def cpl(self) -> int:
        if not self.cr0 & CR0_PE:
            return 0
        if self.fl & F.VM:
            return 3
        return self.segs[CS].selector & 3

    def copy(self) -> "X86State":
        s = X86State()
        s.load(self)
        return s

    def load(self, other: "X86State") -> None:
        """Make this state an exact copy of ``other`` (keeping object identity)."""
        self.regs[:] = other.regs
        for i in range(6):
            self.segs[i] = other.segs[i].copy()
        self.ldt = other.ldt.copy()
        self.tr = other.tr.copy()
        for name in ("rip", "gdt_base", "gdt_limit", "idt_base", "idt_limit", "cr0",
                     "cr2", "cr3", "cr4", "cr8", "efer", "fl", "cc_op", "cc_res",
                     "cc_a", "cc_b", "cc_size", "halted", "tsc", "inhibit_irq"):
            setattr(self, name, getattr(other, name))
        self.msrs = dict(other.msrs)
        self.dr = list(other.dr)

    def materialize_flags(self) -> None:
        self.rflags = self.rflags

    # -- comparison and display ------------------------------------------------
    def snapshot(self) -> dict:
        """Plain-data view, for comparison, JSON and the debugger."""
        d = {n: self.regs[i] for i, n in enumerate(REG_NAMES64)}
        d["rip"] = self.rip
        d["rflags"] = self.rflags
        for i, n in enumerate(SEG_NAMES):
            d[n] = self.segs[i].as_tuple()
        for n in ("cr0", "cr2", "cr3", "cr4", "efer", "gdt_base", "gdt_limit",
                  "idt_base", "idt_limit"):
            d[n] = getattr(self, n)
        d["ldt"] = self.ldt.as_tuple()
        d["tr"] = self.tr.as_tuple()
        return d

    def diff(self, other: "X86State", flags_mask: int = 0xFFFFFFFF) -> list[str]:
        """Names of what differs between two states (flags compared under a mask)."""
        a, b = self.snapshot(), other.snapshot()
        out = []
        for k in a:
            va, vb = a[k], b[k]
            if k == "rflags":
                va &= flags_mask
                vb &= flags_mask
            if va != vb:
                out.append(k)
        return out

    def format(self, width: int | None = None) -> str:
        """Registers as a learner reads them, at the width of the current mode."""
        mode = self.mode
        if width is None:
            width = 8 if mode == "long64" else (4 if mode in ("prot32", "compat") else 2)
        names = REG_NAMES64 if width == 8 else (REG_NAMES32 if width == 4 else REG_NAMES16)
        mask = (1 << (8 * width)) - 1
        n = 16 if width == 8 else 8
        parts = [f"{names[i]}={self.regs[i] & mask:0{2 * width}x}" for i in range(n)]
        ipn = {8: "rip", 4: "eip", 2: "ip"}[width]
        parts.append(f"{ipn}={self.rip & mask:0{2 * width}x}")
        parts.append(f"flags={self.rflags:08x} [{F.describe(self.rflags)}]")
        parts.extend(f"{SEG_NAMES[i]}={self.segs[i].selector:04x}" for i in range(6))
        lines = []
        for i in range(0, len(parts), 4 if width == 8 else 6):
            lines.append(" ".join(parts[i:i + (4 if width == 8 else 6)]))
        return "\n".join(lines)


# The names the generic interpreter loop reads at every instruction
# (emu.isa.core): the very slots of RIP and FLAGS under a second name, so the
# loop pays no more for them than for ``rip`` and ``fl``.
X86State.pc = X86State.rip
X86State.status = X86State.fl
