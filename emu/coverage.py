"""``emu coverage``: what kasou decodes but cannot yet execute.

Gaps must show (STYLE.md): an encoding that decodes but has no semantic
function raises #UD in the guest (:func:`emu.isa.x86.core.missing_semantics`),
and a subsystem that is not modelled stops the engine with an INTERNAL_ERROR
naming it.  This module lists both, from the same data the engines use:

* every row of the decode tables for a CPU model (``isa/x86/table.py``,
  SDM Vol. 2D Appendix A notation, compiled by ``isa/x86/decode.py``) whose
  encoding name has no semantics in the registry (``isa/x86/semantics``);
* the ``GAPS`` lists of the modules that model parts of the architecture
  only partly (paging, SDM Vol. 3A §4; protected-mode interrupt delivery,
  SDM Vol. 3A §6.10-6.14; protected-mode far transfers, SDM Vol. 3A §5.8).
"""

from __future__ import annotations


def x86_coverage(model: str) -> list[tuple[str, str, str]]:
    """Rows that decode on ``model`` ("8086", "286", "max") but have no
    semantics: ``(opcode, name, specs)``, e.g. ``("0F 00/0", "SLDT", "Ew")``,
    sorted by opcode."""
    from .isa.x86.decode import tables
    from .isa.x86.semantics import REGISTRY
    out = set()
    for row in tables(model).rows():
        if REGISTRY.get(row.name) is None:
            out.add((row.opcode, row.name, ",".join(row.specs) or "-"))
    return sorted(out, key=lambda r: (len(r[0].split()), r[0], r[1]))


def x86_gaps() -> list[str]:
    """Subsystems not (fully) modelled, from each module's ``GAPS`` list."""
    from .isa.x86 import paging, pm_interrupts, protected
    gaps = []
    for mod in (paging, pm_interrupts, protected):
        gaps.extend(getattr(mod, "GAPS", ()))
    return gaps


def format_coverage(model: str, rows, gaps) -> str:
    """The text ``emu coverage`` prints."""
    from .isa.x86.decode import tables
    total = len({(r.opcode, r.name) for r in tables(model).rows()})
    lines = [f"x86 -cpu {model}: {total - len(rows)} of {total} decoded encodings have semantics"]
    if rows:
        lines.append(f"encodings without semantics ({len(rows)}; they raise #UD in the guest):")
        w = max(len(r[0]) for r in rows)
        for opcode, name, specs in rows:
            lines.append(f"  {opcode:<{w}}  {name:<12} {specs}")
    else:
        lines.append("every decoded encoding has semantics")
    if gaps:
        lines.append(f"not modelled ({len(gaps)}; the engine stops with INTERNAL_ERROR):")
        lines.extend(f"  - {g}" for g in gaps)
    return "\n".join(lines)


def report(cpu: str = "max") -> str:
    """``emu coverage -cpu CPU`` as text."""
    from .isa.x86.models import get_model
    get_model(cpu)                      # a clear error for an unknown -cpu
    return format_coverage(cpu, x86_coverage(cpu), x86_gaps())
