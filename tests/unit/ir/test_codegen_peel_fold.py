"""A loop whose only flag work is INC/DEC keeping a CF already known.

``xor; inc; dec; jnz`` (the classic integer loop): XOR clears CF, INC and
DEC keep it (SDM Vol. 2A "INC", "DEC"), so fl is ``fl & ~CF`` at the bottom
of every pass.  The region's loop is peeled: its first pass stores nothing
for fl, and the loop after it starts and ends every pass with that same
expression, so it stores nothing either; every exit stores it.  Stopped
anywhere by the instruction budget, the state is the interpreter's."""

import pytest

from tests.differential.translated import machine, stop_state, tcg_regions

GUEST = """
    xor ax, ax
    xor bx, bx
    mov cx, 300
    stc                         ; CF set: the loop's XOR clears it
again:
    add ax, cx
    xor bx, ax
    inc bx
    dec cx
    jnz again
    hlt
"""


def run(accel, limit, log=None):
    with machine(GUEST, accel, 1 << 20, log) as m:
        r = m.run(icount_limit=limit)
        return stop_state(m, r)


@pytest.mark.parametrize("limit", [103, 104, 105, 106, 107, 600, 1201, 100_000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit):
    assert run("tcg", limit) == run("interp", limit)


def test_the_peeled_loop_stores_no_flags():
    regions = tcg_regions(run, 100_000)
    for code in regions:
        loops = code.split("while True:")
        assert len(loops) >= 3                  # the region's, the first pass's, the loop's
        loop = loops[-1].split("e >= 0")[0]     # the peeled loop, up to its leaving
        assert "cc_fl =" not in loop and "cc_" not in loop
