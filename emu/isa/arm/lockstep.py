"""A32 rules for comparing two engines in lockstep (``emu diff``, the
random-sequence tests): what is compared, what may differ, how a state and
an instruction are shown.

* The state compared is every register once (ARM DDI 0406C B1.3.2): r0-r12
  and SP/LR of the user bank, the PC, r8-r14 of the FIQ bank, SP and LR of
  SVC, ABT, IRQ and UND, the CPSR, each exception mode's SPSR, and the CP15
  registers a bare-metal program sets (SCTLR, VBAR).  The current mode's
  registers are its bank's, so a difference is named by the bank it is in
  (``sp_svc``).
* Known divergences: none.  The integer A32 and T16 instructions define
  every result and flag they write (the UNPREDICTABLE forms -- r15 as an
  operand of most instructions, LDM/STM with the base in a written-back
  list -- are the guest's error, and are left out of the random tests);
  ``undefined`` returns empty masks, so any difference is reported.
* The instruction under comparison is disassembled by capstone (an
  independent decoder) in the state's instruction set.
"""

from __future__ import annotations

from dataclasses import dataclass

from .state import ABT, IRQ, MODE_MASK, MODE_NAMES, SPSR_MODES, SVC, T_BIT, UND

#: no masks: A32 leaves no integer result undefined (see the module docstring)
NO_MASKS = (0, ())
_BANKED = (SVC, ABT, IRQ, UND)


@dataclass(frozen=True)
class Insn:
    """The instruction at the PC, as a lockstep report names it."""
    pc: int
    text: str


def snapshot(state) -> dict:
    """Every register of ``state`` once, by name (see the module docstring)."""
    banks = state.snapshot_banks()
    regs = banks["R"]
    out = {f"r{k}": regs[k] for k in range(13)}
    out.update(sp_usr=regs[13], lr_usr=regs[14], pc=regs[15])
    out.update({f"r{8 + k}_fiq": v for k, v in enumerate(banks["R_fiq"])})
    for mode in _BANKED:
        name = MODE_NAMES[mode]
        out[f"sp_{name}"], out[f"lr_{name}"] = banks["R_" + name]
    out["cpsr"] = state.cpsr
    out.update({f"spsr_{MODE_NAMES[m]}": state.spsr[m] for m in SPSR_MODES})
    out.update(sctlr=state.sctlr, vbar=state.vbar)
    return out


def compare_states(a, b, cpsr_mask: int = 0, regs_masked=()) -> list[str]:
    """What differs between two states, as lines; CPSR bits in
    ``cpsr_mask`` and the registers named in ``regs_masked`` are ignored."""
    sa, sb = snapshot(a), snapshot(b)
    out = []
    for k, va in sa.items():
        vb = sb[k]
        if k in regs_masked:
            continue
        if k == "cpsr":
            va, vb = va & ~cpsr_mask, vb & ~cpsr_mask
        if va != vb:
            out.append(f"{k} 0x{va:x} != 0x{vb:x}")
    return out


def format_side_by_side(a, b, names=("A", "B")) -> str:
    """Two states as two columns, differing lines marked."""
    sa, sb = snapshot(a), snapshot(b)
    lines = [f"  {'':9} {names[0]:<12} {names[1]}"]
    for k, va in sa.items():
        vb = sb[k]
        lines.append(f"  {k:9} {va:08x}     {vb:08x}{'  <--' if va != vb else ''}")
    return "\n".join(lines)


def disassemble(ram, state) -> Insn:
    """The next instruction, by capstone, in the state's instruction set."""
    import capstone
    pc = state.pc
    thumb = bool(state.cpsr & T_BIT)
    code = ram.read_bytes(pc, 4) if ram.contains(pc, 4) else b""
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB if thumb else capstone.CS_MODE_ARM)
    for i in md.disasm(code, pc):
        return Insn(pc, f"{i.mnemonic} {i.op_str}".strip() + f"   [{i.bytes.hex(' ')}]")
    return Insn(pc, f"(cannot disassemble: {code.hex(' ')})")


def where(state, wide: bool = False) -> str:
    """The mode, the instruction set and the PC."""
    mode = MODE_NAMES.get(state.cpsr & MODE_MASK, f"mode 0x{state.cpsr & MODE_MASK:02x}")
    return f"{mode} {'thumb' if state.cpsr & T_BIT else 'arm'} {state.pc:08x}"


class ArmLockstep:
    """The lockstep rules as one object (``Target.lockstep()``)."""

    def inspect(self, ram, state) -> Insn:
        return disassemble(ram, state)

    def undefined(self, insn: Insn, after) -> tuple:
        """``(CPSR mask, register names)`` that may differ after ``insn``: none."""
        return NO_MASKS

    def compare(self, a, b, masks=NO_MASKS) -> list[str]:
        return compare_states(a, b, *masks)

    def align(self, sa, sb, masks) -> None:
        cpsr_mask, regs = masks
        if cpsr_mask or regs:
            raise ValueError(f"A32 has no undefined results to align: {masks!r}")

    def side_by_side(self, a, b, names) -> str:
        return format_side_by_side(a, b, names)

    def where(self, state, wide: bool = False) -> str:
        return where(state, wide)

    def repeats_left(self, insn: Insn, state):
        return None


__all__ = ["ArmLockstep", "Insn", "snapshot", "compare_states", "NO_MASKS"]
