"""A32 regions take in up to ``ArmFrontend.max_region_blocks`` blocks: a
loop calling a function of many small blocks (libgcc's division, here a
bit-by-bit sum: a branch ends an A32 block, so it has two per bit) runs in
one region, its calls and returns inside, instead of leaving through the
dispatcher every round.  What it computes is worked out here by hand, and
the interpreter must agree."""

from arm_harness import run_on_virt

from emu.isa.arm.ir_front import ArmFrontend

ROUNDS = 400
BITS = 12


def _source() -> str:
    # popsum(r0): the sum of k + 1 over the bits k of r0 set (r1), in 2 * BITS blocks
    body = "".join(f"    tst r0, #{1 << k}\n    beq skip{k}\n    add r1, r1, #{k + 1}\nskip{k}:\n"
                   for k in range(BITS))
    return f"""
    mov r4, #0
    mov r5, #{ROUNDS}
    movw r6, #0x79b1
    movt r6, #0x9e37
loop:
    mul r0, r5, r6
    bl popsum
    add r4, r4, r1
    subs r5, r5, #1
    bne loop
done:
    b done
popsum:
    mov r1, #0
{body}    bx lr
"""


def _want() -> int:
    # r0 = n * 0x9E3779B1 (mod 2**32): every bit varies from the first rounds
    return sum(k + 1 for n in range(1, ROUNDS + 1) for k in range(BITS)
               if (n * 0x9E3779B1) >> k & 1)


def test_the_program_needs_more_blocks_than_the_engines_default():
    from emu.accel.tcg.regions import MAX_REGION_BLOCKS
    assert MAX_REGION_BLOCKS < 2 * BITS + 6 <= ArmFrontend.max_region_blocks


def test_a_loop_calling_a_function_of_many_blocks_runs_in_one_region():
    want, icount, _ = run_on_virt(_source(), "interp", 200_000)
    assert want[4] == _want() and want[5] == 0
    got, got_icount, stats = run_on_virt(_source(), "tcg", 200_000)
    assert got == want and got_icount == icount
    assert stats["blocks_executed"] < ROUNDS // 10


# libgcc's shape: a leaf with a loop (__udivsi3: its own region first, as it
# gets hot first), a wrapper calling it (__aeabi_uidivmod: a second region
# copying the leaf), and the loop calling the wrapper, which must copy the
# leaf a third time to keep the calls inside
NESTED = """
    movw sp, #0
    movt sp, #0x4010
    mov r4, #0
    mov r5, #{rounds}
loop:
    and r0, r5, #7
    add r0, r0, #3
    bl wrap
    add r4, r4, r1
    subs r5, r5, #1
    bne loop
done:
    b done
wrap:
    push {{r0, lr}}
    bl leaf
    pop {{r0, lr}}
    add r1, r1, r0
    bx lr
leaf:
    mov r1, #0
count:
    add r1, r1, r0
    subs r0, r0, #1
    bne count
    bx lr
"""


def test_a_leaf_called_through_a_wrapper_stays_in_the_callers_region():
    asm = NESTED.format(rounds=ROUNDS)
    got = {accel: run_on_virt(asm, accel, 200_000) for accel in ("interp", "tcg")}
    # round n: x = n % 8 + 3, r1 = x (x + 1) / 2 + x
    want = sum((x := n % 8 + 3) * (x + 1) // 2 + x for n in range(1, ROUNDS + 1))
    assert got["interp"][0][4] == want
    assert got["tcg"][:2] == got["interp"][:2]
    assert got["tcg"][2]["blocks_executed"] < ROUNDS // 10
