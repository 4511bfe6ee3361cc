"""A32 on the translator: a loop whose two arms (a branch over the other
arm, and a fall-through) are as long and both close it with the same
SUBS/BNE is counted by one ``range``, its outer loop restarting the count
once a trip; stopped by the instruction budget anywhere, the run stops at
the interpreter's instruction with the interpreter's registers and CPSR.
Programs are assembled by keystone; the interpreter is the judge."""

import re

import pytest

from test_tcg import run
from test_tcg_flags_code import region_source

ARMS = """
    mov r0, #0
    mov r1, #0
    movw r4, #12345
    mov r3, #20
outer:
    mov r2, #50
top:
    eor r4, r4, r4, lsl #13
    eor r4, r4, r4, lsr #17
    eor r4, r4, r4, lsl #5
    tst r4, #1
    beq even
    add r0, r0, r4
    b join
even:
    eor r0, r0, r4, lsr #3
    add r1, r1, #1
join:
    subs r2, r2, #1
    bne top
    subs r3, r3, #1
    bne outer
done:
    b done
"""


def state(accel: str, limit: int):
    regs, cpsr, r, _stats, _out = run(ARMS, accel, limit)
    return regs, cpsr, r.reason


@pytest.mark.parametrize("limit", [300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310,
                                   4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 4008, 9000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit):
    assert state("tcg", limit) == state("interp", limit)


def test_the_arms_of_one_length_are_counted_by_one_range():
    text = region_source(ARMS, 9000)
    assert re.search(r"for left in range\(left, \d+, -9\):", text), text
