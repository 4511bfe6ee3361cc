"""Every mnemonic the x86 decoder names an instruction by
(:func:`disasm.mnemonic` over the opcode map of every CPU model, SDM Vol. 2D
Appendix A): the names the grader's traces and its ``forbid``/``allow``
rules may use.
"""

from __future__ import annotations


def mnemonic_names() -> frozenset:
    """Every mnemonic the decoder's instructions are named by in a trace and
    in the ``forbid``/``allow`` rules (:func:`disasm.mnemonic`
    applied to every row of the opcode map, SDM Vol. 2D Appendix A), and
    the last word of each (``movsb`` of ``rep movsb``)."""
    from .decode import tables
    from .disasm import CC, MNEMONIC
    from .table import LEVELS
    encodings = {row.name for model in LEVELS for row in tables(model).rows()} - {"NOP90"}
    names = {"xchg", "nop", "pause", "swapgs", "rdtscp", "cwde", "cdqe", "cdq", "cqo"}
    for n in encodings:
        if n in ("JCC", "SETCC", "CMOVCC"):
            names.update({"JCC": "j", "SETCC": "set", "CMOVCC": "cmov"}[n] + cc for cc in CC)
        elif n in ("MOVS", "CMPS", "STOS", "LODS", "SCAS", "INS", "OUTS"):
            for suffix in "bwdq":
                names.update(pre + n.lower() + suffix for pre in ("", "rep ", "repe ", "repne "))
        elif n in ("PUSHA", "POPA", "PUSHF", "POPF", "IRET"):
            names.update(n.lower() + suffix for suffix in ("", "d", "q"))
        else:
            names.add(MNEMONIC.get(n, n.lower()))
    return frozenset(names | {n.split()[-1] for n in names if n.startswith("rep")})
