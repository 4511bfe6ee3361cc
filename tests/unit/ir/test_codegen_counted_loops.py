"""A region's self-looping section counted by ``for left in range(...)``.

The budget of a pass along the loop's counted path back is the range's
step, so that path neither charges nor tests it; the loop's ``else:`` is
the budget exit that path would have made.  Other paths back (an outer
loop inlined into the section, the other arm of a JNC) charge and test the
budget and start the count again.  Stopped by the instruction budget
anywhere -- on either path, in the inner or the outer loop -- the run
stops at the interpreter's instruction with the interpreter's state
(flags included: DEC's record is stored only at the exits)."""

import pytest

from tests.differential.translated import machine, stop_state, tcg_regions

GUEST = """
    xor ax, ax
    mov ds, ax
    mov dx, 0x1234
    mov bp, 20
pass:
    mov cx, 300
again:
    add ax, cx                  ; the inner loop: 5 instructions a pass
    xor bx, ax
    inc bx
    dec cx
    jnz again
    mov si, 40
bits:
    shr dx, 1                   ; two paths back: 4 or 5 instructions
    jnc no_xor
    xor dx, 0xa001
no_xor:
    dec si
    jnz bits
    dec bp
    jnz pass
    mov [0x500], ax
    mov [0x502], bx
    mov [0x504], dx
    hlt
"""


def run(accel, limit, log=None):
    with machine(GUEST, accel, 1 << 20, log) as m:
        r = m.run(icount_limit=limit)
        return stop_state(m, r) + (m.ram.read_bytes(0x500, 6),)


@pytest.mark.parametrize("limit", [1700, 1701, 1702, 1703, 3137, 3139, 4413, 4414, 8002,
                                   30001, 30002, 30003, 30004, 31500, 31502, 100_000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit):
    assert run("tcg", limit) == run("interp", limit)


def test_the_loops_are_counted():
    want = run("interp", 100_000)
    assert want[0] == "halt"
    regions = tcg_regions(run, 100_000)
    # the loops on their own, then the nest: every loop is counted
    assert all("for left in range(left, " in code for code in regions)
    assert regions[-1].count("for left in range(left, ") >= 2
    assert run("tcg", 100_000) == want
