"""What the x86 model decodes but cannot execute (``emu coverage``), from
the same data the engines use:

* every row of the decode tables for a CPU model (``table.py``, SDM Vol. 2D
  Appendix A notation, compiled by ``decode.py``) whose encoding name has
  no semantics in the registry (``semantics``): it raises #UD in the guest;
* the ``GAPS`` lists of the modules that model parts of the architecture
  only partly (paging, SDM Vol. 3A §4; protected-mode interrupt delivery,
  SDM Vol. 3A §6.10-6.14; protected-mode far transfers, SDM Vol. 3A §5.8):
  the engine stops with INTERNAL_ERROR naming them.
"""

from __future__ import annotations


def unimplemented(model: str) -> list[tuple[str, str, str]]:
    """Rows that decode on ``model`` ("8086", "286", "max") but have no
    semantics: ``(opcode, name, specs)``, e.g. ``("0F 00/0", "SLDT", "Ew")``,
    sorted by opcode."""
    from .decode import tables
    from .semantics import REGISTRY
    out = set()
    for row in tables(model).rows():
        if REGISTRY.get(row.name) is None:
            out.add((row.opcode, row.name, ",".join(row.specs) or "-"))
    return sorted(out, key=lambda r: (len(r[0].split()), r[0], r[1]))


def gaps() -> list[str]:
    """Subsystems not (fully) modelled, from each module's ``GAPS`` list."""
    from . import paging, pm_interrupts, protected
    out = []
    for mod in (paging, pm_interrupts, protected):
        out.extend(getattr(mod, "GAPS", ()))
    return out


def coverage(model: str) -> tuple:
    """``(total encodings, rows without semantics, gaps)`` for ``model``."""
    from .decode import tables
    from .models import get_model
    get_model(model)                    # a clear error for an unknown -cpu
    total = len({(r.opcode, r.name) for r in tables(model).rows()})
    return total, unimplemented(model), gaps()


#: the code modes the translator is probed in: (label, description, CS.D
#: operand size, the block key's stack and mode bits -- bit 0 SS.B, a 32-bit
#: stack, bit 1 real mode (``X86Frontend.tb_key``) --, the CPU level that
#: first has the mode)
MODES = (("rm16", "real mode, 16-bit code and stack", 2, 2, 86),
         ("pm16", "16-bit protected mode, 16-bit code and stack", 2, 0, 286),
         ("pm32", "32-bit protected mode, 32-bit code and stack", 4, 1, 386))
#: what follows the opcode and ModR/M bytes of a probe: immediates, offsets
#: and displacements of 4 (ENTER 4,0; a shift by 4; a jump 4 bytes on)
TAIL = bytes((4, 0, 0, 0, 0, 0, 0, 0))


def _entries(t):
    """``(opcode bytes, ModR/M reg field or None, row)`` of each distinct
    row of the 16/32-bit maps ``t``, at its lowest opcode (``+r``: the
    register 3, BX)."""
    seen = {}
    for prefix, tbl in ((b"", t.one), (b"\x0f", t.two)):
        for code, e in enumerate(tbl):
            groups = e.items() if isinstance(e, dict) else ((None, e),)
            for reg, row in groups:
                if not hasattr(row, "specs") or id(row) in seen:
                    continue
                if prefix and t.one[0x0F] != "escape":
                    continue
                low = 3 if row.lowbits == "r" else 0
                seen[id(row)] = (prefix + bytes((code + low,)), reg, row)
    return sorted(seen.values(), key=lambda e: (len(e[0]), e[0], e[1] or 0))


def _forms(opcode: bytes, reg, row, dsize: int):
    """``(form, bytes)`` of each probe of a row: a register and a memory
    form of a ModR/M operand (``[BX]``/``[EBX]``; the reg field is the
    group's, or DX -- a segment field ES, a control register CR0), a string
    instruction alone and under REP."""
    r = 2 if reg is None else reg
    if any(s[0] == "S" and len(s) == 2 for s in row.specs) or any(s[0] in "CD" and len(s) == 2
                                                                 for s in row.specs):
        r = 0 if reg is None else reg
    if row.has_modrm:
        rm_mem = 7 if dsize == 2 else 3
        yield "reg", opcode + bytes((0xC0 | r << 3 | 3,)) + TAIL
        yield "mem", opcode + bytes((r << 3 | rm_mem,)) + TAIL
    else:
        yield "", opcode + TAIL
        if "string" in row.attrs:
            yield "rep", b"\xf3" + opcode + TAIL


def translation_probes(model, cap: int) -> tuple:
    """(see :meth:`emu.isa.target.Target.translation_probes`) every row of
    the 16/32-bit maps of ``model`` in each code mode it has, decoded with
    the semantics registry as the Core decodes it, in blocks of ``cap``."""
    from ..ops import GuestException
    from .decode import Decoder, tables
    from .semantics import REGISTRY
    from .table import LEVELS
    t = tables(model.name)
    modes, probes = [], []
    for label, desc, dsize, stack_mode, level in MODES:
        if LEVELS[model.name] < level:
            continue
        modes.append((label, desc))
        dec = Decoder(model.name, dsize, False, REGISTRY)
        # a block's first instruction, in a block of the usual cap (a cap of
        # one is single-stepping, which leaves a REP to the slow path)
        key = (0, 0, (False, dsize), stack_mode, 0, cap)
        for opcode, reg, row in _entries(t):
            for form, raw in _forms(opcode, reg, row, dsize):
                try:
                    insn = dec.decode(raw.__getitem__, 0)
                except GuestException:          # no such form (a register where memory is needed)
                    continue
                probes.append((label, row.opcode, row.name, ",".join(row.specs) or "-", form, insn, key))
    return modes, probes
