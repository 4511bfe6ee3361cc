"""A32 CPU models as data (``-cpu``), as ``emu/isa/x86/models.py`` is for x86.

* ``arm7tdmi``: ARMv4T (ARM DDI 0100I, ARM7TDMI TRM DDI 0210C): no v5 or
  later encodings (CLZ, BLX, BKPT, LDRD/STRD, the v6/v7 media instructions
  are undefined), no CP15, vectors always at 0, unaligned LDR rotates, a
  register-shifted operand reads the PC as +12 (DDI 0100I A5.1.9), and the
  condition NV (0b1111) never passes.
* ``cortex-a15`` (the default): ARMv7-A with the Virtualization extension's
  SDIV/UDIV (ARM DDI 0406C A1.7), the Security extension's VBAR, and
  unaligned word and halfword access (SCTLR.U reads as one, A3.2.1).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArmModel:
    name: str
    arch: int                 # 4 = ARMv4T, 5, 6, 7 = ARMv7-A
    midr: int                 # CP15 c0 MIDR (B4.1.105); 0 = no CP15
    has_cp15: bool
    has_div: bool             # SDIV/UDIV in the A32 instruction set
    has_vbar: bool
    unaligned: bool           # v6+ unaligned LDR/STR/LDRH/STRH (else ARMv4 rotation)
    pc_late_offset: int       # what r15 reads as in a later cycle (ops.reg_late)


MODELS = {
    "arm7tdmi": ArmModel("arm7tdmi", 4, 0, False, False, False, False, 12),
    "cortex-a15": ArmModel("cortex-a15", 7, 0x412FC0F1, True, True, True, True, 8),
}
DEFAULT_MODEL = "cortex-a15"


def get_model(name: str | None) -> ArmModel:
    """The model called ``name`` (the default if None)."""
    m = MODELS.get(name or DEFAULT_MODEL)
    if m is None:
        raise ValueError(f"unknown ARM CPU model '{name}'; expected one of: {', '.join(MODELS)}")
    return m
