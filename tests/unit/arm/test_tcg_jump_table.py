"""A32 jump tables in a region: a computed PC that is not a return (``LDRLS
pc, [pc, r3, LSL #2]``, ``ADDLS pc, pc, r3, LSL #2``, ``BX r2``) is an
indirect jump (``ArmFrontend.jumps_indirectly``), so the region of the loop
around it takes in the blocks of its page that have run -- the most run
first -- and the switch's cases run inside it instead of each leaving
through the dispatcher.  What each program computes is worked out here by
hand, and the interpreter must agree."""

import pytest
from arm_harness import run_on_virt

ROUNDS = 600

# a start-up loop that runs once (it must not crowd the cases out of the
# region), then a switch on i & 3 in a loop of ROUNDS rounds: case k adds
# k + 1 to its own counter (r4..r7), so each ends at ROUNDS / 4 * (k + 1)
SWITCH = """
    mov r0, #0
    mov r1, #40
init:
    add r0, r0, #1
    subs r1, r1, #1
    bne init
    mov r4, #0
    mov r5, #0
    mov r6, #0
    mov r7, #0
    mov r8, #{rounds}
loop:
    and r3, r8, #3
    cmp r3, #3
    {dispatch}
case0:
    add r4, r4, #1
    b next
case1:
    add r5, r5, #2
    b next
case2:
    add r6, r6, #3
    b next
case3:
    add r7, r7, #4
next:
    subs r8, r8, #1
    bne loop
done:
    b done
"""

TABLE = """
    ldrls pc, [pc, r3, lsl #2]
    b next
    .word case0
    .word case1
    .word case2
    .word case3
"""


def _source(form: str) -> str:
    if form == "ldr":
        return SWITCH.replace("    {dispatch}\n", TABLE).format(rounds=ROUNDS)
    if form == "add":
        # ADDLS pc, pc, r3, LSL #2 into a table of branches
        return SWITCH.replace("    {dispatch}\n", """
    addls pc, pc, r3, lsl #2
    b next
    b case0
    b case1
    b case2
    b case3
""").format(rounds=ROUNDS)
    # BX through a register loaded from the table
    return SWITCH.replace("    {dispatch}\n", """
    adr r2, table
    ldr r2, [r2, r3, lsl #2]
    bx r2
table:
    .word case0
    .word case1
    .word case2
    .word case3
""").format(rounds=ROUNDS)


@pytest.mark.parametrize("form", ["ldr", "add", "bx"])
def test_a_switch_runs_inside_its_region(form):
    asm = _source(form)
    want, icount, _ = run_on_virt(asm, "interp", 20_000)
    q = ROUNDS // 4
    assert want[4:8] == [q, 2 * q, 3 * q, 4 * q] and want[8] == 0
    got, got_icount, stats = run_on_virt(asm, "tcg", 20_000)
    assert got == want and got_icount == icount
    # the dispatcher is entered a few times in all, not once per round
    assert stats["blocks_executed"] < ROUNDS // 10
