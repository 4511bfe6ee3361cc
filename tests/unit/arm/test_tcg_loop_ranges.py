"""A32 on the translator: a counted loop whose pointers step by the same
amount every pass (post- and pre-indexed writeback, up and down, any
constant stride, an index plus a register stride, STM's pairs) is given a
range test at its top -- the next passes' addresses all plain RAM, a
store's free of translated code -- and then makes those accesses with no
test.  The memory the loops write is checked against a Python model, the
registers against the interpreter; the loops where the test must fail
(translated code in the range, a device register, an unaligned word, the
end of RAM) are exactness guards, as is the budget stopping a pass
anywhere.  Programs are assembled by keystone."""

import pytest

from emu.machine import Machine
from test_tcg import CODE, assemble, run


def mov32(reg: str, value: int) -> str:
    return f"movw {reg}, #{value & 0xFFFF}\n    movt {reg}, #{value >> 16}\n"


SRC, DST, WORDS, THIRDS, REV, BLK, SIEVE, STR = (0x40100000 + 0x10000 * i for i in range(8))
TEXT = b"a string for strlen, long enough to loop a while" * 6 + b"\0"

LOOPS = f"""
    {mov32("r8", SRC)}
    mov r0, r8
    mov r1, #7
    mov r2, #1000
fill:                           @ SRC[i] = 7 + 13 * i (STRB post-indexed, +1)
    strb r1, [r0], #1
    add r1, r1, #13
    subs r2, r2, #1
    bne fill
    add r0, r8, #1
    {mov32("r1", DST + 3)}
    movw r2, #999
copy:                           @ memcpy(DST + 3, SRC + 1, 999): LDRB/STRB post-indexed
    ldrb r3, [r0], #1
    strb r3, [r1], #1
    subs r2, r2, #1
    bne copy
    {mov32("r0", WORDS)}
    {mov32("r1", 0xA5C3E1F0)}
    movw r2, #300
words:                          @ memset of 300 words: STR post-indexed, +4
    str r1, [r0], #4
    subs r2, r2, #1
    bne words
    {mov32("r0", THIRDS)}
    mov r2, #200
thirds:                         @ THIRDS[3 * (201 - n)] = n: STRB pre-indexed with writeback, +3
    strb r2, [r0, #3]!
    subs r2, r2, #1
    bne thirds
    mov r0, r8
    {mov32("r1", REV + 512)}
    mov r2, #512
rev:                            @ REV[511 - i] = SRC[i]: a store stepping down (pre-indexed, -1)
    ldrb r3, [r0], #1
    strb r3, [r1, #-1]!
    subs r2, r2, #1
    bne rev
    mov r0, r8
    {mov32("r1", BLK)}
    mov r2, #60
blk:                            @ 60 blocks of 16 bytes: LDM/STM with writeback
    ldmia r0!, {{r4-r7}}
    stmia r1!, {{r4-r7}}
    subs r2, r2, #1
    bne blk
    {mov32("r9", SIEVE)}
    mov r0, #5
    mov r3, #7
    movw r10, #3000
    mov r1, #0x5a
cross:                          @ SIEVE[5 + 7k] = 0x5a below 3000: an index stepping by a register
    strb r1, [r9, r0]
    add r0, r0, r3
    cmp r0, r10
    blo cross
    {mov32("r0", STR)}
    mov r4, #0
slen:                           @ strlen: r4 = the length + 1
    ldrb r1, [r0], #1
    add r4, r4, #1
    cmp r1, #0
    bne slen
done:
    b done
"""


def run_loops(accel: str, limit: int = 200000, asm: str = LOOPS, setup=None):
    m = Machine(board="virt", accel=accel)
    try:
        m.accel.hot_threshold = 2
        m.load_image(assemble(asm), "t", CODE, CODE)
        m.ram.load(STR, TEXT)
        if setup is not None:
            setup(m)
        m.accel.state_changed()
        m.run(icount_limit=limit)
        mem = {a: m.ram.read_bytes(a, 0x1000) for a in (SRC, DST, WORDS, THIRDS, REV, BLK, SIEVE)}
        return list(m.cpu.r), m.cpu.cpsr, mem, m.accel.stats()
    finally:
        m.close()


def model() -> dict:
    """What the loops leave in memory, worked out here."""
    src = bytes((7 + 13 * i) & 255 for i in range(1000))
    dst = bytearray(0x1000)
    dst[3:3 + 999] = src[1:]
    words = bytes.fromhex("f0e1c3a5") * 300
    thirds = bytearray(0x1000)
    for i, n in enumerate(range(200, 0, -1)):
        thirds[3 * (i + 1)] = n
    rev = bytearray(0x1000)
    rev[:512] = src[:512][::-1]
    blk = src[:960]
    sieve = bytearray(0x1000)
    for i in range(5, 3000, 7):
        sieve[i] = 0x5A
    pad = lambda b: bytes(b) + bytes(0x1000 - len(b))      # noqa: E731
    return {SRC: pad(src), DST: bytes(dst), WORDS: pad(words), THIRDS: bytes(thirds),
            REV: bytes(rev), BLK: pad(blk), SIEVE: bytes(sieve)}


def test_the_loops_write_what_the_model_says_with_their_accesses_range_tested():
    regs, cpsr, mem, stats = run_loops("tcg")
    assert mem == model()
    assert regs[4] == len(TEXT)
    assert (regs, cpsr) == run_loops("interp")[:2]
    # fill, copy, words, thirds, rev, blk (its STM), cross and slen: each a range test
    assert stats["range_tested_loops"] >= 8, stats


@pytest.mark.parametrize("limit", [3000, 3001, 3002, 3003, 7777, 7778, 7779, 7780, 12345, 20001])
def test_stopped_in_a_range_tested_loop_the_state_is_the_interpreters(limit):
    """(exactness guard) the budget ends a chunk of passes anywhere."""
    got = run_loops("tcg", limit)
    want = run_loops("interp", limit)
    assert got[:3] == want[:3]


# a loop storing words over data, then on over code that ran before, once
# a call: the range test finds translated code, the stores take the checked
# way and the code is translated again (the patched code adds 1 or 2 to
# r7, 16 times)
SMC = f"""
    mov r7, #0
    mov r6, #0
    {mov32("r5", 0xE2877001)}
again:
    bl patch
    add r6, r6, #1
    and r3, r6, #1
    add r1, r5, r3
    adr r0, pad
    mov r2, #48
over:
    str r1, [r0], #4
    subs r2, r2, #1
    bne over
    cmp r6, #40
    bne again
done:
    b done
pad:
""" + "    .word 0\n" * 32 + """
patch:
""" + "    mov r0, r0\n" * 16 + """
    bx lr
"""


def test_a_range_reaching_translated_code_takes_the_checked_way():
    """(exactness guard) call k + 1 runs the code patch k wrote."""
    got = run_loops("tcg", 100000, SMC)
    assert got[0][7] == sum(16 * (1 + (k & 1)) for k in range(1, 40))
    assert got[:2] == run_loops("interp", 100000, SMC)[:2]
    assert got[3]["invalidations"] >= 1 and got[3]["range_tested_loops"] >= 1, got[3]


def test_a_device_register_in_the_loop_takes_the_checked_way():
    """(exactness guard) a byte loop copying the string to the UART's data
    register (a constant address, outside RAM)."""
    asm = f"""
    {mov32("r0", STR)}
    {mov32("r9", 0x09000000)}
    mov r2, #60
out:
    ldrb r1, [r0], #1
    strb r1, [r9]
    subs r2, r2, #1
    bne out
done:
    b done
"""
    _regs, _cpsr, _r, _stats, text = run(asm, "tcg", 5000, hot_threshold=2,
                                        setup=lambda m: m.ram.load(STR, TEXT))
    assert text == TEXT[:60]


UNALIGNED = f"""
    {mov32("r0", SRC + 2)}
    mov r4, #0
    mov r2, #300
sum:
    ldr r1, [r0], #4
    add r4, r4, r1
    subs r2, r2, #1
    bne sum
    {mov32("r0", 0x48000000 - 600)}
    mov r5, #0
    movw r2, #1000
tail:
    ldrb r1, [r0], #1
    add r5, r5, r1
    subs r2, r2, #1
    bne tail
done:
    b done
"""


def _fill(m):
    m.ram.load(SRC, bytes((i * 11) & 255 for i in range(4096)))
    m.ram.load(0x48000000 - 600, bytes((i * 3 + 1) & 255 for i in range(600)))


def test_unaligned_words_and_the_end_of_ram_take_the_checked_way():
    """(exactness guard) word loads at an address 2 mod 4 (cortex-a15
    loads them), and a byte loop that runs off the end of RAM (128 MiB at
    0x40000000): the run stops where the interpreter's does."""
    src = bytes((i * 11) & 255 for i in range(4096))
    want_sum = sum(int.from_bytes(src[2 + 4 * i:6 + 4 * i], "little") for i in range(300)) & 0xFFFFFFFF
    got = run(UNALIGNED, "tcg", 20000, hot_threshold=2, setup=_fill)
    want = run(UNALIGNED, "interp", 20000, setup=_fill)
    assert got[0][4] == want_sum
    assert got[:2] == want[:2] and got[2].reason == want[2].reason
