"""A32 on the translator: a conditional write before a conditional return
on the same condition (``MOVLO r1, r0; BXLO lr``, gcc's early return) is
made on the return path alone (:func:`emu.ir.optimize.sink_selects`), not
as a select on both; a recursive Ackermann function full of them runs as
on the interpreter and as its Python model.  Programs are assembled by
keystone."""

import re

import pytest

from test_tcg import op_opt, run
from test_tcg_flags_code import region_source

LEAF = """
    cmp r0, #2
    movlo r1, r0
    movlo r2, #7
    movhs r3, r0
    bxlo lr
    add r1, r1, #1
    b .
"""


def test_a_write_on_the_returns_condition_is_made_after_the_branch():
    """r1 and r2 are written on the return path only (after the branch
    that goes round the BXLO), r3 -- written when the branch is taken --
    stays a select before it."""
    text = op_opt(LEAF)
    before, after = text.split("brcond", 1)
    assert re.findall(r"setr r(\d+)", before) == ["3"]
    assert re.findall(r"setr r(\d+)", after.split("exit_tb")[0]) == ["1", "2"]
    assert len(re.findall(r"= select ", text)) == 1


FIB = """
    mov r0, #12
    bl fib
done:
    b done
fib:
    cmp r0, #2
    movlo r1, r0
    bxlo lr
    push {r4, lr}
    sub r0, r0, #1
    bl fib
    mov r4, r1
    sub r0, r0, #1
    bl fib
    add r1, r1, r4
    add r0, r0, #2
    pop {r4, pc}
"""


def test_the_recursive_fib_region_chooses_no_value_on_its_entry():
    """No conditional expression in the region: the leaf's r1 = r0 is on
    its return path."""
    text = region_source(FIB, 20000, r13=0x40030000)
    assert " if (" not in text.split("g = CCG[e]")[0].replace("if (p", "")
    assert re.search(r"^\s+r1 = r0$", text, re.M)


# Ackermann's function by recursion: an early return on m == 0 (ADDEQ
# r0, r1, #1; BXEQ lr), a tail call's arguments by MOVEQ, a call count in r5
ACK = """
    bl ack
done:
    b done
ack:
    add r5, r5, #1
    cmp r0, #0
    addeq r0, r1, #1
    bxeq lr
    push {r4, lr}
    mov r4, r0
    cmp r1, #0
    moveq r1, #1
    beq last
    sub r1, r1, #1
    bl ack
    mov r1, r0
last:
    sub r0, r4, #1
    bl ack
    pop {r4, pc}
"""


def model_ack(m: int, n: int) -> tuple:
    """(A(m, n), the number of calls), without Python's recursion."""
    calls, stack = 0, [m]
    while stack:
        m = stack.pop()
        calls += 1
        if m == 0:
            n += 1
        elif n == 0:
            stack.append(m - 1)
            n = 1
        else:
            stack.append(m - 1)
            stack.append(m)
            n -= 1
    return n, calls


@pytest.mark.parametrize("hot", [1, None])
@pytest.mark.parametrize("m,n", [(0, 5), (1, 7), (2, 9), (3, 3)])
def test_ackermann_runs_as_its_model(m, n, hot):
    want, calls = model_ack(m, n)
    limit = 40 * calls + 10
    regs = dict(r0=m, r1=n, r5=0, r13=0x40100000)
    ri, ci, resi, _, _ = run(ACK, "interp", limit, **regs)
    rt, ct, rest, stats, _ = run(ACK, "tcg", limit, hot_threshold=hot, **regs)
    assert (rt[0], rt[5]) == (want, calls)
    assert (rt, ct, rest.icount) == (ri, ci, resi.icount)
    assert stats["helper_calls"] == 0
