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
