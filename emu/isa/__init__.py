"""Guest architectures, one package each (``emu/isa/<arch>/``), and the
registry of their Target objects (:mod:`emu.isa.target`), found by name and
imported only when asked for, as the engines are (``emu.accel.base``)."""

from __future__ import annotations

import importlib

#: architecture name -> the module holding its ``TARGET``
TARGETS = {"x86": "emu.isa.x86.target", "arm": "emu.isa.arm.target"}


def get_target(name: str):
    """The Target of architecture ``name``."""
    module = TARGETS.get(name)
    if module is None:
        raise ValueError(f"unknown architecture '{name}'; expected one of: {', '.join(TARGETS)}")
    return importlib.import_module(module).TARGET
