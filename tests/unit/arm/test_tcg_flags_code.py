"""A32 on the translator: what the generated code does with the CPSR and
with addresses.  The flags of a loop are left unevaluated on its passes
when nothing reads them (a comparison at its bottom, or flags that the
next pass sets again); the CPSR's other bits are part of the block key, so
a helper that changes them (MSR) gets code translated for the new value;
an address that wraps past 2^32 still reaches the memory it names.
Programs are assembled by keystone; the interpreter is the judge."""

import io
import re

import pytest

from emu.machine import Machine

from test_tcg import CODE, assemble, op_opt, run


def region_source(asm: str, limit: int, setup=None, cpu=None, hot_threshold=None, **regs) -> str:
    """The -d out_asm text of the regions translated while ``asm`` runs
    (``setup(machine)`` first, if given; the translator's ``hot_threshold``
    when given: a short run whose loop must get hot)."""
    log = io.StringIO()
    m = Machine(board="virt", accel="tcg", cpu=cpu, log=log, log_flags=["out_asm"])
    if hot_threshold is not None:
        m.accel.hot_threshold = hot_threshold
    try:
        m.load_image(assemble(asm), "t", CODE, CODE)
        if setup is not None:
            setup(m)
        for k, v in regs.items():
            m.cpu.r[int(k[1:])] = v
        m.accel.state_changed()
        m.run(icount_limit=limit)
    finally:
        m.close()
    text = log.getvalue()
    assert "OUT: [region" in text
    return text


def flag_stores_in_passes(text: str) -> list:
    """The lines of the regions that compute the CPSR on a path that goes
    round a loop again (the next statement at their level is ``continue``)."""
    return _flag_stores_before(text, "continue")


def _flag_stores_before(text: str, jump: str) -> list:
    """The lines of the regions that compute the CPSR where the first jump
    that follows at their level (``continue``, ``break`` or ``pc = ...``)
    starts with ``jump``."""
    found = []
    for region in text.split("OUT: [region")[1:]:
        lines = region.split("g = CCG[e]")[0].splitlines()
        for k, ln in enumerate(lines):
            if not ln.lstrip().startswith("cc_fl =") or "S.cpsr" in ln:
                continue
            ind = len(ln) - len(ln.lstrip())
            after = [x.strip() for x in lines[k + 1:] if len(x) - len(x.lstrip()) == ind]
            jumps = [x for x in after if x.startswith(("continue", "break", "pc ="))]
            if jumps and jumps[0].startswith(jump):
                found.append(ln.strip())
    return found


# a byte fill ending in CMP/BLO: the store may bail, so the flags are read
# at the top of every pass -- as expressions over r2 and r10, never stored
FILL = """
    movw r8, #0
    movt r8, #0x4010
    mov r1, #7
    mov r2, #0
    mov r10, #200
fill:
    strb r1, [r8, r2]
    add r2, r2, #1
    cmp r2, r10
    blo fill
done:
    b done
"""

# CRC-32's bit step: MOVS sets N Z C, SUBS all four; no pass reads the
# flags the one before left
CRC = """
    movw r7, #0x8320
    movt r7, #0xedb8
    mvn r0, #0
    mov r2, #200
bit:
    movs r0, r0, lsr #1
    eorcs r0, r0, r7
    subs r2, r2, #1
    bne bit
done:
    b done
"""


@pytest.mark.parametrize("asm", [FILL, CRC], ids=["cmp-at-the-bottom", "flags-set-again"])
def test_a_loop_computes_no_flags_on_its_passes(asm):
    assert flag_stores_in_passes(region_source(asm, 1000)) == []
    want = run(asm, "interp", 1000)
    got = run(asm, "tcg", 1000, hot_threshold=1)
    assert got[:2] == want[:2]


# the loop sets flags; between its runs MSR flips CPSR.F (bit 6), which no
# translated instruction writes: each run must leave the bit as MSR set it
TOGGLE = """
    mov r4, #5
outer:
    mov r2, #30
inner:
    adds r3, r2, r4
    subs r2, r2, #1
    bne inner
    mrs r0, cpsr
    eor r0, r0, #0x40
    msr cpsr_c, r0
    subs r4, r4, #1
    bne outer
    mrs r5, cpsr
done:
    b done
"""


def test_the_cpsr_beyond_the_flags_is_what_the_helpers_left():
    want_regs, want_cpsr = run(TOGGLE, "interp", 2000)[:2]
    regs, cpsr = run(TOGGLE, "tcg", 2000, hot_threshold=1)[:2]
    assert not want_cpsr & 0x40                 # set at reset, flipped five times
    assert (regs, cpsr) == (want_regs, want_cpsr)


# loads and stores whose base + offset wraps past 2^32 (or below 0) into RAM
WRAP = """
    mov r3, #20
loop:
    ldr r0, [r1, r2]
    str r0, [r1, r2]!
    sub r1, r1, r2
    ldr r4, [r5, -r6]
    ldm r7, {r8, r9}
    subs r3, r3, #1
    bne loop
done:
    b done
"""


def test_an_address_that_wraps_reaches_the_memory_it_names():
    regs = dict(r1=0x80000000, r2=0xC0010000,      # 0x1_40010000: the code's first word
                r5=0x00000004, r6=0xBFFEFFFC + 4,  # 4 - 0xBFFF0000 + 2^32 = 0x40010004
                r7=0xFFFFFFFC)                     # r8 from 0xFFFFFFFC, r9 from 0 (unmapped)
    want = run(WRAP, "interp", 400, **regs)
    got = run(WRAP, "tcg", 400, hot_threshold=1, **regs)
    assert want[0][0] == int.from_bytes(assemble(WRAP)[:4], "little")
    assert got[:2] == want[:2]


# a scan (gcc's strchr-like loop): the loaded word is compared at the bottom;
# its flags name the register the load wrote, so they stay expressions
SCAN = """
    movw r3, #0
    movt r3, #0x4002
    mov r0, #0
    movw r2, #300
scan:
    ldr r1, [r3, #4]!
    cmp r1, r2
    add r0, r0, #1
    blt scan
done:
    b done
"""


def test_a_loop_comparing_what_it_loads_computes_no_flags_on_its_passes():
    def setup(m):
        m.ram.load(0x40020000, b"".join((3 * k).to_bytes(4, "little") for k in range(200)))
    assert flag_stores_in_passes(region_source(SCAN, 1000, setup=setup)) == []
    want = run(SCAN, "interp", 1000, setup=setup)
    got = run(SCAN, "tcg", 1000, hot_threshold=1, setup=setup)
    assert want[0][0] == 100 and got[:2] == want[:2]

# a count-down loop whose load may bail: SUBS's flags are read at the top of
# every pass, as expressions over the counter it leaves in r2
COUNT = """
    movw r0, #0
    movt r0, #0x4001
    mov r2, #200
loop:
    ldrb r1, [r0], #1
    subs r2, r2, #1
    bne loop
done:
    b done
"""


def test_a_count_down_loop_computes_no_flags_on_its_passes():
    assert flag_stores_in_passes(region_source(COUNT, 1000)) == []


# ADDS/SUBS of a register and an immediate into itself, across the carry and
# overflow boundaries: each flag's passes summed by conditional adds
COUNTERS = """
    mov r3, #60
loop:
    adds r2, r2, #0x30000000
    addcs r6, r6, r3
    addvs r7, r7, r3
    addmi r8, r8, r3
    subs r4, r4, #0x50000000
    addcs r9, r9, r3
    addvs r10, r10, r3
    addeq r11, r11, r3
    addmi r12, r12, r3
    adds r5, r5, #0
    addcs r1, r1, #1
    subs r5, r5, #1
    addcs r0, r0, r3
    subs r3, r3, #1
    bne loop
done:
    b done
"""


def test_flags_of_a_register_counting_by_an_immediate():
    regs = dict(r2=0x10000000, r4=0x20000000, r5=0)
    want = run(COUNTERS, "interp", 2000, **regs)
    got = run(COUNTERS, "tcg", 2000, hot_threshold=1, **regs)
    assert all(want[0][k] for k in (0, 6, 7, 8, 9, 10, 12))    # C, V and N each seen
    assert got[:2] == want[:2]


# LDM/STM and LDRD/STRD move two words with one access; STMIA of a pair
# whose second word is the loop's ADD (the first granule of its own, after
# a word of data) rewrites it to ADD #2 after its first 50 rounds
PAIRS = """
    b main
    .space 0x78
data:
    .word 0
inner:
    add r0, r0, #1
    subs r2, r2, #1
    bne inner
    b back
main:
    mov r0, #0
    mov r5, #0
    movw r6, #0x007c
    movt r6, #0x4001
    mov r3, #0x11
    movw r7, #0x0002
    movt r7, #0xE280
outer:
    mov r2, #50
    b inner
back:
    stmia r6, {r3, r7}
    ldmia r6, {r8, r9}
    ldrd r10, r11, [r6]
    strd r10, r11, [r6, #-16]
    push {r0, r2, r3, r5, r7}
    pop {r1, r2, r3, r4, r12}
    add r5, r5, #1
    cmp r5, #2
    bne outer
done:
    b done
"""


def test_word_pairs_move_as_the_interpreter_moves_them():
    want = run(PAIRS, "interp", 3000, r13=0x40020000)
    got = run(PAIRS, "tcg", 3000, hot_threshold=1, r13=0x40020000)
    assert want[0][0] == 150 and want[0][8:10] == [0x11, 0xE2800002]
    assert got[:2] == want[:2]
    assert got[3]["invalidations"] >= 1


def test_a_zero_extension_by_two_shifts_is_one_mask():
    asm = ("mov r5, r1, lsl #16\n mov r5, r5, lsr #16\n mov r6, r2, lsl #8\n mov r6, r6, lsr #8\n"
           "done:\n b done\n")
    ops = op_opt(asm)
    assert "shl" not in ops and "shr" not in ops
    regs = dict(r1=0xDEADBEEF, r2=0x89ABCDEF)
    got = run(asm, "tcg", 4, hot_threshold=1, **regs)[0]
    assert got[5:7] == [0xBEEF, 0xABCDEF]


# words at aligned, misaligned and end-of-RAM addresses in one loop, each
# read back by the next pass (or after the loop): r1 is aligned, r2 = r1 + 1
# (misaligned: a cortex-a15 loads and stores it; the ARM7TDMI's LDR rotates
# it, the interpreter's business), r3 points at RAM's last word (the one
# test of an aligned word's address lets it in)
WORDS = """
    mov r4, #20
loop:
    ldr r0, [r1, #4]
    add r0, r0, r4
    str r0, [r1, #4]
    ldr r5, [r2, #8]
    add r5, r5, r0
    str r5, [r2, #8]
    ldrh r6, [r2]
    strh r6, [r1, #16]
    push {r0, r5}
    pop {r7, r8}
    ldr r9, [r3]
    str r9, [r1, #20]
    subs r4, r4, #1
    bne loop
    ldr r10, [r1, #16]
    ldr r11, [r1, #20]
done:
    b done
"""


@pytest.mark.parametrize("cpu", ["cortex-a15", "arm7tdmi"])
def test_aligned_words_go_through_rams_typed_views(cpu):
    def setup(m):
        m.ram.load(0x40020020, bytes(range(1, 17)))
    regs = dict(r1=0x40020000, r2=0x40020021, r3=0x40000000 + (128 << 20) - 4, r13=0x40030000)
    text = region_source(WORDS, 400, setup=setup, cpu=cpu, hot_threshold=16, **regs)
    # a word the loop reads and writes at an aligned address, and the stack's
    # words: the PUSH a run of stores, the POP a run of loads, each tested once
    assert "W4[" in text and "W4[sx" in text and "W4[ix" in text
    want = run(WORDS, "interp", 400, setup=setup, cpu=cpu, **regs)
    got = run(WORDS, "tcg", 400, hot_threshold=1, setup=setup, cpu=cpu, **regs)
    assert want[0][5] != 0 and want[0][10] != 0 and got[:2] == want[:2]


def test_words_in_ram_whose_size_is_no_power_of_two():
    # 96 MiB: the end of RAM is tested apart from the alignment; r3 at its last word
    regs = dict(r1=0x40020000, r2=0x40020021, r3=0x40000000 + (96 << 20) - 4, r13=0x40030000)
    want = run(WORDS, "interp", 400, memory=96 << 20, **regs)
    got = run(WORDS, "tcg", 400, hot_threshold=1, memory=96 << 20, **regs)
    assert want[0][5] != 0 and got[:2] == want[:2]


# an index shifted left into an address or a sum cut to 32 bits: its
# mask is not needed (the address leaves RAM without it, the sum wraps
# the same); an index of 2^30 + 1 wraps back into RAM and reaches it
SHIFTED_BODY = """
    ldr r0, [r6, r12, lsl #2]
    str r0, [r6, r12, lsl #2]!
    sub r6, r6, r12, lsl #2
    add r9, r6, r14, lsl #2
    rsb r10, r6, r14, lsl #3
    ldr r11, [r6, -r14, lsl #2]
"""
SHIFTED = "    mov r3, #20\nloop:" + SHIFTED_BODY + """
    subs r3, r3, #1
    bne loop
done:
    b done
"""


def masked_shifts(ir: str) -> list:
    """The temps of optimised IR ``ir`` that mask a left shift to 32 bits."""
    shl = {ln.split(" = ")[0].strip() for ln in ir.splitlines() if " = shl " in ln}
    return [ln.strip() for ln in ir.splitlines()
            if " = and " in ln and "$0xffffffff" in ln and ln.split(" = and ")[1].split(",")[0] in shl]


def test_a_shifted_index_needs_no_mask_and_still_wraps():
    assert masked_shifts(op_opt(SHIFTED_BODY + "done:\n b done\n")) == []
    regs = dict(r6=0x40020000, r12=0x40000001, r14=0xC0000001)   # 4 * r12 = 2^32 + 4
    want = run(SHIFTED, "interp", 400, **regs)
    got = run(SHIFTED, "tcg", 400, hot_threshold=1, **regs)
    assert want[0][0] == 0 and want[0][9] == 0x40020004
    assert got[:2] == want[:2]


# loads whose value goes straight into the register's local: one whose
# address reads the register it loads (a pointer chain), one post-indexed
# by it, one while flags over the old value are still to be read, and one
# of the UART's flag register (it bails: the interpreter runs it, the
# register as it was before)
LOADS = """
    mov r4, #20
loop:
    ldr r3, [r3]
    ldrb r1, [r0], r1
    cmp r1, #0x80
    ldr r1, [r2, #4]!
    addhi r5, r5, #1
    cmp r7, #0x90
    ldr r7, [r8]
    addeq r9, r9, #1
    ldrsb r6, [r2, #1]
    add r5, r5, r6
    subs r4, r4, #1
    bne loop
done:
    b done
"""


def test_a_loaded_value_goes_straight_into_its_register():
    def setup(m):
        m.ram.load(0x40020000, bytes((37 * k + 11) & 0xFF for k in range(4096)))
        m.ram.load(0x40030000, b"".join((0x40030000 + 4 * ((5 * k + 3) % 64)).to_bytes(4, "little")
                                        for k in range(64)))
    regs = dict(r0=0x40020000, r1=3, r2=0x40020800, r3=0x40030000, r7=0x90, r8=0x09000018)
    text = region_source(LOADS, 600, setup=setup, hot_threshold=16, **regs)
    # every word load assigns its register (the byte LDRSB sign-extends: a temporary)
    into = re.findall(r"(\w+) = (?:W4\[|U4\(MM)", text)
    assert into and all(x in ("r1", "r3", "r7") for x in into)
    assert re.search(r"\br1 = MM\[", text)
    want = run(LOADS, "interp", 600, setup=setup, **regs)
    got = run(LOADS, "tcg", 600, hot_threshold=1, setup=setup, **regs)
    assert want[0][5] != 0 and want[0][9] != 0 and got[:2] == want[:2]


def flag_stores_on_jumps(text: str) -> list:
    """The lines of the regions that compute the CPSR on a path that jumps
    to another section of the region (it sets ``pc``)."""
    return _flag_stores_before(text, "pc =")


# naive recursive Fibonacci: the CMP at the top of fib sets the flags, and
# the returns jump to the sections after the BLs, whose POP may bail --
# the flags are live there, but only an exit reads them
FIB = """
    movw sp, #0
    movt sp, #0x4010
    mov r0, #11
    bl fib
done:
    b done
fib:
    cmp r0, #2
    movlo r2, r0
    bxlo lr
    push {r6, lr}
    sub r0, r0, #1
    bl fib
    sub r0, r0, #1
    mov r6, r2
    bl fib
    add r0, r0, #2
    add r2, r2, r6
    pop {r6, pc}
"""

# a bubble sort's pass: the conditional stores end the block, and the block
# after them starts with a condition on the flags of the CMP before
BSORT = """
    movw r2, #0
    movt r2, #0x4010
    movw r7, #0
    movt r7, #0x4010
    mov r10, #24
outer:
    mov r2, r7
    mov r1, #1
    mov r11, #0
inner:
    ldrsh lr, [r2]
    ldrsh r12, [r2, #2]!
    add r1, r1, #1
    cmp lr, r12
    movgt r11, #1
    strhgt lr, [r2]
    strhgt r12, [r2, #-2]
    cmp r1, r10
    blt inner
    cmp r11, #0
    beq done
    sub r10, r10, #1
    cmp r10, #1
    bne outer
done:
    b done
"""


def _bsort_data(m):
    m.ram.load(0x40100000, b"".join(((i * 7919 + 13) % 65536).to_bytes(2, "little") for i in range(24)))


def test_a_jump_between_sections_carries_the_flags_operands_not_the_cpsr():
    text = region_source(FIB, 3000)
    assert flag_stores_on_jumps(text) == []
    assert "cc_fl, ca0 = -1, " in text          # the CMP's operand, carried


@pytest.mark.parametrize("limit", [37 * k + 11 for k in range(0, 60, 7)] + [100000])
@pytest.mark.parametrize("asm, setup", [(FIB, None), (BSORT, _bsort_data)], ids=["fib", "bsort"])
def test_carried_flags_are_exact_wherever_the_run_stops(asm, setup, limit):
    want = run(asm, "interp", limit, setup=setup)
    got = run(asm, "tcg", limit, setup=setup, hot_threshold=2)
    assert got[:2] == want[:2]
    assert got[2].icount == want[2].icount


# a byte copy through post-indexed LDRB/STRB, and a pre-indexed LDR with
# write-back, then PUSH/POP: every base written back follows an access that
# found its address in RAM
COPY = """
    movw r0, #0
    movt r0, #0x4010
    movw r1, #0x100
    movt r1, #0x4010
    movw sp, #0x400
    movt sp, #0x4010
    mov r2, #64
copy:
    ldrb r3, [r0], #1
    strb r3, [r1], #1
    ldr r4, [r0, #-1]!
    push {r3, r4}
    pop {r5, r6}
    ldrb r7, [r0, #1]!
    subs r2, r2, #1
    bne copy
done:
    b done
"""


def test_a_base_written_back_after_an_access_to_ram_needs_no_wrap_test():
    text = region_source(COPY, 2000)
    wraps = re.findall(r"if (r\d+) [<>] [-\d]+: ", text)
    assert not {"r0", "r1", "r13"} & set(wraps)
    want = run(COPY, "interp", 2000)
    got = run(COPY, "tcg", 2000, hot_threshold=2)
    assert got[:2] == want[:2]


@pytest.mark.parametrize("ram, wraps", [((0x40000000, 0x48000000), ()), ((0, 1 << 20), ("sub",)),
                                        (((1 << 32) - (1 << 20), 1 << 32), ("add",))],
                         ids=["virt", "at-0", "up-to-4G"])
def test_a_written_back_base_is_reduced_where_ram_reaches_an_end_of_the_space(ram, wraps):
    """8 below or above an address in RAM: reduced modulo 2^32 (an ``and``)
    only where that can leave the 32-bit space."""
    from emu.ir.ir import IRBlock
    from emu.isa.arm.ir_front import ArmIRBuilder
    from emu.isa.arm.models import get_model
    b = ArmIRBuilder(IRBlock(0x40010000, 0x40010000), get_model("cortex-a15"), 0x1D3, ram)
    for name, lo, hi in (("sub", -8, 0), ("add", 0, 8)):
        v = b.near(name, b.reg(13), 8, lo, hi)
        assert (v.op.name == "and") is (name in wraps)


# a search down a chain of nodes {left, right, key, count}: the MOVHI after
# the LDM reads C and Z of the CMP in the block before
FIND = """
    movw r5, #0
    movt r5, #0x4010
    mov r8, #40
    mov r12, #1
outer:
    mov r3, r5
find:
    ldr r2, [r3, #8]
    cmp r2, r12
    beq found
    ldm r3, {r2, r3}
    movhi r3, r2
    cmp r3, #0
    bne find
found:
    add r12, r12, #7
    subs r8, r8, #1
    bne outer
done:
    b done
"""


def _nodes(m):
    def node(i):
        return 0x40100000 + 16 * i if i < 16 else 0
    m.ram.load(0x40100000, b"".join(
        b"".join(v.to_bytes(4, "little") for v in (node(i + 1), node(i + 2), i * 37 % 64, i))
        for i in range(16)))


def test_flags_read_twice_from_the_block_before_are_computed_once():
    text = region_source(FIND, 3000, setup=_nodes)
    # the CMP's CPSR word sets C with ``<< 29``: no statement builds it twice
    assert max(ln.count("<< 29") for ln in text.splitlines()) <= 1
    for limit in (97, 613, 3000):
        want = run(FIND, "interp", limit, setup=_nodes)
        got = run(FIND, "tcg", limit, setup=_nodes, hot_threshold=2)
        assert got[:2] == want[:2]


# ARMv4's word and halfword stores are made at the address rounded down and
# reduced modulo 2^32: a base + offset that wraps into RAM stores there, and
# the base written back is the unreduced sum reduced, not kept as it is
V4_WRAP = """
    str sp, [r4, r7, lsl #30]!
    strh sp, [r5, r6]!
    str sp, [r8], r9
done:
    b done
"""


def test_an_armv4_store_whose_address_wraps_writes_back_its_base_reduced():
    regs = dict(r4=0x80000000, r7=0xFFFFFFFF,            # 0x80000000 + 0x3FFFFFFFC0000000
                r5=0xC0000000, r6=0x80000100,            # 0x1_40000100
                r8=0x40000200, r9=0xFFFFFFFC, r13=0x1234)
    want = run(V4_WRAP, "interp", 3, cpu="arm7tdmi", **regs)
    got = run(V4_WRAP, "tcg", 3, cpu="arm7tdmi", hot_threshold=1, **regs)
    assert want[0][4] == 0x40000000 and want[0][5] == 0x40000100
    assert got[:2] == want[:2]


# every condition read at the start of a block, from flags a block before
# set: for each of the 16 N Z C V values, r0-r13 record which conditions held
CONDS = """
    mov r14, #0
next:
    mov r0, r14, lsl #28
    msr cpsr_f, r0
    b test
test:
    mov r0, #0
    mov r1, #0
    mov r2, #0
    mov r3, #0
    mov r4, #0
    mov r5, #0
    mov r6, #0
    mov r7, #0
    mov r8, #0
    mov r9, #0
    mov r10, #0
    mov r11, #0
    mov r12, #0
    mov r13, #0
    b conds
conds:
    moveq r0, #1
    movne r1, #1
    movcs r2, #1
    movcc r3, #1
    movmi r4, #1
    movpl r5, #1
    movvs r6, #1
    movvc r7, #1
    movhi r8, #1
    movls r9, #1
    movge r10, #1
    movlt r11, #1
    movgt r12, #1
    movle r13, #1
    add r14, r14, #1
    cmp r14, #16
    bne next
done:
    b done
"""


@pytest.mark.parametrize("limit", [23 + 35 * k for k in range(16)] + [10000])
def test_conditions_at_the_start_of_a_block_hold_as_the_flags_say(limit):
    want = run(CONDS, "interp", limit)
    got = run(CONDS, "tcg", limit, hot_threshold=1)
    assert got[:2] == want[:2]


def test_a_condition_on_the_cpsr_word_is_a_mask_of_it():
    text = op_opt("movhi r3, r2\nmovgt r4, r2\n b .")
    assert "shr" not in text


# read-modify-write of one address (a byte at a register offset, a word
# stored back with write-back): the store reuses the load's check
RMW = """
    mov r3, #40
loop:
    ldrb r0, [r1, r2]
    add r0, r0, #3
    strb r0, [r1, r2]
    ldr r4, [r7]
    add r4, r4, r3
    str r4, [r7], #4
    add r2, r2, #1
    subs r3, r3, #1
    bne loop
done:
    b done
"""


def test_a_store_to_the_address_just_loaded_tests_it_in_ram_once():
    regs = dict(r1=0x40020000, r2=0, r7=0x40030000)
    text = region_source(RMW, 300, hot_threshold=16, **regs)
    body = text.split("OUT: [region")[1]
    loads = re.findall(r"= (?:MM\[|W4\[|U4\(MM, )(p\d+)", body)
    stores = re.findall(r"(?:MM\[|W4\[|P4\(MM, )(p\d+)(?:\]| >> 2\]|,)[^\n]* = |P4\(MM, (p\d+)", body)
    assert loads and stores
    # a store indexes RAM with the local its load computed and tested
    assert {s[0] or s[1] for s in stores} <= set(loads)
    assert "(r1 + r2) - " in body and body.count("(r1 + r2) - ") == body.count("MM[p") // 2
    want = run(RMW, "interp", 300, **regs)
    got = run(RMW, "tcg", 300, hot_threshold=2, **regs)
    assert got[:2] == want[:2]


def test_a_condition_after_a_predicated_comparison_reads_its_flag_alone():
    # libgcc's __udivsi3 normalising loop: CMPCC's C is a choice of the two
    # comparisons, not a bit of the chosen CPSR word
    text = op_opt("cmp r1, #0x10000000\ncmpcc r1, r0\nlslcc r1, r1, #4\nbcc .")
    after = text.split("insn 2")[1]
    assert "$0x20000000" not in after
    assert after.count("select") == 1        # the LSL's; the condition is C's select


# predicated flag setters of every kind (N Z C V, N Z C from the shifter,
# N Z alone) after a comparison, each chain read by every condition; r0-r13
# count the conditions that held over a sweep of r5 and r6 values
PREDICATED_FLAGS = """
    mov r14, #0
    movw r5, #0xfffd
    movt r5, #0x7fff
    mov r6, #3
next:
    mov r0, #0
    mov r1, #0
    mov r2, #0
    mov r3, #0
    mov r4, #0
    cmp r5, #0x40000000
    cmpcc r5, r6
    addshi r8, r5, r6
    tstls r6, #1
    movsne r9, r6, lsr #1
    adcseq r10, r5, r5
    muls r11, r5, r6
    teqmi r5, r6
    cmnpl r6, #5
    addeq r0, r0, #1
    addhs r1, r1, #1
    addmi r2, r2, #1
    addvs r3, r3, #1
    addgt r4, r4, #1
    addhi r0, r0, #2
    addge r1, r1, #2
    addle r2, r2, #2
    addlt r3, r3, #2
    addls r4, r4, #2
    add r12, r12, r0
    add r12, r12, r1, lsl #3
    add r12, r12, r2, lsl #6
    add r12, r12, r3, lsl #9
    add r12, r12, r4, lsl #12
    add r5, r5, #0x1d000000
    add r5, r5, #0x8d
    sub r6, r6, r5, ror #7
    add r14, r14, #1
    cmp r14, #120
    bne next
done:
    b done
"""


@pytest.mark.parametrize("limit", [17, 45, 301, 1203, 10000])
def test_predicated_flag_setters_leave_the_flags_the_interpreter_does(limit):
    want = run(PREDICATED_FLAGS, "interp", limit)
    got = run(PREDICATED_FLAGS, "tcg", limit, hot_threshold=1)
    assert got[:2] == want[:2]


# PUSH and POP of many registers in a loop: the stack's words are runs,
# each tested once (aligned, in RAM, in the region's code-free window);
# where SP is misaligned, at the end of RAM or next to the loop's own code
# the run's test fails and the interpreter makes the access
STACK_RUNS = """
    mov r4, #30
loop:
    add r0, r4, #1
    add r1, r4, #2
    add r2, r4, #3
    push {r0, r1, r2, r4, lr}
    add r4, r4, #0
    pop {r5, r6, r7, r8, r9}
    add r10, r10, r5
    add r10, r10, r7
    stmdb sp!, {r5, r6}
    ldmia sp!, {r11, r12}
    add r10, r10, r12
    subs r4, r4, #1
    bne loop
done:
    b done
"""


@pytest.mark.parametrize("sp", [0x40030000, 0x40030002, 0x40000000 + (128 << 20) + 8, 0x40010040],
                         ids=["aligned", "misaligned", "past-the-end-of-ram", "next-to-the-code"])
def test_runs_of_stack_words_are_made_as_the_interpreter_makes_them(sp):
    regs = dict(r13=sp, r10=0, r14=0x1234)
    want = run(STACK_RUNS, "interp", 500, **regs)
    got = run(STACK_RUNS, "tcg", 500, hot_threshold=1, **regs)
    assert got[:2] == want[:2]
    assert want[0][10] != 0


# a struct copy (LDM then STM of another base): the LDM's words are a run
# tested once wherever the struct lies -- never a pair through ``struct``
# at an address that is 4 mod 8
COPY = """
    mov r9, #24
loop:
    ldm r1, {r2, r3, r4, r5}
    add r2, r2, r9
    stm r6, {r2, r3, r4, r5}
    ldm r6!, {r7, r8}
    add r10, r10, r7
    add r10, r10, r8
    subs r9, r9, #1
    bne loop
done:
    b done
"""


@pytest.mark.parametrize("src", [0x40020000, 0x40020004, 0x40020002, 0x40000000 + (128 << 20) - 8])
def test_the_words_of_a_load_multiple_are_one_run(src):
    def setup(m):
        m.ram.load(0x40020000, bytes(range(7, 7 + 32)))
    regs = dict(r1=src, r6=0x40030000, r10=0)
    if src == 0x40020004:
        text = region_source(COPY, 300, setup=setup, hot_threshold=4, **regs)
        assert "W4[ix" in text and "U8(" not in text
    want = run(COPY, "interp", 300, setup=setup, **regs)
    got = run(COPY, "tcg", 300, hot_threshold=1, setup=setup, **regs)
    assert got[:2] == want[:2]
    assert want[0][10] != 0

