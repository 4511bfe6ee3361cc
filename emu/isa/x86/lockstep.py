"""x86 rules for comparing two engines in lockstep (``emu diff``, the
random-sequence tests): the results the SDM leaves undefined, how a state
is compared and shown, and how an instruction is named in a report.

Known divergences live in ONE place, this module's ``UNDEFINED_FLAGS``,
``UNDEFINED_FLAGS_BY_ONE``, ``UNDEFINED_DEST_IF_ZF`` and ``UNDEFINED_REGS``
tables: flags and results the SDM leaves undefined after an instruction
(SDM Vol. 2 instruction pages, "Flags Affected"; Vol. 1 Appendix A), and
results that legitimately differ between CPU models (CPUID, RDTSC).  A REP
string instruction may also differ in RF (SDM Vol. 3A §17.3.1.1: a debug
trap between iterations sets it).

The instruction under comparison is disassembled by capstone, an
independent decoder, so a decoding bug of kasou's is not repeated in the
report.  :class:`X86Lockstep` is what the x86 Target hands to generic code
(:meth:`emu.isa.x86.target.X86Target.lockstep`); the module-level functions
are the same rules for other harnesses.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import flags as F
from .state import CS, REG_NAMES16, REG_NAMES32, REG_NAMES64

CF, PF, AF, ZF, SF, OF, RF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x800, 0x10000
RCX = 1

#: Flags the SDM leaves undefined, by mnemonic (capstone's spelling).  Shifts
#: and rotates by an immediate or CL have OF undefined unless the count is 1;
#: the one-bit forms (opcodes D0/D1) are listed in ``UNDEFINED_FLAGS_BY_ONE``.
#: SHLD/SHRD: CF is the last bit shifted out for any count up to the operand
#: size; a 16-bit SHLD/SHRD by 16-31 leaves the destination and every flag
#: undefined (Intel and AMD parts really differ there) -- not masked here: the
#: random-sequence tests keep such counts out, a guest that uses one diverges.
UNDEFINED_FLAGS = {
    "mul": SF | ZF | AF | PF, "imul": SF | ZF | AF | PF,
    "div": CF | OF | SF | ZF | AF | PF, "idiv": CF | OF | SF | ZF | AF | PF,
    "and": AF, "or": AF, "xor": AF, "test": AF,
    "shl": AF | OF, "sal": AF | OF, "shr": AF | OF, "sar": AF | OF,
    "rol": OF, "ror": OF, "rcl": OF, "rcr": OF,
    "shld": OF | AF, "shrd": OF | AF,
    "bsf": CF | OF | SF | AF | PF, "bsr": CF | OF | SF | AF | PF,
    "bt": OF | SF | AF | PF, "bts": OF | SF | AF | PF,
    "btr": OF | SF | AF | PF, "btc": OF | SF | AF | PF,
    "aaa": OF | SF | ZF | PF, "aas": OF | SF | ZF | PF,
    "aam": CF | OF | AF, "aad": CF | OF | AF, "daa": OF, "das": OF,
    "lzcnt": OF | SF | AF | PF, "tzcnt": OF | SF | AF | PF,
}
#: shift/rotate by one (opcodes D0, D1): OF is defined
UNDEFINED_FLAGS_BY_ONE = {"shl": AF, "sal": AF, "shr": AF, "sar": AF,
                          "rol": 0, "ror": 0, "rcl": 0, "rcr": 0}
#: BSF/BSR with a zero source (ZF=1 after): the destination is undefined (SDM
#: "BSF"); parts leave it unchanged, but a 32-bit destination in 64-bit mode
#: may keep or clear bits 63:32 (unicorn's TCG clears them, this AMD host keeps
#: them).  Masked as the destination register when ZF is set afterwards.
UNDEFINED_DEST_IF_ZF = ("bsf", "bsr")
#: registers whose value after the instruction depends on the CPU model
UNDEFINED_REGS = {
    "cpuid": ("rax", "rbx", "rcx", "rdx"),     # kasou's max is not unicorn's Haswell
    "rdtsc": ("rax", "rdx"),                   # time differs per engine
    "rdtscp": ("rax", "rdx", "rcx"),
}

_PREFIXES = frozenset((0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3))
_SEG_FIELDS = ("sel", "base", "limit", "type", "s", "dpl", "p", "db", "l", "g", "avl", "unusable")


@dataclass(frozen=True)
class Insn:
    """The instruction at the PC, as a lockstep report names it."""
    pc: int                 # linear address
    text: str               # disassembly and bytes
    mnemonic: str = ""      # capstone's, last word (``movsb`` of ``rep movsb``)
    opcode: int = 0         # first opcode byte
    op_str: str = ""        # capstone's operands
    rep: bool = False       # a REP-prefixed instruction


def opcode_byte(code: bytes, long_mode: bool) -> int:
    """The first opcode byte of an instruction: after the legacy prefixes and,
    in 64-bit mode, a REX prefix (0x40-0x4F are INC/DEC outside it)."""
    for b in code:
        if b in _PREFIXES or (long_mode and 0x40 <= b <= 0x4F):
            continue
        return b
    return 0


def masks_for(mnemonic: str, opcode: int, op_str: str = "", after=None):
    """``(flag mask, register names)`` the SDM leaves undefined after the
    instruction ``mnemonic`` (capstone's spelling) with first opcode byte
    ``opcode``: the known divergences, from this module's tables.
    ``op_str`` (capstone's operands) and ``after`` (the reference engine's
    state after the instruction) serve the cases that depend on the
    operands (``UNDEFINED_DEST_IF_ZF``)."""
    flags = UNDEFINED_FLAGS.get(mnemonic, 0)
    if opcode in (0xD0, 0xD1) and mnemonic in UNDEFINED_FLAGS_BY_ONE:
        flags = UNDEFINED_FLAGS_BY_ONE[mnemonic]
    regs = UNDEFINED_REGS.get(mnemonic, ())
    if mnemonic in UNDEFINED_DEST_IF_ZF and after is not None and after.rflags & ZF:
        dest = _full_reg(op_str.split(",")[0].strip())
        if dest is not None:
            regs = regs + (dest,)
    return flags, regs


def _full_reg(name: str):
    """The 64-bit register a general register operand belongs to, or None."""
    if name in REG_NAMES64:
        return name
    for names in (REG_NAMES32, REG_NAMES16):
        if name in names:
            return REG_NAMES64[names.index(name)]
    if name.startswith("r") and name[-1] in "dwb" and name[:-1] in REG_NAMES64:
        return name[:-1]
    return None


def compare_states(a, b, flag_mask: int = 0, regs_masked=()) -> list[str]:
    """What differs between two canonical states, as lines; RFLAGS bits in
    ``flag_mask`` and the registers named in ``regs_masked`` are ignored."""
    sa, sb = a.snapshot(), b.snapshot()
    out = []
    for k in sa:
        va, vb = sa[k], sb[k]
        if k in regs_masked:
            continue
        if k == "rflags":
            if (va & ~flag_mask) != (vb & ~flag_mask):
                out.append(f"rflags 0x{va:x} [{F.describe(va)}] != 0x{vb:x} [{F.describe(vb)}]")
            continue
        if va != vb:
            if isinstance(va, tuple):
                out.append(f"{k} {_fmt_seg(va)} != {_fmt_seg(vb)}")
            else:
                out.append(f"{k} 0x{va:x} != 0x{vb:x}")
    return out


def _fmt_seg(t) -> str:
    return " ".join(f"{n}={v:x}" for n, v in zip(_SEG_FIELDS, t))


def format_side_by_side(a, b, names=("A", "B")) -> str:
    """Two canonical states as two columns, differing lines marked."""
    sa, sb = a.snapshot(), b.snapshot()
    w = 40
    lines = [f"  {'':10} {names[0]:<{w}} {names[1]}"]
    for k in sa:
        va, vb = sa[k], sb[k]
        if isinstance(va, tuple):
            ta, tb = _fmt_seg_short(va), _fmt_seg_short(vb)
        elif k == "rflags":
            ta, tb = f"{va:08x} [{F.describe(va)}]", f"{vb:08x} [{F.describe(vb)}]"
        else:
            ta, tb = f"{va:016x}", f"{vb:016x}"
        mark = "  <--" if va != vb else ""
        lines.append(f"  {k:10} {ta:<{w}} {tb}{mark}")
    return "\n".join(lines)


def _fmt_seg_short(t) -> str:
    return f"{t[0]:04x} base={t[1]:x} lim={t[2]:x} t={t[3]:x} db={t[7]} l={t[8]}"


def align_states(sa, sb, flag_mask: int, regs_masked) -> None:
    """Give state ``sb`` the values of state ``sa`` where they may
    legitimately differ (masked flags and registers)."""
    if flag_mask:
        sb.rflags = (sb.rflags & ~flag_mask) | (sa.rflags & flag_mask)
    for name in regs_masked:
        i = REG_NAMES64.index(name)
        sb.regs[i] = sa.regs[i]


def disassemble(ram, state) -> Insn:
    """The next instruction, by capstone, in the state's code size."""
    import capstone
    pc = state.segs[CS].base + state.rip
    mode = state.mode
    cmode = {"long64": capstone.CS_MODE_64, "prot32": capstone.CS_MODE_32,
             "compat": capstone.CS_MODE_32}.get(mode, capstone.CS_MODE_16)
    code = ram.read_bytes(pc, 15) if ram.contains(pc, 15) else b""
    md = capstone.Cs(capstone.CS_ARCH_X86, cmode)
    for i in md.disasm(code, state.rip):
        opc = opcode_byte(i.bytes, mode == "long64")
        text = f"{i.mnemonic} {i.op_str}".strip()
        return Insn(pc, f"{text}   [{i.bytes.hex(' ')}]", i.mnemonic.split()[-1], opc, i.op_str,
                    text.startswith("rep"))
    return Insn(pc, f"(cannot disassemble: {code[:8].hex(' ')})")


def where(state, wide: bool = False) -> str:
    """CS:IP as a report shows it: IP in at least 4 digits, or with
    ``wide`` as wide as the code's IP is."""
    width = 4
    if wide:
        mode = state.mode
        width = 16 if mode == "long64" else (8 if mode in ("prot32", "compat") else 4)
    return f"{state.segs[CS].selector:04x}:{state.rip:0{width}x}"


class X86Lockstep:
    """The lockstep rules as one object (``Target.lockstep()``)."""

    def inspect(self, ram, state) -> Insn:
        return disassemble(ram, state)

    def undefined(self, insn: Insn, after) -> tuple:
        """``(flag mask, register names)`` that may differ after ``insn``
        (``after``: the reference engine's state after it)."""
        flag_mask, regs = masks_for(insn.mnemonic, insn.opcode, insn.op_str, after)
        if insn.rep:
            flag_mask |= RF      # set by a debug trap between iterations (KVM)
        return flag_mask, regs

    def compare(self, a, b, masks=(0, ())) -> list[str]:
        return compare_states(a, b, *masks)

    def align(self, sa, sb, masks) -> None:
        align_states(sa, sb, *masks)

    def side_by_side(self, a, b, names) -> str:
        return format_side_by_side(a, b, names)

    def where(self, state, wide: bool = False) -> str:
        return where(state, wide)

    def repeats_left(self, insn: Insn, state):
        """Iterations a REP string instruction has left (RCX), or None for
        any other instruction."""
        return state.regs[RCX] if insn.rep else None
