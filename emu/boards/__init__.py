"""Boards: memory map and wiring only (which device sits where, which IRQ).

Addresses follow QEMU so a guest built for QEMU runs unchanged.  A board
module's ``TARGET`` is its Target, or the Target's name in
:mod:`emu.isa`'s registry (a board that must not import its architecture).  The
registry below is the one list of boards: ``-M NAME`` looks a board up in
it and ``-M help`` prints it, as QEMU's ``-machine help`` lists its machine
types.  Each board module names its Target (``TARGET``), declares its
memory map (``MEMORY_MAP``) and builds, resets and loads a Machine.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    """A range of guest-physical addresses and what sits there."""
    name: str
    base: int
    size: int


@dataclass(frozen=True)
class MemoryMap:
    """Where RAM starts and its default size (``-m``), and the MMIO regions
    the board's devices occupy (none on ``pc``: its devices are on ports)."""
    ram_base: int
    ram_size: int
    mmio: tuple = ()


@dataclass(frozen=True)
class BoardInfo:
    name: str
    summary: str            # the line -M help prints
    module: str             # emu.boards.<module>, imported when the board is used


BOARDS = {
    "pc": BoardInfo("pc", "x86 PC as a BIOS leaves it for a boot sector: image at 0000:7C00, "
                    "real mode, COM1, isa-debug-exit, PIC, PIT, virtio-console (default)", "pc"),
    "virt": BoardInfo("virt", "Arm virt as QEMU's -M virt (32-bit): RAM at 0x40000000, "
                      "PL011 UART, GICv2, Arm semihosting with -semihosting", "virt"),
    "x86-none": BoardInfo("x86-none", "empty machine (QEMU's -M none) with an x86 CPU at reset: "
                          "RAM only, no devices (ports read all ones); the test vectors' machine",
                          "x86_none"),
    "arm-none": BoardInfo("arm-none", "empty machine (QEMU's -M none) with an Arm CPU at reset: "
                          "its memory replays a recording (reads return the recorded values, "
                          "writes are kept); the ARM test vectors' machine", "arm_none"),
}


def board_help() -> dict:
    """name -> summary, for -M help."""
    return {name: info.summary for name, info in BOARDS.items()}


def board_target(board):
    """The Target a board module runs (emu.isa.target.Target): its
    ``TARGET``, the Target itself or its name in the registry."""
    from ..isa import get_target
    return get_target(board.TARGET) if isinstance(board.TARGET, str) else board.TARGET


def get_board(name: str):
    """The board module for ``-M name``."""
    info = BOARDS.get(name)
    if info is None:
        raise ValueError(f"unknown machine '-M {name}'; expected one of: {', '.join(BOARDS)}")
    return importlib.import_module(f"{__name__}.{info.module}")
