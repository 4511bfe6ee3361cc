"""A32 on the translator: self-modifying code, MMIO from translated code,
conditional stores, ``emu translate`` on an Arm image.  Programs are
assembled by keystone; what each must compute is worked out here by hand."""

import pytest
from arm_harness import load_address, pl011_base
from keystone import KS_ARCH_ARM, KS_MODE_ARM, Ks

from emu.machine import Machine

CODE = 0x40010000


def assemble(asm: str) -> bytes:
    return bytes(Ks(KS_ARCH_ARM, KS_MODE_ARM).asm(asm, CODE)[0])


def run(asm: str, accel: str, limit: int, hot_threshold=None, setup=None, cpu=None, memory=None,
        **regs):
    m = Machine(board="virt", accel=accel, cpu=cpu, memory=memory)
    try:
        if hot_threshold is not None:
            m.accel.hot_threshold = hot_threshold
        m.load_image(assemble(asm), "t", CODE, CODE)
        if setup is not None:
            setup(m)
        for k, v in regs.items():
            m.cpu.r[int(k[1:])] = v
        m.accel.state_changed()
        r = m.run(icount_limit=limit)
        return list(m.cpu.r), m.cpu.cpsr, r, m.accel.stats(), m.serial_output()
    finally:
        m.close()


def op_opt(asm: str) -> str:
    """The optimised IR of the block at the start of ``asm`` (``emu translate``'s op_opt)."""
    from emu.accel.tcg import translate_at
    m = Machine(board="virt", accel="tcg")
    try:
        m.load_image(assemble(asm), "t", CODE, CODE)
        return translate_at(m, CODE)["op_opt"]
    finally:
        m.close()


# the loop's ADD is rewritten to ADD #2 after its first 50 rounds: r0 = 50 + 100
SMC = """
    mov r5, #0
    mov r0, #0
outer:
    mov r2, #50
inner:
    add r0, r0, #1
    subs r2, r2, #1
    bne inner
    movw r3, #0x0002
    movt r3, #0xE280
    movw r6, #0x000c
    movt r6, #0x4001
    str r3, [r6]
    add r5, r5, #1
    cmp r5, #2
    bne outer
done:
    b done
"""


@pytest.mark.parametrize("hot", [1, None])
def test_a_store_into_translated_code_invalidates_it(hot):
    regs, _, _, stats, _ = run(SMC, "tcg", 2000, hot_threshold=hot)
    assert regs[0] == 150 and regs[5] == 2
    assert stats["invalidations"] >= 1


def test_a_store_into_decoded_code_invalidates_it_on_the_interpreter():
    """RAM above address 0 (the virt board's, at 0x40000000): the decode
    cache is dropped by the page the store names."""
    regs = run(SMC, "interp", 2000)[0]
    assert regs[0] == 150 and regs[5] == 2


# a loop that keeps its counter in the word just after it, in the same
# 64-byte code granule: data, not code -- nothing is dropped
DATA_NEXT_TO_CODE = """
    adr r1, var
    mov r2, #300
loop:
    ldr r0, [r1]
    add r0, r0, r2
    str r0, [r1]
    subs r2, r2, #1
    bne loop
done:
    b done
var:
    .word 0
"""


@pytest.mark.parametrize("hot", [1, None])
def test_a_store_next_to_translated_code_keeps_it(hot):
    regs, _, _, stats, _ = run(DATA_NEXT_TO_CODE, "tcg", 3000, hot_threshold=hot)
    assert regs[0] == sum(range(1, 301)) and regs[2] == 0
    assert stats["invalidations"] == 0


def test_a_store_next_to_decoded_code_keeps_it_on_the_interpreter():
    dropped = []
    regs = run(DATA_NEXT_TO_CODE, "interp", 3000,
               setup=lambda m: m.ram.add_invalidation_listener(dropped.append))[0]
    assert regs[0] == sum(range(1, 301))
    assert dropped == []


# stores to the PL011 data register (MMIO at 0x09000000) from a translated loop
UART = pl011_base("r1") + """
    mov r2, #0x41
    mov r3, #5
loop:
    strb r2, [r1]
    add r2, r2, #1
    subs r3, r3, #1
    bne loop
done:
    b done
"""


def test_mmio_stores_from_translated_code_reach_the_device():
    regs, _, _, stats, out = run(UART, "tcg", 200, hot_threshold=1)
    assert out == b"ABCDE"
    assert stats["bails"] == 0           # each store served from the translated code
    assert regs[2] == 0x46 and regs[3] == 0


# conditional execution: predicated ALU operations, a conditional store (around)
# and a conditional branch, after flags set in the same block and in another
COND = """
    movw r6, #0x1000
    movt r6, #0x4001
    mov r0, #7
    mov r1, #7
    cmp r0, r1
    moveq r2, #1
    movne r2, #2
    addhi r3, r0, #100
    addls r3, r0, #200
    strgt r0, [r6]
    strle r1, [r6, #4]
    cmp r0, #8
    strlt r0, [r6, #8]
    mvnge r4, #0
    movlt r4, #5
    b next
next:
    subslt r7, r0, r1
    addeq r8, r7, #9
done:
    b done
"""


@pytest.mark.parametrize("hot", [1, None])
def test_conditional_execution_translated(hot):
    regs, cpsr, _, _, _ = run(COND, "tcg", 200, hot_threshold=hot)
    assert regs[2] == 1                 # 7 == 7
    assert regs[3] == 207               # LS: not higher
    assert regs[4] == 5                 # 7 < 8
    assert regs[7] == 0 and regs[8] == 9
    assert cpsr >> 28 == 0b0110         # SUBS 7 - 7: Z and C
    want = run(COND, "interp", 200)
    assert regs[:15] == want[0][:15] and cpsr == want[1]


def test_conditional_stores_are_skipped_when_the_condition_fails():
    asm = COND.replace("done:\n    b done", "    ldr r9, [r6]\n    ldr r10, [r6, #4]\n"
                       "    ldr r11, [r6, #8]\ndone:\n    b done")
    regs = run(asm, "tcg", 200, hot_threshold=1)[0]
    assert (regs[9], regs[10], regs[11]) == (0, 7, 7)     # GT failed, LE and LT held


def test_translate_shows_an_arm_block(tmp_path, capsys):
    from emu.cli import main
    image = tmp_path / "loop.bin"
    image.write_bytes(assemble("loop:\n add r0, r0, r2\n subs r2, r2, #1\n bne loop\n b loop\n"))
    assert main(["translate", "-M", "virt", str(image), "--at", hex(CODE)]) == 0
    out = capsys.readouterr().out
    in_asm = out.split("---- in_asm ----\n")[1].split("----")[0].splitlines()
    assert in_asm == [f"0x{CODE:08x}:  add r0, r0, r2", f"0x{CODE + 4:08x}:  subs r2, r2, #1",
                      f"0x{CODE + 8:08x}:  bne #0x{CODE:08x}"]
    assert "getr r2" in out and "setfl" in out and "brcond" in out
    src = out.split("---- out_asm ----\n")[1]
    assert src.startswith(f"def tb_{CODE:x}(")
    compile(src, "tb", "exec")


def test_single_stepping_translated_code_matches_the_interpreter():
    """The debugger's way (one instruction per run, -one-insn-per-tb blocks
    translated once stepped often enough): every step lands where the
    interpreter's does, with the same registers and CPSR."""
    steps = {}
    for accel in ("interp", "tcg"):
        m = Machine(board="virt", accel=accel)
        try:
            m.load_image(assemble(SMC), "t", CODE, CODE)
            m.accel.set_single_step(True)
            seq = []
            for _ in range(400):
                m.accel.run(1)
                seq.append((m.cpu.pc, tuple(m.cpu.r), m.cpu.cpsr))
            steps[accel] = seq
            if accel == "tcg":
                assert m.accel.stats()["blocks_translated"] > 0
        finally:
            m.close()
    assert steps["interp"] == steps["tcg"]
    assert steps["tcg"][-1][1][0] > 50          # through the patched loop


def test_a_condition_known_when_translated_needs_no_test():
    asm = "movs r0, #0\n moveq r1, #5\n movne r1, #6\n bne done\n add r1, r1, #1\ndone:\n b done\n"
    regs = run(asm, "tcg", 5, hot_threshold=1)[0]
    assert regs[1] == 6
    ops = op_opt(asm)
    assert "brcond" not in ops and "select" not in ops


def test_a_conditional_store_is_predicated_inside_its_block():
    """STRGT/STRLE after a comparison of registers: each a predicated store
    (``st`` with the condition as its third input), the block going on
    past them to its branch -- no exit around them."""
    ops = op_opt("cmp r0, r1\n strgt r0, [r6]\n strhle r1, [r6, #4]!\n add r2, r2, #1\n b .\n")
    stores = [ln for ln in ops.splitlines() if ln.strip().startswith(("st4", "st2"))]
    assert len(stores) == 2 and all(ln.count(",") == 2 for ln in stores), ops
    assert "brcond" not in ops
    assert ops.rstrip().splitlines()[-1].strip().startswith("goto_tb")


# a conditional byte store whose address is the PL011's DR when the
# condition holds and 0 (no device, no RAM) when it fails, and a
# conditional halfword store with writeback into RAM
PREDICATED = load_address("r6", 0x40011000) + """
    mov r0, #0x41
    mov r4, #12
loop:
    ands r5, r4, #1
    movne r3, #0x09000000
    moveq r3, #0
    cmp r5, #0
    strbne r0, [r3]
    strhne r4, [r6, #2]!
    addne r0, r0, #1
    subs r4, r4, #1
    bne loop
done:
    b done
"""


@pytest.mark.parametrize("hot", [1, None])
def test_predicated_stores_run_as_on_the_interpreter(hot):
    """A predicated store to a device bails to the interpreter (an MMIO
    exit) only when its condition holds; one whose condition fails makes
    no access at all, whatever its address; writeback only when it holds."""
    want = run(PREDICATED, "interp", 400)
    got = run(PREDICATED, "tcg", 400, hot_threshold=hot)
    assert want[4] == got[4] == b"ABCDEF"
    assert got[0][:15] == want[0][:15] and got[1] == want[1]
    assert got[0][6] == 0x40011000 + 12


# every other round the pointer is null (no RAM, no device there): the
# conditional loads (a word, a signed halfword with writeback, a pair)
# must not touch it
NULL_LOADS = load_address("r6", 0x40011000) + """
    mov r0, #0
    mov r4, #40
loop:
    ands r5, r4, #1
    movne r3, r6
    moveq r3, #0
    cmp r3, #0
    ldrne r7, [r3]
    ldrshne r8, [r3, #4]!
    ldrdne r10, r11, [r6]
    addne r0, r0, r7
    addne r0, r0, r8
    addne r0, r0, r11
    subs r4, r4, #1
    bne loop
done:
    b done
"""


def _fill(m):
    m.ram.write(0x40011000, 4, 1000)
    m.ram.write(0x40011004, 4, 0xFFF6)           # -10 as a halfword
    m.ram.write(0x40011008, 4, 0x7)


def test_a_conditional_load_from_a_null_pointer_loads_nothing():
    """The loads are predicated (made only when the pointer is not null):
    the translated loop never bails to the interpreter for the null
    rounds, and computes what the interpreter does."""
    want = run(NULL_LOADS, "interp", 2000, setup=_fill)
    got = run(NULL_LOADS, "tcg", 2000, hot_threshold=1, setup=_fill)
    assert got[0][:15] == want[0][:15] and got[1] == want[1]
    assert got[0][0] == 20 * (1000 - 10 + 0xFFF6)       # r11: the word after the first
    assert got[3]["bails"] == 0 and got[3]["helper_calls"] == 0


# register-specified shifts of a value with its top bit set by every amount
# from 0 to 47 and 250 to 255 (Rs[7:0]; bits above ignored): the results
# folded into r8-r11, flags from ADDS/SUBS (the ALU's carry) and from a MOVS
# (the shifter's carry) into r12
SHIFTS = """
    movw r0, #0x5678
    movt r0, #0x9234
    mov r2, #0
    mov r8, #0
    mov r9, #0
    mov r10, #0
    mov r11, #0
    mov r12, #0
loop:
    add r3, r2, #0x300
    eor r8, r8, r0, lsl r3
    add r9, r9, r0, lsr r3
    eor r10, r10, r0, asr r3
    add r11, r11, r0, ror r3
    adds r4, r8, r0, ror r2
    adc r12, r12, r12
    subs r4, r9, r0, lsr r2
    adc r12, r12, #0
    movs r4, r0, asr r2
    adc r12, r12, r4
    add r2, r2, #1
    cmp r2, #48
    moveq r2, #250
    cmp r2, #256
    bne loop
done:
    b done
"""


def test_register_shifts_by_every_amount_as_on_the_interpreter():
    """LSL/LSR/ASR/ROR by a register, inline where the shifter's carry is
    not needed (ADD, EOR without S; ADDS, SUBS take C from the ALU) and
    through the helper where it is (MOVS): the interpreter's results for
    amounts 0-47 and 250-255."""
    want = run(SHIFTS, "interp", 5000)
    got = run(SHIFTS, "tcg", 5000, hot_threshold=1)
    assert got[0][:15] == want[0][:15] and got[1] == want[1]
    assert want[0][2] == 256
    ops = op_opt("eor r8, r8, r0, lsl r3\n add r9, r9, r0, ror r3\n adds r4, r8, r0, lsr r2\n b .\n")
    assert "shift_c" not in ops
    assert "shift_c" in op_opt("movs r4, r0, asr r2\n b .\n")
