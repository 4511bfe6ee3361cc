"""The grader's architectures by the name a spec gives (``assignment.arch``):
each one's :class:`emu.grade.target.Arch` (:mod:`emu.grade.x86`,
:mod:`emu.grade.arm`)."""

from __future__ import annotations

from .arm import ARCH as ARM
from .target import Arch
from .x86 import ARCH as X86

ARCHES = {"x86": X86, "arm": ARM}


def get_arch(name: str) -> Arch:
    """The grader's part for ``assignment.arch`` ``name``."""
    arch = ARCHES.get(name)
    if arch is None:
        raise ValueError(f"no grader for architecture '{name}'; expected one of: "
                         f"{', '.join(ARCHES)}")
    return arch
