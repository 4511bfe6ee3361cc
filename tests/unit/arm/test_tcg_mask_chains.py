"""A32 on the translator: a multiply-accumulate or a sum whose result the
same block adds to or multiplies again is masked to 32 bits once, at the
end of the chain (:func:`emu.ir.optimize.strip_masks`) -- and still
computes what the interpreter computes, which a Python model of each
program checks too.  Programs are assembled by keystone."""

import random
import re

import pytest

from test_tcg import op_opt, run

M32 = 0xFFFFFFFF

# a step of a 32-bit LCG on 16-bit halves (three MULs, an MLA, an ADD of
# the product's high half, an ADDS/ADC pair): every intermediate sum masked
CHAIN = """
    mul r0, r4, r8
    mul r1, r4, r9
    mla r1, r5, r8, r1
    add r1, r1, r0, lsr #16
    sub r1, r1, r6
    mul r2, r1, r7
    add r2, r2, r3
    adds r0, r10, r0, lsl #16
    adc r1, r1, #0
    b .
"""


def masks(text: str) -> int:
    return len(re.findall(r"= and t\d+, \$0xffffffff", text))


def test_a_chain_of_sums_and_products_is_masked_once_at_its_end():
    """r1's MUL, MLA, ADD and SUB: one mask, at the SUB (read twice: by
    the MUL and the ADC); r2's MUL and ADD one; r0's three (the MUL's and
    the LSL's, each read twice, the ADDS's) and the ADC's -- where each
    sum's and product's own was there too (10 masks)."""
    assert masks(op_opt(CHAIN)) == 6


def model_chain(r):
    r = list(r)
    r[0] = r[4] * r[8] & M32
    r[1] = r[4] * r[9] & M32
    r[1] = (r[5] * r[8] + r[1]) & M32
    r[1] = (r[1] + (r[0] >> 16)) & M32
    r[1] = (r[1] - r[6]) & M32
    r[2] = r[1] * r[7] & M32
    r[2] = (r[2] + r[3]) & M32
    s = r[10] + (r[0] << 16 & M32)
    r[0], c = s & M32, s >> 32
    r[1] = (r[1] + c) & M32
    return r


@pytest.mark.parametrize("seed", range(6))
def test_the_chain_computes_what_the_interpreter_and_the_model_compute(seed):
    rnd = random.Random(seed)
    regs = {f"r{i}": rnd.choice((0, 1, M32, 0x80000000, rnd.getrandbits(32))) for i in
            (3, 4, 5, 6, 7, 8, 9, 10)}
    want = model_chain([regs.get(f"r{i}", 0) for i in range(16)])
    got = {}
    for accel in ("interp", "tcg"):
        r, cpsr, res, _, _ = run(CHAIN, accel, 9, hot_threshold=1, **regs)
        got[accel] = (r[:11], cpsr, res.icount)
    assert got["tcg"] == got["interp"]
    assert got["tcg"][0] == want[:11]


# a 64-bit multiply-accumulate loop: acc (r5:r4) += x * x + c (UMULL, UMLAL,
# ADDS/ADC), x (r2) = x * 69069 + 1 by MLA, the running sum r6 of the
# products' low words, r7 = r7 * 3 - x: sums and products the loop keeps in
# registers, each wrapping modulo 2^32 every few rounds
MAC = """
    mov r4, #0
    mov r5, #0
    mov r6, #0
    mov r7, #1
loop:
    umull r0, r1, r2, r2
    umlal r0, r1, r2, r9
    adds r4, r4, r0
    adc r5, r5, r1
    mla r2, r2, r8, r10
    add r6, r6, r0
    add r6, r6, r2, lsl #3
    add r7, r7, r7, lsl #1
    sub r7, r7, r2
    subs r3, r3, #1
    bne loop
done:
    b done
"""


def model_mac(x: int, n: int, c: int):
    acc, s, t = 0, 0, 1
    for _ in range(n):
        p = (x * x + x * c) & (1 << 64) - 1
        acc = (acc + p) & (1 << 64) - 1
        x = (x * 69069 + 1) & M32
        s = (s + (p & M32) + (x << 3)) & M32
        t = (t * 3 - x) & M32
    return acc, x, s, t


@pytest.mark.parametrize("x,c", [(1, 7), (0xDEADBEEF, 0xFFFFFFFF), (0xFFFFFFFF, 0x12345)])
def test_a_64_bit_multiply_accumulate_loop_runs_as_its_model(x, c):
    n = 300
    limit = 5 + 11 * n
    regs = dict(r2=x, r3=n, r8=69069, r9=c, r10=1)
    r_i, cpsr_i, res_i, _, _ = run(MAC, "interp", limit, **regs)
    r_t, cpsr_t, res_t, stats, _ = run(MAC, "tcg", limit, hot_threshold=1, **regs)
    acc, xx, s, t = model_mac(x, n, c)
    assert (r_t[4] | r_t[5] << 32, r_t[2], r_t[6], r_t[7]) == (acc, xx, s, t)
    assert (r_t, cpsr_t, res_t.icount) == (r_i, cpsr_i, res_i.icount)
    assert stats["helper_calls"] == 0
