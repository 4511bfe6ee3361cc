"""The A32 CPU state as QEMU's monitor prints it (``info registers``):
QEMU's ``arm_cpu_dump_state`` (target/arm/cpu.c) for an AArch32 A-profile
CPU, after the ``CPU#0`` line -- r0-r15 four to a line as ``R00=`` .. ``R15=``, then ``PSR=`` with
the CPSR in hex, the N Z C V flags (``-`` where clear), ``T`` in Thumb
state or ``A`` in ARM state, and the mode's name with 32 (or 26 for the
old 26-bit modes, M[4] clear; ARM DDI 0406C B1.3.3).

The virt board's CPU has no Security extension (QEMU's virt without
``secure=on``), so QEMU prints no ``S``/``NS`` before the mode, and kasou
neither.  kasou models no VFP: QEMU's cortex-a15 adds the s/d registers
and FPSCR lines after these, which kasou does not print.
"""

from __future__ import annotations

from .state import C_BIT, N_BIT, T_BIT, V_BIT, Z_BIT

#: QEMU's ``aarch32_mode_name``: the mode names by M[3:0]
MODE_NAMES = ("usr", "fiq", "irq", "svc", "???", "???", "mon", "abt",
              "???", "???", "hyp", "und", "???", "???", "???", "sys")


def format_registers(state) -> str:
    lines = []
    for row in range(4):
        lines.append(" ".join(f"R{k:02d}={state.r[k]:08x}" for k in range(4 * row, 4 * row + 4)))
    psr = state.cpsr
    flags = "".join(ch if psr & bit else "-"
                    for ch, bit in (("N", N_BIT), ("Z", Z_BIT), ("C", C_BIT), ("V", V_BIT)))
    mode = MODE_NAMES[psr & 0xF] + ("32" if psr & 0x10 else "26")
    lines.append(f"PSR={psr:08x} {flags} {'T' if psr & T_BIT else 'A'} {mode}")
    return "\nCPU#0\n" + "\n".join(lines) + "\n"
