"""``emu coverage``: what kasou decodes but cannot yet execute, and what
the translator does with what it can.

Gaps must show (STYLE.md): an encoding that decodes but has no semantic
function raises the undefined-instruction exception in the guest (x86 #UD,
:func:`emu.isa.x86.core.missing_semantics`; Arm UNDEF), and a subsystem
that is not modelled stops the engine with an INTERNAL_ERROR naming it.
This module prints both, as the board's Target reports them
(:meth:`emu.isa.target.Target.coverage`, from the same data the engines
use: ``emu/isa/x86/coverage.py``, ``emu/isa/arm/coverage.py``).

Then, for ``-accel tcg``, what the translator makes of each decoded
encoding (:func:`translation`): the Target hands one probe instruction per
encoding, operand form and code mode (:meth:`emu.isa.target.Target.translation_probes`),
and each is put through the real translator front end's ``translate_insn``
(QEMU's ``translator_loop`` step), exactly as a block would meet it:

* ``block``: compiled into the block, which goes on after it;
* ``exit``: compiled, and the block ends there (a control transfer);
* ``helper``: registered as a helper (its semantics run on concrete values):
  the block ends before it and the interpreter runs it;
* ``interp``: its semantics cannot be inlined (they branch on a run-time
  value, or do what translated code must not): the interpreter runs it too,
  the reason is listed.

An instruction the interpreter runs costs tens of translated ones and ends
the block it is in, so ``helper`` and ``interp`` rows in a loop are what to
look at first.
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


#: the verdicts of :func:`classify`, in the order the report counts them
VERDICTS = ("block", "exit", "helper", "interp")


def classify(frontend, key, insn) -> tuple:
    """``(verdict, reason)`` of the decoded instruction ``insn`` put through
    ``frontend``'s builder for block key ``key`` as a block's first
    instruction (see the module docstring for the verdicts)."""
    from .ir.ir import IRBlock
    block = IRBlock(insn.ip, insn.ip)
    b = frontend.builder(block, key)
    block.insns.append(insn)
    if b.translate_insn(0, insn):
        return ("exit" if b.ended else "block"), ""
    if frontend.deliberate_helper(insn):
        return "helper", "registered as a helper"
    return "interp", b.fallback_reason


def translation(target, model) -> tuple:
    """What the translator makes of every probe ``target`` hands for CPU
    model object ``model``: ``(modes, rows)``, the Target's modes
    ``[(label, description)]`` and one row per encoding, ``(opcode, name,
    operands, {mode: [(form, verdict, reason)]})`` in the Target's order."""
    from .accel.tcg.translate import MAX_INSNS      # (not at import: emu.cli loads no engine)
    modes, probes = target.translation_probes(model, MAX_INSNS)
    frontend = target.ir_frontend(model)
    rows = {}
    for mode, opcode, name, specs, form, insn, key in probes:
        verdict, reason = classify(frontend, key, insn)
        rows.setdefault((opcode, name, specs), {}).setdefault(mode, []).append((form, verdict, reason))
    return modes, [(o, n, s, v) for (o, n, s), v in rows.items()]


def _cell(results) -> str:
    """One mode's verdict for an encoding: one word, or per form when its
    forms differ (``block; mem: interp``)."""
    verdicts = {v for _, v, _ in results}
    if len(verdicts) == 1:
        return verdicts.pop()
    first = results[0][1]
    return "; ".join([first] + [f"{f}: {v}" for f, v, _ in results[1:] if v != first])


def format_translation(modes, rows) -> str:
    """The translator section of ``emu coverage``: counts per mode, then
    every encoding with its verdict in each mode, then why each ``interp``
    is not inlined."""
    labels = [m for m, _ in modes]
    lines = ["", "translator (-accel tcg): what a block does with each decoded encoding "
             "(block: compiled in, the block goes on; exit: compiled, the block ends; "
             "helper/interp: the block ends before it and the interpreter runs it -- "
             "registered helper / semantics not inlinable)"]
    for label, desc in modes:
        counts = dict.fromkeys(VERDICTS, 0)
        n = 0
        for _, _, _, per in rows:
            res = per.get(label)
            if res is None:
                continue
            n += 1
            worst = max((VERDICTS.index(v) for _, v, _ in res))
            counts[VERDICTS[worst]] += 1
        lines.append(f"  {label} ({desc}): {n} encodings: " + ", ".join(
            f"{counts[v]} {v}" for v in VERDICTS) + " (an encoding counts by its worst form)")
    if not rows:
        return "\n".join(lines)
    wo = max(len(r[0]) for r in rows)
    wn = max(len(r[1]) for r in rows)
    ws = max(len(r[2]) for r in rows)
    cells = [[_cell(per[m]) if m in per else "-" for m in labels] for *_, per in rows]
    wc = [max([len(m)] + [len(c[i]) for c in cells]) for i, m in enumerate(labels)]
    lines.append("  " + f"{'opcode':<{wo}}  {'name':<{wn}}  {'operands':<{ws}}  "
                 + "  ".join(f"{m:<{w}}" for m, w in zip(labels, wc)).rstrip())
    for (opcode, name, specs, per), c in zip(rows, cells):
        lines.append("  " + f"{opcode:<{wo}}  {name:<{wn}}  {specs:<{ws}}  "
                     + "  ".join(f"{x:<{w}}" for x, w in zip(c, wc)).rstrip())
    reasons = {}
    for opcode, name, specs, per in rows:
        for label in labels:
            for form, v, why in per.get(label, ()):
                if v == "interp":
                    what = " ".join(x for x in (name, specs) if x)
                    reasons.setdefault(why, []).append(f"{what} ({label}{', ' + form if form else ''})")
    if reasons:
        lines.append("  not inlinable, by reason:")
        for why, what in sorted(reasons.items()):
            lines.append(f"    {why}: " + ", ".join(what))
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
    text = format_coverage(target.name, cpu, total, rows, gaps)
    if "tcg" in target.engines:
        text += "\n" + format_translation(*translation(target, target.model(cpu)))
    return text
