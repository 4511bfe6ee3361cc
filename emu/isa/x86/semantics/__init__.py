"""x86 instruction semantics, written once against the Ops interface.

Each function is ``sem(ops, i)`` for a decoded instruction ``i`` and is
registered under the encoding names of ``table.py``.  The modules group the
instructions as the SDM's Vol. 1 chapter 7 does.  ``helper=True`` marks the
ones that branch on run-time values (see :mod:`emu.isa.ops`).

An encoding with no semantics raises #UD in the guest and is listed by
``emu coverage``.
"""

from ...ops import Registry

REGISTRY = Registry("x86")
sem = REGISTRY.semantics

from . import alu, move, control, stack, string, muldiv, shift, bcd, system, bits  # noqa: E402,F401
