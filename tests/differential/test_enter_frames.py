"""ENTER with a nesting level (SDM Vol. 2A "ENTER"): the copies of the
enclosing frame pointers, on every engine, with the stack worked out here
from the SDM's pseudo-code.

The copies are reads of the stack: when one of them reads MMIO the
instruction waits for the Machine's answer and runs again, and it must not
push twice.  When a copy reads what the same ENTER has just pushed (BP equal
to SP), the SDM's order -- push, then read -- decides what is copied."""

import pytest

from emu import loader
from emu.cli import accel_available
from emu.machine import Machine

ENGINES = ["interp", "tcg", "unicorn"]

EXIT = """
    mov al, 0
    out 0xf4, al
"""

# SS:SP = FFFF:0010 (RAM just below 1 MiB), BP = 0x100: the copies read
# FFFF:00FE and FFFF:00FC, linear 0x1000EE and 0x1000EC -- past the end of a
# 1 MiB RAM, unassigned MMIO that reads as all ones
MMIO_COPIES = """
    mov ax, 0xffff
    mov ss, ax
    mov sp, 0x0010
    mov bp, 0x0100
    enter 4, 3
""" + EXIT

# BP = SP: the first copy reads the word the ENTER pushed just before
SELF_COPY = """
    xor ax, ax
    mov ss, ax
    mov sp, 0x8000
    mov bp, sp
    enter 0, 2
""" + EXIT


def _run(src, accel, memory):
    ok, why = accel_available(accel)
    if not ok:
        pytest.skip(why)
    m = Machine(accel=accel, memory=memory)
    m.load_image(loader.assemble(src, "<enter>", 0x7C00).data)
    r = m.run(icount_limit=1000)
    assert r.reason == "debug-exit", r.message
    return m


@pytest.mark.parametrize("accel", ENGINES)
def test_enter_whose_copies_read_mmio_pushes_once(accel):
    m = _run(MMIO_COPIES, accel, 1 << 20)
    try:
        s = m.cpu.snapshot()
        # push BP, two copies, the frame (SP after the first push), then 4 bytes
        assert s["rsp"] & 0xFFFF == 0x10 - 2 - 2 * 2 - 2 - 4
        assert s["rbp"] & 0xFFFF == 0x0E
        words = [m.ram.read(0xFFFF0 + off, 2) for off in (0x0E, 0x0C, 0x0A, 0x08)]
        assert words == [0x0100, 0xFFFF, 0xFFFF, 0x000E]
        assert m.stats.by_reason.get("MMIO") == 2
    finally:
        m.close()


@pytest.mark.parametrize("accel", ENGINES)
def test_enter_copies_what_it_pushed_where_bp_is_sp(accel):
    m = _run(SELF_COPY, accel, 16 << 20)
    try:
        s = m.cpu.snapshot()
        assert s["rsp"] & 0xFFFF == 0x8000 - 2 - 2 - 2
        assert s["rbp"] & 0xFFFF == 0x7FFE
        assert [m.ram.read(a, 2) for a in (0x7FFE, 0x7FFC, 0x7FFA)] == [0x8000, 0x8000, 0x7FFE]
    finally:
        m.close()
