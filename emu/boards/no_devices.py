"""The interrupt side of a board with no devices (``x86-none``,
``arm-none``, QEMU's ``-M none``): nothing can raise an interrupt, so the
CPU's interrupt input stays low and a halted CPU (x86 HLT, Arm WFI) ends
the run.  Such a board module takes these hooks as its own."""

from __future__ import annotations


def attach(machine) -> None:
    """No interrupt controller: the CPU's interrupt input stays low."""


def wait_for_interrupt(machine) -> bool:
    """A halted CPU: nothing can interrupt it, so the run ends."""
    return False


def inject_pending_interrupt(machine) -> None:
    """Nothing is ever pending."""


def halt_message(machine) -> str:
    return "guest halted (this machine has no device that could interrupt it)"
