"""Instruction names for the grader's traces and its ``forbid``/``allow``
rules (:meth:`ArmTarget.describe_insn`, :meth:`ArmTarget.mnemonics`).

A decoded instruction is named by its A32 instruction's UAL mnemonic
(ARM DDI 0406C A8.8), lower case, without the condition and without the S
suffix: ``addseq r0, r1, #1`` is ``add``, ``ldrbt`` is ``ldrb``, ``lsl r0,
r1, #2`` (an alias of MOV with a shift, A8.8.105) is ``mov``, ``push``
(STMDB sp!) is ``stm``.  A T16 instruction is named as the A32
instruction it runs as (``lsls r0, r1, #3`` is ``mov``); the Thumb
encodings with semantics of their own by their Thumb mnemonic (``adr``,
``cbz``, ``cbnz``, ``it``, ``b``, ``bl``, ``blx``, ``ldr``).  An encoding no
row names is ``undefined``.
"""

from __future__ import annotations

#: encodings whose mnemonic is not the first part of their name
SPECIAL = {"UNDEFINED": "undefined", "T_LDR_lit": "ldr", "T_ADR": "adr", "T_B_cond": "b",
           "T_B": "b", "T_BL_hi": "bl", "T_BL_lo": "bl", "T_BLX_lo": "blx", "T_IT": "it",
           "T32_BL": "bl", "T32_BLX": "blx", "T_UDF": "udf"}


def mnemonic(insn) -> str:
    """The mnemonic of a decoded instruction (module docstring)."""
    name = insn.name
    if name == "T_CBZ":
        return "cbnz" if insn.opc else "cbz"
    return SPECIAL.get(name) or name.split("_")[0].lower()


def mnemonic_names() -> frozenset:
    """Every mnemonic :func:`mnemonic` can return."""
    from .coverage import T32_ROWS
    from .table import COMPILED
    from .thumb import COMPILED as T16
    names = {r.name for r in COMPILED} | {r.name for r in T16} | {n for n, _, _ in T32_ROWS}
    out = {"cbz", "cbnz", "undefined"}
    out.update(SPECIAL.get(n) or n.split("_")[0].lower() for n in names
               if n != "T_CBZ" and (n in SPECIAL or not n.startswith("T_")))
    return frozenset(out)
