"""Random instruction sequences in 32-bit protected mode (CPL 0) and 64-bit
long mode (CPL 3), run on two engines in lockstep, one instruction at a time.

The CPU state is built directly, as a loader would leave it (no boot code):

* ``prot32``: a flat GDT (0x08 code, 0x10 data, DPL 0), CR0.PE, no paging,
  CPL 0.  On this host's KVM (kvm_pvm) ring-0 code outside long mode runs
  in the host kernel's instruction emulator, so interp vs kvm compares
  against that emulator.
* ``prot32xd``: ``prot32`` with DS, ES and SS an expand-down data segment
  (0x28: base 0, B=1, limit ``XD_LIMIT``, SDM Vol. 3A §5.3): every offset
  above the buffer's first 16 bytes is valid, the stack included, and an
  access that touches those bytes (or lower) is #GP, or #SS through SS.
* ``long64``: a GDT with 64-bit code and data segments for rings 0 and 3,
  4-level page tables mapping the first GiB one to one with 2 MiB user
  pages, EFER.LME|LMA, CR0.PG|PE, CR4.PAE, and CS = 0x23 (a DPL-3 64-bit
  code segment), SS = DS = ES = FS = GS = 0x1b: CPL 3.  On kvm_pvm ring-3
  long-mode code runs natively on the CPU, so interp vs kvm compares
  against the silicon.

No IDT (limit 0): a fault ends the run in a triple fault, on every engine,
at the faulting instruction, so faults (#DE from an unguarded DIV, a #GP,
a #UD) are compared as well: both engines must stop at the same step.

How each instruction is observed.  Every generated instruction is followed
by a *step marker*, ``mov [MARKER], al`` (A2 moffs): a store to an address
above RAM, which every engine reports as an MMIO write (interp and unicorn
from their memory map, KVM because no memory slot backs it); the marker
changes no register and no flag.  KVM stops there: a small device on the
MMIO bus at MARKER asks the Machine to stop.  KVM cannot be single-stepped
here: on this host a KVM_GUESTDBG single step in native ring-3 code ends in
a triple fault, and hardware breakpoints there never fire, whereas an MMIO
exit works everywhere.  interp and unicorn are single-stepped (the
instruction, then the marker), which also checks the step marker against
each engine's own single step.  Either way one step of the comparison is
one generated instruction, and the values the marker stored (AL) are
compared too.

After each instruction the two engines must agree on the whole canonical
state (every register, RFLAGS, segments, control registers) and on guest
RAM (all of it: the buffer, the stack, the page tables with their A/D bits
preset).  Flags and results the SDM leaves undefined are masked through
:mod:`emu.isa.x86.lockstep` (``UNDEFINED_FLAGS``, ``UNDEFINED_FLAGS_BY_ONE``,
``UNDEFINED_DEST_IF_ZF``, ``UNDEFINED_REGS``: the one list of known
divergences) and then copied from the first engine to the second, so an
undefined value does not show up again at a later instruction that reads
it.  Recorded unicorn bugs (``UNICORN_KNOWN``) are handled the same way,
one by one, at the end of this module.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from keystone import KS_ARCH_X86, KS_MODE_32, KS_MODE_64, Ks, KsError

from emu.devices.device import Device, StopRequest
from emu.diff import align_state
from emu.isa.x86 import flags as F
from emu.isa.x86.lockstep import compare_states, format_side_by_side, masks_for, opcode_byte
from emu.isa.x86.state import (CR0_ET, CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR0_WP,
                               CR4_PAE, CS, EFER_LMA, EFER_LME, REG_NAMES64, Segment)
from emu.loader import hex_literals
from emu.machine import Machine

MEMORY = 4 << 20
GDT, TSS, PML4 = 0x1000, 0x3000, 0x10000
CODE = 0x40000            # the sequence (RIP-relative operands reach 0x41000-0x43000)
BUF = 0x50000             # the data buffer (4 KiB, random contents)
BUF_SIZE = 0x1000
STACK = 0x68000           # initial RSP; the stack area is 0x60000-0x6ffff
MARKER = 0x3FF00000       # above RAM, inside the identity map: an MMIO write

#: the register that holds BUF for memory operands (never a destination)
BASE = {"prot32": "ebp", "prot32xd": "ebp", "long64": "r15"}
#: ``prot32xd``'s expand-down segment: valid offsets XD_LIMIT + 1 .. 0xFFFFFFFF
XD_LIMIT = BUF + 0xF


class StepMarker(Device):
    """A one-byte MMIO register: records every value written and, if
    ``stops``, asks the Machine to stop after the write."""

    name = "step-marker"

    def __init__(self):
        super().__init__()
        self.values = []
        self.stops = True

    def read(self, offset, size):
        return 0

    def write(self, offset, size, value):
        self.values.append(value)
        if self.stops and self.stop_request is None:
            self.stop_request = StopRequest((value << 1) | 1, f"step marker (al=0x{value:x})")


def _desc(base, limit, access, flags=0xC):
    lo = (limit & 0xFFFF) | ((base & 0xFFFF) << 16)
    hi = (((base >> 16) & 0xFF) | (access << 8) | (((limit >> 16) & 0xF) << 16)
          | (flags << 20) | (base & 0xFF000000))
    return lo | (hi << 32)


def _seg(sel, dpl, code, long_mode=False):
    return Segment(selector=sel, base=0, limit=0xFFFFFFFF, type=11 if code else 3, s=1, dpl=dpl,
                   present=1, db=0 if (code and long_mode) else 1, l=1 if (code and long_mode) else 0,
                   g=1)


def setup(m: Machine, mode: str, code: bytes, regs, rflags: int, buf: bytes) -> None:
    """Put ``m`` into ``mode`` with ``code`` at CODE, ready to run."""
    ram = m.ram
    s = m.cpu
    w = ram.write
    dev = StepMarker()
    m.mmio.map(MARKER, 1, dev)
    m.devices["step-marker"] = dev
    # GDT: null, 0x08 code0, 0x10 data0, 0x18 data3, 0x20 code3 (L in long mode)
    long_mode = mode == "long64"
    cflags = 0xA if long_mode else 0xC
    rows = [0, _desc(0, 0xFFFFF, 0x9B, cflags), _desc(0, 0xFFFFF, 0x93), _desc(0, 0xFFFFF, 0xF3),
            _desc(0, 0xFFFFF, 0xFB, cflags)]
    for i, d in enumerate(rows):
        w(GDT + 8 * i, 8, d)
    s.gdt_base, s.gdt_limit = GDT, 8 * len(rows) - 1
    s.idt_base, s.idt_limit = 0, 0
    if mode == "prot32xd":
        rows.append(_desc(0, XD_LIMIT, 0x97, 0x4))       # 0x28: expand-down, B=1, byte-granular
        for i, d in enumerate(rows):
            w(GDT + 8 * i, 8, d)
        s.gdt_limit = 8 * len(rows) - 1
    s.tr = Segment(selector=0, base=TSS, limit=0x67, type=11, s=0, present=1)
    s.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_MP
    if long_mode:
        # PML4[0] -> PDPT[0] -> PD: 512 2 MiB pages (P RW US PS, A and D preset so
        # that no engine's A/D bookkeeping shows up as a RAM difference)
        w(PML4, 8, (PML4 + 0x1000) | 0x27)
        w(PML4 + 0x1000, 8, (PML4 + 0x2000) | 0x27)
        for i in range(512):
            w(PML4 + 0x2000 + 8 * i, 8, (i << 21) | 0xE7)
        s.cr3, s.cr4 = PML4, CR4_PAE
        s.cr0 |= CR0_PG | CR0_WP
        s.efer = EFER_LME | EFER_LMA
        s.segs[CS] = _seg(0x23, 3, True, True)
        for n in (0, 2, 3, 4, 5):
            s.segs[n] = _seg(0x1B, 3, False)
    else:
        s.segs[CS] = _seg(0x08, 0, True)
        for n in (0, 2, 3, 4, 5):
            s.segs[n] = _seg(0x10, 0, False)
        if mode == "prot32xd":
            for n in (0, 2, 3):
                s.segs[n] = Segment(selector=0x28, base=0, limit=XD_LIMIT, type=7, s=1, dpl=0, present=1,
                                    db=1, g=0)
    ram.load(CODE, code)
    ram.load(BUF, buf)
    mask = (1 << 64) - 1 if long_mode else 0xFFFFFFFF
    for i, v in enumerate(regs):
        s.regs[i] = v & mask
    s.regs[4] = STACK
    s.regs[15 if long_mode else 5] = BUF
    s.rip = CODE
    # user code runs with interrupts enabled: with IF=0 at CPL 3, kvm_pvm's
    # PUSHF shows IF=1, the flag the CPU really has while it runs the guest's
    # user code natively (no interrupt can come: no timer is programmed)
    s.rflags = (rflags & (F.ARITH | F.DF)) | 2 | (F.IF if long_mode else 0)
    m.accel.flush_code_cache()
    m.accel.state_changed()


# ---------------------------------------------------------------------------
# the instruction generator
# ---------------------------------------------------------------------------

R64 = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14")
R32_64 = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "r8d", "r9d", "r10d", "r11d", "r12d",
          "r13d", "r14d")
R16_64 = ("ax", "bx", "cx", "dx", "si", "di", "bp", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w",
          "r14w")
R8_64 = ("al", "bl", "cl", "dl", "sil", "dil", "bpl", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b",
         "r14b")
R32_32 = ("eax", "ebx", "ecx", "edx", "esi", "edi")
R16_32 = ("ax", "bx", "cx", "dx", "si", "di")
R8_32 = ("al", "bl", "cl", "dl", "ah", "bh", "ch", "dh")
HIGH8 = ("ah", "bh", "ch", "dh")
LEGACY8 = ("al", "bl", "cl", "dl") + HIGH8

ALU = ("add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test", "mov")
SHIFTS = ("rol", "ror", "rcl", "rcr", "shl", "shr", "sar")
CC = ("o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g")
PTR = {8: "byte", 16: "word", 32: "dword", 64: "qword"}
#: shift counts: any byte, with the edges (0 and the operand widths, around
#: the count mask) drawn often
COUNTS = st.one_of(st.sampled_from((0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255)),
                   st.integers(0, 255))


@dataclass
class Gen:
    """What the generator may use in one mode."""

    mode: str
    regs: dict = field(default_factory=dict)     # width -> register names
    base: str = ""

    @classmethod
    def for_mode(cls, mode):
        if mode == "long64":
            return cls(mode, {64: R64, 32: R32_64, 16: R16_64, 8: R8_64}, "r15")
        return cls(mode, {32: R32_32 + ("ebp",), 16: R16_32, 8: R8_32}, "ebp")

    @property
    def widths(self):
        return (8, 16, 32, 64) if self.mode == "long64" else (8, 16, 32)

    def writable(self, width):
        """Registers an instruction may write (not RSP, not the buffer base)."""
        regs = self.regs[width]
        if self.mode != "long64":
            return tuple(r for r in regs if r not in ("ebp", "bp"))
        return regs


def _mem(draw, g, width, span=None):
    """A memory operand inside the buffer: [base + disp], or absolute, or
    (64-bit) RIP-relative into the scratch area after the code."""
    size = width // 8
    span = size if span is None else span
    disp = draw(st.integers(0, BUF_SIZE - span))
    kind = draw(st.integers(0, 3))
    if kind == 3:
        return f"{PTR[width]} ptr [{BUF + disp:#x}]"
    if kind == 2 and g.mode == "long64":
        # RIP-relative: CODE + len(program) < 0x41000, so rip + disp stays in RAM
        # (0x41000-0x43000), away from the code and the buffer
        return f"{PTR[width]} ptr [rip + {0x1000 + disp:#x}]"
    return f"{PTR[width]} ptr [{g.base} + {disp:#x}]"


def _pair8(draw, g):
    """Two 8-bit registers that can be encoded together (AH-DH need no REX)."""
    if g.mode == "long64" and draw(st.booleans()):
        return draw(st.sampled_from(LEGACY8)), draw(st.sampled_from(LEGACY8))
    return draw(st.sampled_from(g.writable(8))), draw(st.sampled_from(g.regs[8]))


def _imm(draw, width):
    """An immediate for a ``width``-bit operand (a 64-bit one takes a
    sign-extended imm32)."""
    if width == 64:
        return draw(st.one_of(st.integers(-2**31, 2**31 - 1), st.integers(-128, 127)))
    return draw(st.one_of(st.integers(0, (1 << width) - 1), st.integers(-128, 127)))


@st.composite
def unit(draw, g: Gen):
    """One generated unit: a short list of instructions (most are one)."""
    kind = draw(st.sampled_from((
        "alu_rr", "alu_ri", "alu_rm", "alu_mr", "alu_mi", "shift", "shiftd", "muldiv", "div",
        "movx", "lea", "stack", "cmov", "setcc", "bt", "bsf", "xchg", "bswap", "incdec",
        "string", "flags", "convert", "cmpxchg8b")))
    width = draw(st.sampled_from(g.widths))
    dst = st.sampled_from(g.writable(width))
    src = st.sampled_from(g.regs[width])
    if kind == "alu_rr":
        if width == 8:
            a, b = _pair8(draw, g)
            return [f"{draw(st.sampled_from(ALU))} {a}, {b}"]
        return [f"{draw(st.sampled_from(ALU))} {draw(dst)}, {draw(src)}"]
    if kind == "alu_ri":
        op = draw(st.sampled_from(ALU))
        if width == 64 and op == "mov" and draw(st.booleans()):
            return [f"movabs {draw(dst)}, {draw(st.integers(0, 2**64 - 1)):#x}"]
        return [f"{op} {draw(dst)}, {_imm(draw, width)}"]
    if kind == "alu_rm":
        op = draw(st.sampled_from(tuple(o for o in ALU if o != "test")))
        return [f"{op} {draw(dst)}, {_mem(draw, g, width)}"]
    if kind == "alu_mr":
        r = draw(st.sampled_from(LEGACY8 if width == 8 and g.mode == "long64" else g.regs[width]))
        if width == 8 and g.mode == "long64" and r in HIGH8:
            # AH-DH cannot be encoded with a REX prefix (r15 base): absolute address
            return [f"{draw(st.sampled_from(ALU))} byte ptr [{BUF + draw(st.integers(0, BUF_SIZE - 1)):#x}], {r}"]
        return [f"{draw(st.sampled_from(ALU))} {_mem(draw, g, width)}, {r}"]
    if kind == "alu_mi":
        return [f"{draw(st.sampled_from(ALU))} {_mem(draw, g, width)}, {_imm(draw, width)}"]
    if kind == "shift":
        op = draw(st.sampled_from(SHIFTS))
        target = draw(st.one_of(dst, st.just(None)))
        target = target or _mem(draw, g, width)
        how = draw(st.sampled_from(("1", "imm", "cl")))
        count = {"1": "1", "cl": "cl", "imm": str(draw(COUNTS))}[how]
        out = []
        if how == "cl" and target in ("cl", "ecx", "cx", "rcx"):
            count = "1"
        elif how == "cl" and draw(st.booleans()):
            out = [f"mov cl, {draw(COUNTS)}"]
        return out + [f"{op} {target}, {count}"]
    if kind == "shiftd":
        width = draw(st.sampled_from(tuple(w for w in g.widths if w != 8)))
        op = draw(st.sampled_from(("shld", "shrd")))
        a = draw(st.one_of(st.sampled_from(g.writable(width)), st.just(None))) or _mem(draw, g, width)
        b = draw(st.sampled_from(g.regs[width]))
        if width == 16:
            # a 16-bit SHLD/SHRD by 16-31 has an undefined result and flags
            # (SDM "SHLD"; the 386 manual: count >= operand size): Intel and
            # AMD parts really differ, so the count is kept to 0-15 (mod 32)
            count = draw(st.sampled_from((0, 32)).flatmap(lambda k: st.integers(k, k + 15)))
            out = []
            if draw(st.booleans()) and a not in ("cl", "cx") and b not in ("cl", "cx"):
                out = [f"mov cl, {count}"]
                count = "cl"
            return out + [f"{op} {a}, {b}, {count}"]
        count = draw(st.one_of(st.just("cl"), COUNTS.map(str)))
        out = []
        if count == "cl" and draw(st.booleans()) and a not in ("ecx", "rcx") and b not in ("ecx", "rcx"):
            out = [f"mov cl, {draw(COUNTS)}"]
        return out + [f"{op} {a}, {b}, {count}"]
    if kind == "muldiv":
        form = draw(st.integers(0, 3))
        operand = draw(st.one_of(st.sampled_from(g.regs[width]), st.just(None))) or _mem(draw, g, width)
        if form == 0 or width == 8:
            return [f"{draw(st.sampled_from(('mul', 'imul')))} {operand}"]
        if form == 1:
            return [f"imul {draw(dst)}, {operand}"]
        return [f"imul {draw(dst)}, {operand}, {_imm(draw, width)}"]
    if kind == "div":
        return _div(draw, g, width)
    if kind == "movx":
        d = draw(st.sampled_from(tuple(w for w in g.widths if w >= 16)))
        s = draw(st.sampled_from(tuple(w for w in (8, 16, 32) if w < d)))
        if s == 32:
            r = draw(st.one_of(st.sampled_from(g.regs[32]), st.just(None))) or _mem(draw, g, 32)
            return [f"movsxd {draw(st.sampled_from(g.writable(64)))}, {r}"]
        op = draw(st.sampled_from(("movsx", "movzx")))
        if s == 8 and g.mode == "long64":
            r = draw(st.sampled_from(g.regs[8]))
        else:
            r = draw(st.sampled_from(g.regs[s]))
        r = draw(st.one_of(st.just(r), st.just(None))) or _mem(draw, g, s)
        d_reg = draw(st.sampled_from(g.writable(d)))
        if r in HIGH8 and g.mode == "long64" and d_reg[0] == "r" and d_reg[1].isdigit():
            r = "al"
        return [f"{op} {d_reg}, {r}"]
    if kind == "lea":
        return [_lea(draw, g)]
    if kind == "stack":
        return _stack(draw, g)
    if kind == "cmov":
        width = draw(st.sampled_from(tuple(w for w in g.widths if w != 8)))
        s = draw(st.one_of(st.sampled_from(g.regs[width]), st.just(None))) or _mem(draw, g, width)
        return [f"cmov{draw(st.sampled_from(CC))} {draw(st.sampled_from(g.writable(width)))}, {s}"]
    if kind == "setcc":
        t = draw(st.one_of(st.sampled_from(g.writable(8)), st.just(None))) or _mem(draw, g, 8)
        return [f"set{draw(st.sampled_from(CC))} {t}"]
    if kind == "bt":
        width = draw(st.sampled_from(tuple(w for w in g.widths if w != 8)))
        op = draw(st.sampled_from(("bt", "bts", "btr", "btc")))
        if draw(st.booleans()):
            return [f"{op} {draw(st.sampled_from(g.writable(width)))}, {draw(st.sampled_from(g.regs[width]))}"]
        t = draw(st.one_of(st.sampled_from(g.writable(width)), st.just(None))) or _mem(draw, g, width)
        # keystone takes the immediate as signed: 0-127 reaches every bit of a qword
        return [f"{op} {t}, {draw(st.integers(0, 127))}"]
    if kind == "bsf":
        width = draw(st.sampled_from(tuple(w for w in g.widths if w != 8)))
        s = draw(st.one_of(st.sampled_from(g.regs[width]), st.just(None))) or _mem(draw, g, width)
        return [f"{draw(st.sampled_from(('bsf', 'bsr')))} {draw(st.sampled_from(g.writable(width)))}, {s}"]
    if kind == "xchg":
        op = draw(st.sampled_from(("xchg", "xadd", "cmpxchg")))
        if width == 8:
            a, b = _pair8(draw, g)
            if b == "bpl" and g.mode != "long64":
                b = "al"
            b = b if b in g.writable(8) else "al"
        else:
            a, b = draw(dst), draw(st.sampled_from(g.writable(width)))
        if draw(st.booleans()) and not (width == 8 and b in HIGH8 and g.mode == "long64"):
            a = _mem(draw, g, width)
        return [f"{op} {a}, {b}"]
    if kind == "bswap":
        width = draw(st.sampled_from(tuple(w for w in g.widths if w >= 32)))
        return [f"bswap {draw(st.sampled_from(g.writable(width)))}"]
    if kind == "incdec":
        op = draw(st.sampled_from(("inc", "dec", "neg", "not")))
        t = draw(st.one_of(dst, st.just(None))) or _mem(draw, g, width)
        return [f"{op} {t}"]
    if kind == "string":
        return _string(draw, g)
    if kind == "flags":
        if draw(st.integers(0, 4)) == 0:
            # POPF of a value with only the arithmetic flags and DF (TF/IF/AC
            # would change what the rest of the sequence means)
            v = (draw(st.integers(0, 0xFFFF)) & (F.ARITH | F.DF)) | 2
            return [f"push {v:#x}", "popfq" if g.mode == "long64" else "popfd"]
        return [draw(st.sampled_from(("clc", "stc", "cmc", "cld", "std", "lahf", "sahf",
                                      "pushfq" if g.mode == "long64" else "pushfd")))]
    if kind == "convert":
        ops = ("cbw", "cwde", "cwd", "cdq") + (("cdqe", "cqo") if g.mode == "long64" else ())
        return [draw(st.sampled_from(ops))]
    # cmpxchg8b: EDX:EAX against m64, ECX:EBX stored on a match
    return [f"cmpxchg8b {_mem(draw, g, 64, 8)}"]


def _div(draw, g, width):
    """DIV/IDIV, almost always guarded against #DE (the divisor made odd,
    the high half of the dividend cleared or sign-extended); one in eight is
    unguarded, and a #DE is then compared like any other outcome."""
    op = draw(st.sampled_from(("div", "idiv")))
    names = {8: ("al", "ah"), 16: ("ax", "dx"), 32: ("eax", "edx"), 64: ("rax", "rdx")}[width]
    avoid = {"al", "ah", "ax", "dx", "eax", "edx", "rax", "rdx", "dl", "dh"}
    regs = tuple(r for r in g.writable(width) if r not in avoid)
    if width == 8 and g.mode == "long64":
        regs = ("bl", "cl", "bh", "ch")
    divisor = draw(st.one_of(st.sampled_from(regs), st.just(None)))
    out = []
    if draw(st.integers(0, 7)):
        if divisor is None:
            d = draw(st.integers(0, BUF_SIZE - width // 8))
            divisor = f"{PTR[width]} ptr [{g.base} + {d:#x}]"
        out.append(f"or {divisor}, 1")
        if op == "div":
            out.append(f"xor {names[1]}, {names[1]}" if width > 8 else "mov ah, 0")
        else:
            out.append({8: "cbw", 16: "cwd", 32: "cdq", 64: "cqo"}[width])
    elif divisor is None:
        divisor = _mem(draw, g, width)
    out.append(f"{op} {divisor}")
    return out


def _lea(draw, g):
    """LEA: any base, index, scale and displacement (no memory access), and
    RIP-relative in 64-bit mode."""
    width = draw(st.sampled_from(tuple(w for w in g.widths if w >= 16)))
    d = draw(st.sampled_from(g.writable(width)))
    disp = draw(st.integers(-2**31, 2**31 - 1))
    if g.mode == "long64" and draw(st.integers(0, 3)) == 0:
        return f"lea {d}, [rip + {disp}]"
    aw = 64 if g.mode == "long64" else 32
    base = draw(st.sampled_from(g.regs[aw]))
    index = draw(st.sampled_from(tuple(r for r in g.regs[aw] if r not in ("esp", "rsp"))))
    scale = draw(st.sampled_from((1, 2, 4, 8)))
    form = draw(st.integers(0, 2))
    if form == 0:
        return f"lea {d}, [{base} + {disp}]"
    if form == 1:
        return f"lea {d}, [{base} + {index}*{scale} + {disp}]"
    return f"lea {d}, [{index}*{scale} + {disp}]"


def _stack(draw, g):
    long_mode = g.mode == "long64"
    width = draw(st.sampled_from((64, 16) if long_mode else (32, 16)))
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return [f"push {draw(st.sampled_from(g.regs[width]))}"]
    if choice == 1:
        return [f"pop {draw(st.sampled_from(g.writable(width)))}"]
    if choice == 2:
        return [f"push {_mem(draw, g, width)}"]
    if choice == 3:
        return [f"pop {_mem(draw, g, width)}"]
    return [f"push {draw(st.integers(-2**31, 2**31 - 1))}"]


#: string instructions by opcode (byte form; +1 is the word/dword/qword form).
#: Written as bytes: keystone reads "movsd"/"cmpsd" as the SSE instructions.
STRING_OPS = {"movs": 0xA4, "cmps": 0xA6, "stos": 0xAA, "lods": 0xAC, "scas": 0xAE}


def _string(draw, g):
    """A string instruction without REP, RSI/RDI pointed into the buffer first."""
    width = draw(st.sampled_from(g.widths))
    opcode = STRING_OPS[draw(st.sampled_from(sorted(STRING_OPS)))] + (width > 8)
    prefix = {8: "", 16: "0x66, ", 32: "", 64: "0x48, "}[width]
    si, di = ("rsi", "rdi") if g.mode == "long64" else ("esi", "edi")
    a = draw(st.integers(8, BUF_SIZE - 16))
    b = draw(st.integers(8, BUF_SIZE - 16))
    return [f"lea {si}, [{g.base} + {a:#x}]", f"lea {di}, [{g.base} + {b:#x}]",
            f".byte {prefix}{opcode:#x}"]


@st.composite
def program(draw, mode, max_units=12, avoid=None):
    """(source lines, state inputs) for one random sequence.  ``avoid(line)``
    rejects units with an instruction a recorded engine bug affects."""
    g = Gen.for_mode(mode)
    lines = []
    for _ in range(draw(st.integers(1, max_units))):
        u = draw(unit(g))
        if avoid is None or not any(avoid(line) for line in u):
            lines.extend(u)
    if not lines:
        lines = ["nop"]
    width = 64 if mode == "long64" else 32
    regs = draw(st.lists(st.integers(0, (1 << width) - 1), min_size=16, max_size=16))
    rflags = draw(st.integers(0, 0xFFF))
    seed = draw(st.integers(0, 2**32 - 1))
    return lines, regs, rflags, seed


# ---------------------------------------------------------------------------
# assembling
# ---------------------------------------------------------------------------

_KS = {}


def assemble(mode: str, lines) -> tuple[bytes, list]:
    """Assemble ``lines`` at CODE with a step marker after each instruction.

    Returns (code, [(linear address, source line)]); raises ValueError naming
    the line keystone refused."""
    ks = _KS.get(mode)
    if ks is None:
        ks = _KS[mode] = Ks(KS_ARCH_X86, KS_MODE_64 if mode == "long64" else KS_MODE_32)
    # the marker: MOV moffs, AL (A2) with an absolute address, the same bytes
    # wherever it stands (keystone would make [imm] RIP-relative in 64-bit mode)
    mk = b"\xa2" + MARKER.to_bytes(8 if mode == "long64" else 4, "little")
    code = bytearray()
    where = []
    for line in lines:
        addr = CODE + len(code)
        try:
            enc, _ = ks.asm(hex_literals(line), addr)
        except KsError as e:
            raise ValueError(f"keystone cannot assemble {line!r}: {e}") from None
        if not enc:
            raise ValueError(f"keystone produced no bytes for {line!r}")
        where.append((addr, line))
        code += bytes(enc) + mk
    return bytes(code), where


def buffer_bytes(seed: int) -> bytes:
    return random.Random(seed).randbytes(BUF_SIZE)


# ---------------------------------------------------------------------------
# lockstep
# ---------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one lockstep run found."""

    steps: int = 0                       # instructions both engines retired and agreed on
    ended: str = ""                      # "markers": all ran; "shutdown": both faulted there; ...
    divergence: str = ""                 # "" when none
    masked: list = field(default_factory=list)     # (step, insn, what) known divergences
    host_limit: str = ""                 # the second engine stopped on a host limit


#: engines that cannot single-step the code under test on this host: they
#: stop at the step markers instead (see the module docstring)
MARKER_STOP = ("kvm",)


class _Engine:
    """One Machine, advanced one generated instruction (plus its marker) at a time."""

    def __init__(self, name, mode, code, regs, rflags, buf):
        self.name = name
        self.m = Machine(accel=name, cpu="max", memory=MEMORY)
        self.stepping = name not in MARKER_STOP
        setup(self.m, mode, code, regs, rflags, buf)
        self.marker = self.m.devices["step-marker"]
        self.marker.stops = not self.stepping
        self.m.accel.set_single_step(self.stepping)

    def advance(self):
        """Run the next instruction and its marker: (end, RunResult), where
        end is ("marker", al) or (reason, status) of a run that ended otherwise."""
        r = self.m.run()
        if self.stepping:
            if r.reason != "debug":
                return (r.reason, r.status), r
            before = len(self.marker.values)
            r = self.m.run()                 # the marker
            if r.reason != "debug" or len(self.marker.values) != before + 1:
                return (r.reason, r.status), r
        elif r.reason != "debug-exit" or not self.marker.values:
            return (r.reason, r.status), r
        return ("marker", self.marker.values[-1]), r

    def close(self):
        self.m.close()


def lockstep(mode: str, lines, regs, rflags: int, seed: int, engines=("interp", "unicorn"),
             host_limits=(), known=None) -> Outcome:
    """Run the sequence on two engines, comparing after every instruction.

    ``host_limits`` lists INTERNAL_ERROR texts that mean the second engine's
    host cannot run an instruction (kvm_pvm's instruction emulator); such a
    stop after an identical prefix is reported in ``Outcome.host_limit``,
    not as a divergence.  ``known(step, text, a, b, diffs)`` may name
    recorded engine bugs among the differences: it returns the lines it
    explains (they are masked, noted and aligned like undefined flags)."""
    code, where = assemble(mode, lines)
    buf = buffer_bytes(seed)
    out = Outcome()
    a = b = None
    try:
        a = _Engine(engines[0], mode, code, regs, rflags, buf)
        b = _Engine(engines[1], mode, code, regs, rflags, buf)
        for step, (addr, line) in enumerate(where, 1):
            text, mnem, op_str, opcode = _insn_at(a.m, addr, mode)
            ea, ra = a.advance()
            eb, rb = b.advance()
            if ea != eb:
                if (rb.reason == "internal-error" and ea[0] == "marker"
                        and any(h in rb.message for h in host_limits)):
                    out.host_limit = f"step {step} ({text}): {rb.message}"
                    out.ended = "host-limit"
                    return out
                out.divergence = (f"step {step} ({text}): {a.name} ended with {ra.reason} "
                                  f"({ra.message}), {b.name} with {rb.reason} ({rb.message})\n"
                                  + _side_by_side(a, b))
                return out
            flag_mask, regs_masked = masks_for(mnem, opcode, op_str, a.m.cpu)
            if ea[0] == "shutdown":
                # a triple fault: the CPU is in shutdown, its RFLAGS as the
                # fault delivery left it; KVM reports RF set there (delivery
                # of a fault sets RF in the pushed image), interp does not
                flag_mask |= F.RF
            exact = compare_states(a.m.cpu, b.m.cpu)
            if exact:
                real = compare_states(a.m.cpu, b.m.cpu, flag_mask, regs_masked)
                explained = known(step, text, a.m, b.m, real) if (known and real) else []
                real = [d for d in real if d not in explained]
                if real:
                    out.divergence = (f"step {step} ({text}):\n  " + "\n  ".join(real)
                                      + "\n" + _side_by_side(a, b))
                    return out
                out.masked.append((step, text, "; ".join(exact)))
                align_state(a.m, b.m, (flag_mask, regs_masked))
            if not np.array_equal(a.m.ram.view, b.m.ram.view):
                idx = np.flatnonzero(a.m.ram.view != b.m.ram.view)
                shown = ", ".join(f"0x{int(i):x}: {int(a.m.ram.view[i]):02x}/{int(b.m.ram.view[i]):02x}"
                                  for i in idx[:8])
                out.divergence = f"step {step} ({text}): RAM differs at {len(idx)} byte(s): {shown}"
                return out
            out.steps = step
            if ea[0] != "marker":
                out.ended = ea[0]
                return out
        out.ended = "markers"
        return out
    finally:
        for e in (a, b):
            if e is not None:
                e.close()


def _side_by_side(a, b):
    return format_side_by_side(a.m.cpu, b.m.cpu, (a.name, b.name))


def _insn_at(m, addr, mode):
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if mode == "long64" else capstone.CS_MODE_32)
    code = m.ram.read_bytes(addr, 15)
    for i in md.disasm(code, addr, 1):
        opc = opcode_byte(i.bytes, mode == "long64")
        return f"{i.mnemonic} {i.op_str}".strip(), i.mnemonic.split()[-1], i.op_str, opc
    return "(undecodable)", "", "", 0


# ---------------------------------------------------------------------------
# recorded engine bugs (not kasou's): each entry says what differs and why
# ---------------------------------------------------------------------------

UNICORN_KNOWN = {
    "shxd-riprel": "SHLD/SHRD r/m, r, imm8 with a RIP-relative operand: unicorn "
                   "reads and writes the operand one byte too low (the displacement "
                   "is taken from the end of the ModR/M bytes, not of the instruction, "
                   "which ends with the imm8); interp and KVM (the CPU) agree",
    "cmpxchg32": "CMPXCHG with a 32-bit operand in 64-bit mode: unicorn writes EAX "
                 "on a match (clearing RAX's upper half; unicorn issue #2332) and "
                 "writes a register destination back on a mismatch (clearing its "
                 "upper half); the CPU writes neither, nor does interp",
}


def unicorn_avoid(mode):
    """A line predicate for :func:`program`: the encodings an entry of
    ``UNICORN_KNOWN`` makes wrong on unicorn with effects on memory (left out
    of interp-vs-unicorn sequences; a known-bug test shows each one still
    happens)."""
    if mode != "long64":
        return None

    def avoid(line):
        # in 64-bit mode keystone encodes an absolute [imm32] as RIP-relative
        return (line.startswith(("shld", "shrd")) and "ptr [" in line and "r15" not in line
                and not line.endswith("cl"))
    return avoid


def unicorn_known_except(*keys):
    """A ``known`` function for :func:`lockstep` that explains the
    ``UNICORN_KNOWN`` state differences except those named (the known-bug
    tests leave out the one they show)."""

    def known(step, text, ma, mb, diffs):
        out = []
        for d in diffs:
            if ("cmpxchg32" not in keys and text.startswith("cmpxchg ")
                    and ma.cpu.mode == "long64" and _cleared_upper(d, ma, mb)):
                out.append(d)
        return out
    return known


#: every recorded unicorn state difference explained
unicorn_known = unicorn_known_except()


def _cleared_upper(line, ma, mb):
    """A difference line "rXX A != B" where B is A with bits 63:32 cleared
    (then B's register takes A's value)."""
    name = line.split(" ", 1)[0]
    if name not in REG_NAMES64:
        return False
    i = REG_NAMES64.index(name)
    a, b = ma.cpu.regs[i], mb.cpu.regs[i]
    if a == b or b != a & 0xFFFFFFFF:
        return False
    mb.cpu.regs[i] = a
    mb.accel.state_changed()
    return True
