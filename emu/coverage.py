"""``emu coverage``: what kasou decodes but cannot yet execute.

Gaps must show (STYLE.md): an encoding that decodes but has no semantic
function raises the undefined-instruction exception in the guest (x86 #UD,
:func:`emu.isa.x86.core.missing_semantics`; Arm UNDEF), and a subsystem
that is not modelled stops the engine with an INTERNAL_ERROR naming it.
This module prints both, as the board's Target reports them
(:meth:`emu.isa.target.Target.coverage`, from the same data the engines
use: ``emu/isa/x86/coverage.py``, ``emu/isa/arm/coverage.py``).
"""

from __future__ import annotations


def format_coverage(arch: str, model: str, total: int, rows, gaps) -> str:
    """The text ``emu coverage`` prints."""
    lines = [f"{arch} -cpu {model}: {total - len(rows)} of {total} decoded encodings have semantics"]
    if rows:
        lines.append(f"encodings without semantics ({len(rows)}; they raise the undefined-"
                     f"instruction exception in the guest, x86 #UD):")
        w = max(len(r[0]) for r in rows)
        for opcode, name, specs in rows:
            lines.append(f"  {opcode:<{w}}  {name:<12} {specs}")
    else:
        lines.append("every decoded encoding has semantics")
    if gaps:
        lines.append(f"not modelled ({len(gaps)}; the engine stops with INTERNAL_ERROR):")
        lines.extend(f"  - {g}" for g in gaps)
    return "\n".join(lines)


def report(cpu: str | None = "max", board: str = "pc") -> str:
    """``emu coverage -M BOARD -cpu CPU`` as text, for the Target of
    ``board`` (``cpu`` None: the Target's default model)."""
    from .boards import get_board
    from .isa import get_target
    target = get_board(board).TARGET
    target = get_target(target) if isinstance(target, str) else target
    cpu = target.model(cpu).name
    total, rows, gaps = target.coverage(cpu)
    return format_coverage(target.name, cpu, total, rows, gaps)
