"""A value an instruction both writes to a register and uses again, computed
into the register's local at once.

LOOP decrements rCX and branches on the new count (SDM Vol. 2A "LOOP/LOOPcc"):
the count goes straight into CX's local and the branch tests that local,
with no temporary between.  Only pure code comes between the computation and
the instruction's end, so nothing sees the new CX early: stopped anywhere by
the instruction budget, or by the MMIO access in the loop, the state is the
interpreter's."""

import pytest

from tests.differential.translated import machine, stop_state, tcg_regions

GUEST = """
    xor ax, ax
    mov ds, ax
    mov bx, 0x500
    mov cx, 200
again:
    add ax, cx
    mov [bx], al
    inc bx
    loop again
    mov cx, 3
    mov dx, 0x3f8
say:
    mov al, 0x41
    out dx, al                  ; the UART, from inside a loop
    loop say
    hlt
"""


def run(accel, limit, log=None):
    with machine(GUEST, accel, 1 << 20, log) as m:
        r = m.run(icount_limit=limit)
        return stop_state(m, r) + (m.ram.read_bytes(0x500, 200), m.serial_output())


@pytest.mark.parametrize("limit", [70, 71, 72, 73, 400, 801, 810, 811, 100_000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit):
    assert run("tcg", limit) == run("interp", limit)


def test_the_count_goes_straight_into_cx():
    regions = tcg_regions(run, 100_000)
    for code in regions:
        # (the branch corrects a count that went below zero: _fold_borrow)
        assert "r1 = r1 - 1\n" in code and "if r1 > 0 or r1 and (r1 := r1 + 65536):" in code
        assert not any(line.strip().startswith("t") and "(r1 - 1)" in line for line in code.splitlines())
